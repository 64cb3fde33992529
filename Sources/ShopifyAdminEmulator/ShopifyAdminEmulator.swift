import Foundation
import HTTPTypes
import Hummingbird

/// Builds a router serving the Admin GraphQL endpoint and `/_emulator/*`, to run alone or be mounted by another server.
public func buildShopifyAdminEmulatorRouter(
    configuration: ShopifyEmulatorConfiguration = .init(),
    state: ShopifyEmulatorState? = nil
) -> Router<BasicRequestContext> {
    let router = Router()
    addShopifyAdminEmulatorRoutes(to: router, state: state ?? ShopifyEmulatorState(configuration: configuration))
    return router
}

/// Builds a standalone emulator application (port 0 picks a free port; `onServerRunning` receives it).
/// Pass `state` to keep a handle for inspecting and changing the shop from tests.
public func buildShopifyAdminEmulatorApplication(
    configuration: ShopifyEmulatorConfiguration = .init(),
    state: ShopifyEmulatorState? = nil,
    host: String = "127.0.0.1",
    port: Int = 0,
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) -> some ApplicationProtocol {
    let state = state ?? ShopifyEmulatorState(configuration: configuration)
    return Application(
        router: buildShopifyAdminEmulatorRouter(configuration: state.configuration, state: state),
        configuration: .init(address: .hostname(host, port: port), serverName: "ShopifyAdminEmulator"),
        onServerRunning: { channel in
            let bound = channel.localAddress?.port ?? port
            // A wildcard address is no use in a URL; then the request's Host header is used instead.
            if host != "0.0.0.0" && host != "::" {
                let printable = host.contains(":") ? "[\(host)]" : host
                await state.setServerBaseURL("http://\(printable):\(bound)")
            }
            await onServerRunning(bound)
        }
    )
}

/// Adds the GraphQL endpoint and the inspection routes to any router.
public func addShopifyAdminEmulatorRoutes<Context: RequestContext>(to router: Router<Context>, state: ShopifyEmulatorState) {
    router.post("/admin/api/:version/graphql.json") { request, context -> Response in
        let version = context.parameters.get("version") ?? ""
        guard isSupportedAPIVersion(version) else {
            return emulatorResponse(ShopifyEmulatorResponse(status: 404, body: ["errors": "Not Found"]))
        }
        guard let body = await collectEmulatorBody(request, limit: 1 << 20) else {
            return emulatorResponse(ShopifyEmulatorResponse(status: 413, body: ["errors": "Request body is larger than 1 MB"]))
        }
        let token = HTTPField.Name("X-Shopify-Access-Token").flatMap { request.headers[$0] }
        let answer = await state.handleGraphQL(
            apiVersion: version, accessToken: token, contentType: request.headers[.contentType], body: body,
            requestHost: request.head.authority
        )
        return emulatorResponse(answer)
    }
    EmulatorInspectionRoutes(state: state).add(to: router)
}

/// `2025-01`, `2026-07`, … (quarterly releases) or `unstable`.
func isSupportedAPIVersion(_ version: String) -> Bool {
    if version == "unstable" { return true }
    let parts = version.split(separator: "-")
    guard parts.count == 2, parts[0].count == 4, let year = Int(parts[0]), year >= 2019, ["01", "04", "07", "10"].contains(String(parts[1])) else {
        return false
    }
    return true
}

func collectEmulatorBody(_ request: Request, limit: Int) async -> Data? {
    var request = request
    guard let buffer = try? await request.collectBody(upTo: limit) else { return nil }
    return Data(buffer.readableBytesView)
}

func emulatorResponse(_ response: ShopifyEmulatorResponse) -> Response {
    var headers = HTTPFields()
    headers[.contentType] = "application/json; charset=utf-8"
    for (name, value) in response.headers {
        if let field = HTTPField.Name(name) { headers[field] = value }
    }
    return Response(
        status: HTTPResponse.Status(code: response.status),
        headers: headers,
        body: ResponseBody(byteBuffer: ByteBuffer(bytes: response.body.bytes()))
    )
}

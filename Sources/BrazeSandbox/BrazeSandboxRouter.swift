import Foundation
import HTTPTypes
import Hummingbird

/// Builds a router serving the Braze endpoints and `/_sandbox/*`, to run alone or be mounted by the server.
public func buildBrazeSandboxRouter(
    configuration: BrazeSandboxConfiguration = .init(),
    state: BrazeSandboxState? = nil
) -> Router<BasicRequestContext> {
    let router = Router()
    addBrazeSandboxRoutes(to: router, state: state ?? BrazeSandboxState(configuration: configuration))
    return router
}

/// Builds a standalone sandbox application (port 0 picks a free port; `onServerRunning` receives it).
public func buildBrazeSandboxApplication(
    configuration: BrazeSandboxConfiguration = .init(),
    state: BrazeSandboxState? = nil,
    host: String = "127.0.0.1",
    port: Int = 0,
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) -> some ApplicationProtocol {
    Application(
        router: buildBrazeSandboxRouter(configuration: configuration, state: state),
        configuration: .init(address: .hostname(host, port: port), serverName: "BrazeSandbox"),
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? port) }
    )
}

/// Adds the Braze endpoints and the inspection routes to any router.
public func addBrazeSandboxRoutes<Context: RequestContext>(to router: Router<Context>, state: BrazeSandboxState) {
    let maxBody = state.configuration.limits.maxBodyBytes
    for endpoint in BrazeEndpoint.allCases {
        let route = RouterPath(endpoint.path.replacingOccurrences(of: "{catalog_name}", with: ":catalog_name"))
        router.on(route, method: HTTPRequest.Method(rawValue: endpoint.method) ?? .post) { request, context -> Response in
            guard let body = await collectBody(request, limit: maxBody) else {
                return jsonResponse(await state.refuseOversized(endpoint: endpoint, path: request.uri.path))
            }
            let latency = await state.latencyMs()
            if latency > 0 { try? await Task.sleep(for: .milliseconds(latency)) }
            let result = await state.handle(
                endpoint: endpoint,
                path: request.uri.path,
                authorization: request.headers[.authorization],
                body: body,
                catalogName: context.parameters.get("catalog_name").map { $0.removingPercentEncoding ?? $0 }
            )
            return jsonResponse(result)
        }
    }
    InspectionRoutes(state: state).add(to: router)
}

func collectBody(_ request: Request, limit: Int) async -> Data? {
    var request = request
    guard let buffer = try? await request.collectBody(upTo: limit) else { return nil }
    return Data(buffer.readableBytesView)
}

func jsonResponse(_ response: SandboxResponse) -> Response {
    var headers = HTTPFields()
    headers[.contentType] = "application/json"
    for (name, value) in response.headers {
        if let field = HTTPField.Name(name) { headers[field] = value }
    }
    return Response(
        status: HTTPResponse.Status(code: response.status),
        headers: headers,
        body: ResponseBody(byteBuffer: ByteBuffer(bytes: response.body.encoded()))
    )
}

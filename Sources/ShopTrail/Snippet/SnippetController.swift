import Hummingbird
import NIOCore

/// The admin endpoints that hand out a shop's storefront kit, behind `Authorization: Bearer {admin token}`:
/// `GET /v1/shops/{domain}/snippet.liquid[?inline=1]` (it embeds the shop's snippet secret) and
/// `GET /v1/shops/{domain}/pixel.js`.
public struct SnippetController: Sendable {
    public let config: ShopTrailConfig
    /// nil: no token was configured or created, and the endpoints answer 503 rather than serve unguarded.
    public let adminToken: Secret?

    public init(config: ShopTrailConfig, adminToken: Secret?) {
        self.config = config
        self.adminToken = adminToken
    }

    public func addRoutes<Context: RequestContext>(to router: Router<Context>) {
        router.get("/v1/shops/:domain/snippet.liquid") { request, context in
            try self.answer(request, domain: context.parameters.get("domain")) { shop throws(SnippetError) in
                let inline = request.uri.queryParameters.get("inline").map { ["1", "true", "yes"].contains($0) }
                return ("text/plain; charset=utf-8", try SnippetGenerator(config: self.config).snippet(for: shop, inline: inline))
            }
        }
        router.get("/v1/shops/:domain/pixel.js") { request, context in
            try self.answer(request, domain: context.parameters.get("domain")) { shop throws(SnippetError) in
                ("application/javascript; charset=utf-8", try PixelGenerator(config: self.config).pixel(for: shop))
            }
        }
    }

    func answer(_ request: Request, domain: String?, make: (ShopConfig) throws(SnippetError) -> (String, String)) throws(APIError) -> Response {
        try AdminToken.require(request, token: adminToken, basic: false)
        guard let domain, let shop = config.shop(domain: domain) else {
            throw APIError(.notFound, "unknown_shop", "no shop '\(IncomingBatch.truncate(domain ?? ""))' in the configuration", field: "domain")
        }
        let contentType: String, body: String
        do throws(SnippetError) {
            (contentType, body) = try make(shop)
        } catch {
            throw APIError(.unprocessableContent, "cannot_generate", error.message)
        }
        // The snippet can carry a secret: no shared cache may keep it.
        let headers: HTTPFields = [.contentType: contentType, .cacheControl: "no-store"]
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}

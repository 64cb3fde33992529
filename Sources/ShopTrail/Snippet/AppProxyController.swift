import Hummingbird

/// `POST /proxy/v1/batch`: beacons that reached the shop's own domain at
/// `/{subpath_prefix}/{subpath}/v1/batch` and that Shopify forwarded here, signed, through the App Proxy.
///
/// Configure the app's proxy URL as `{server.public_url}/proxy`. The request is trusted only after
/// the signature verifies with the shop's `shopify.api_secret`; then `logged_in_customer_id` is
/// recorded with every event in the log's `verified` column, which no request body can write (see `ServerContext`).
public struct AppProxyController: Sendable {
    public static let path = "/proxy/v1/batch"
    let ingest: BeaconIngest

    public init(collector: CollectorController) { self.ingest = BeaconIngest(collector: collector) }

    public func addRoutes<Context: RequestContext>(to router: Router<Context>) {
        router.post(RouterPath(stringLiteral: Self.path)) { request, _ in await self.receive(request) }
    }

    func receive(_ request: Request) async -> Response {
        let identity: AppProxyIdentity
        do throws(APIError) {
            identity = try Self.identity(request, config: ingest.collector.config, now: ingest.collector.clock.now() / 1000)
        } catch {
            ingest.collector.logger.debug("app proxy request refused", metadata: ["error": .string(error.code)])
            return error.plainResponse()
        }
        return await ingest.ingest(request, source: .storefront, authorize: { shop throws(APIError) in
            guard shop.domain == identity.shop else {
                throw APIError(.forbidden, "shop_mismatch", "the write_key belongs to \(shop.domain), but the App Proxy request is for \(identity.shop)", field: "write_key")
            }
        }, verified: ServerContext.verified(identity))
    }

    /// The shop and customer of a request Shopify forwarded through the App Proxy, signature verified
    /// with the shop's `shopify.api_secret` (beacons and SDK tokens alike).
    static func identity(_ request: Request, config: ShopTrailConfig, now: Int64) throws(APIError) -> AppProxyIdentity {
        // `shop` only picks the secret to verify with; nothing is trusted until the signature matches.
        let claimed = AppProxySignature.parse(request.uri.query ?? "").first { $0.name == "shop" }?.value ?? ""
        guard let shop = config.shop(domain: claimed), shop.appProxy != nil, let secret = shop.shopify.apiSecret else {
            throw APIError(.forbidden, "app_proxy_not_configured", "shop '\(IncomingBatch.truncate(claimed))' has no app_proxy in the configuration", field: "shop")
        }
        return try AppProxySignature.verify(query: request.uri.query, secrets: [secret], now: now)
    }
}

import Foundation
import Hummingbird
import Logging
import NIOCore

/// SDK Authentication tokens for the Braze Web SDK, handed out only through a verified channel:
///
/// - `POST /v1/braze/token` with `{"write_key": …, "customer": {id, email, ts, sig}}`: the customer
///   the shop's Liquid render signed (the same claim and the same verifier as the collector's);
/// - `POST /proxy/v1/braze/token`: reached through the shop's App Proxy, signed by Shopify, naming
///   `logged_in_customer_id` (a signed page customer in the body may add its email when it is the same customer).
///
/// The answer is `{"external_id", "token", "expires_at"}` for that customer only, `ExternalId` deciding
/// the id as everywhere else. Anonymous visitors, refused claims and shops without `web_sdk` get a
/// 4xx with a JSON reason. Nothing from the request other than that evidence can name the user.
public struct BrazeTokenController: Sendable {
    public static let path = "/v1/braze/token"
    public static let proxyPath = "/proxy/v1/braze/token"
    /// A token request is one small JSON object.
    static let maxBodyBytes = 4096

    let config: ShopTrailConfig
    let clock: any WallClock
    let rateLimits: BeaconRateLimits?
    let logger: Logger
    let minters: [String: SDKTokenMinter]
    private let anyShopOrigins: Set<String>

    public init(config: ShopTrailConfig, clock: any WallClock, rateLimits: BeaconRateLimits? = nil, logger: Logger) {
        self.config = config
        self.clock = clock
        self.rateLimits = rateLimits
        self.logger = logger
        var minters: [String: SDKTokenMinter] = [:]
        for shop in config.shops { if let sdk = shop.braze.webSDK { minters[shop.domain] = SDKTokenMinter(config: sdk) } }
        self.minters = minters
        self.anyShopOrigins = Set(config.shops.flatMap(\.allowedOrigins))
    }

    public func addRoutes<Context: RemoteAddressRequestContext>(to router: Router<Context>) {
        router.post(RouterPath(stringLiteral: Self.path)) { request, context in
            await self.direct(request, clientIP: ClientAddress.of(request, remote: context.remoteAddress, trustForwardedFor: self.rateLimits?.trustForwardedFor ?? false))
        }
        router.post(RouterPath(stringLiteral: Self.proxyPath)) { request, _ in await self.proxied(request) }
    }

    func direct(_ request: Request, clientIP: String? = nil) async -> Response {
        let origin = request.headers[.origin]
        // Browsers may read the answer (and the error) only on an origin some shop allows.
        let cors: HTTPFields = origin.flatMap { anyShopOrigins.contains($0) ? [.accessControlAllowOrigin: $0, .vary: "Origin"] : nil } ?? [:]
        do throws(APIError) {
            let body = try await Self.body(request)
            let writeKey = body["write_key"]?.stringValue ?? ""
            guard let shop = config.shop(writeKey: writeKey) else {
                throw APIError(.unauthorized, "unknown_write_key", "write_key '\(IncomingBatch.truncate(writeKey))' belongs to no shop", field: "write_key")
            }
            if let origin, !shop.allows(origin: origin) {
                throw APIError(.forbidden, "origin_not_allowed", "origin \(IncomingBatch.truncate(origin)) is not in allowed_origins of \(shop.domain)")
            }
            // Signing costs an RSA operation: token requests spend the same budgets as events.
            try rateLimits?.spend(events: 1, clientIP: clientIP, writeKey: shop.writeKey, now: clock.now())
            return Self.answer(try await issue(shop: shop, verified: nil, body: body), headers: cors)
        } catch {
            var error = error
            for field in cors { error.headers.append(field) }
            return refuse(error)
        }
    }

    func proxied(_ request: Request) async -> Response {
        do throws(APIError) {
            let identity = try AppProxyController.identity(request, config: config, now: clock.now() / 1000)
            guard let shop = config.shop(domain: identity.shop) else {
                throw APIError(.forbidden, "app_proxy_not_configured", "no shop '\(IncomingBatch.truncate(identity.shop))' in the configuration", field: "shop")
            }
            let body = try await Self.body(request, emptyIsObject: true)
            // The same shape the collector stores in the `verified` column, so one reader judges both.
            let customer: JSONValue = identity.loggedInCustomerId.map { .string($0) } ?? .null
            let verified = JSONObject([(ServerContext.appProxyKey, .object(JSONObject([("shop", .string(identity.shop)), ("logged_in_customer_id", customer)])))])
            return Self.answer(try await issue(shop: shop, verified: verified, body: body), headers: [:])
        } catch {
            return refuse(error)
        }
    }

    /// The token for the customer the evidence names, or why there is none.
    func issue(shop: ShopConfig, verified: JSONObject?, body: JSONObject) async throws(APIError) -> SDKAuthToken {
        guard let minter = minters[shop.domain] else {
            throw APIError(.notFound, "web_sdk_not_enabled", "\(shop.domain) has no braze.web_sdk in the configuration")
        }
        let context = body["customer"].map { JSONObject([("customer", $0)]) }
        let (claim, refused) = CustomerClaims.read(verified: verified, context: context, receivedAt: clock.now(), shop: shop.domain,
                                                   snippetSecret: shop.snippetSecret)
        if let refused {
            throw APIError(.forbidden, refused.rawValue, "the customer claim was refused (\(refused.rawValue)); no token", field: "customer")
        }
        guard let claim else {
            throw APIError(.forbidden, "anonymous", "no verified customer: anonymous visitors get no token")
        }
        var customer = Customer(shop: shop.domain, id: claim.customerId)
        customer.email = claim.email
        guard let externalId = ExternalId.of(customer, strategy: shop.braze.externalId) else {
            throw APIError(.forbidden, "no_external_id", "the verified customer has no \(shop.braze.externalId.rawValue) to derive the external id from")
        }
        do {
            return try await minter.mint(externalId: externalId, now: Date(timeIntervalSince1970: Double(clock.now()) / 1000))
        } catch {
            logger.error("sdk token signing failed", metadata: ["shop": .string(shop.domain), "error": "\(type(of: error))"])
            throw APIError(.serviceUnavailable, "signing_failed", "the token could not be signed")
        }
    }

    private func refuse(_ error: APIError) -> Response {
        logger.debug("sdk token refused", metadata: ["status": "\(error.status.code)", "error": .string(error.code)])
        var error = error
        error.headers[.cacheControl] = "no-store"
        return error.plainResponse()
    }

    static func answer(_ token: SDKAuthToken, headers: HTTPFields) -> Response {
        var headers = headers
        headers[.contentType] = "application/json; charset=utf-8"
        // A token names one person: no cache may keep it.
        headers[.cacheControl] = "no-store"
        let body = JSONValue.object(JSONObject([
            ("external_id", .string(token.externalId)), ("token", .string(token.token)), ("expires_at", .number(String(token.expiresAt))),
        ])).serialized
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    /// The request's JSON object (any Content-Type: the loader sends text/plain to avoid a preflight).
    static func body(_ request: Request, emptyIsObject: Bool = false) async throws(APIError) -> JSONObject {
        let buffer = try await CollectorController.readBody(request, maxBytes: maxBodyBytes)
        if buffer.readableBytes == 0, emptyIsObject { return JSONObject() }
        guard let value = try? JSONParser.parse(Array(buffer: buffer), maxDepth: 8) else {
            throw APIError(.badRequest, "invalid_json", "the body must be a JSON object")
        }
        guard let object = value.objectValue else { throw APIError(.badRequest, "invalid_json", "the body must be a JSON object") }
        return object
    }
}

import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// `POST /webhooks/shopify`: one endpoint for every topic. Verifies Shopify's HMAC over the raw
/// body, commits the delivery to the event log (source `webhook`, name = topic, properties = the
/// body verbatim) and only then answers 200; processing happens in the background processor.
/// Redeliveries carry the same event id and are acknowledged without being stored again.
public struct WebhookController: Sendable {
    let config: ShopTrailConfig
    let store: any EventStore
    let clock: any WallClock
    let logger: Logger
    /// The console's counters and live feed (nil: not observed).
    var signals: OperatorSignals?
    /// Order payloads with many lines run to a few hundred KB; this leaves room.
    static let maxBodyBytes = 4 * 1024 * 1024

    public init(config: ShopTrailConfig, store: any EventStore, clock: any WallClock, logger: Logger) {
        self.config = config
        self.store = store
        self.clock = clock
        self.logger = logger
    }

    public func addRoutes(to router: Router<some RequestContext>) {
        router.post("/webhooks/shopify") { request, _ -> Response in
            do throws(APIError) {
                let result = try await receive(request)
                let body = #"{"ok":true,"duplicate":\#(result.duplicates > 0)}"#
                return Response(status: .ok, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: body)))
            } catch {
                logger.notice("webhook refused", metadata: ["status": "\(error.status.code)", "error": .string(error.code)])
                return error.plainResponse()
            }
        }
    }

    func receive(_ request: Request) async throws(APIError) -> AppendResult {
        func header(_ name: String) -> String? {
            HTTPField.Name(name).flatMap { request.headers[$0] }.flatMap { $0.isEmpty ? nil : $0 }
        }
        guard let hmac = header("X-Shopify-Hmac-Sha256") else {
            throw APIError(.unauthorized, "missing_signature", "the X-Shopify-Hmac-Sha256 header is missing")
        }
        guard let domain = header("X-Shopify-Shop-Domain")?.lowercased() else {
            throw APIError(.badRequest, "missing_header", "the X-Shopify-Shop-Domain header is missing", field: "X-Shopify-Shop-Domain")
        }
        guard let shop = config.shop(domain: domain) else {
            throw APIError(.notFound, "unknown_shop", "no shop '\(IncomingBatch.truncate(domain))' is configured", field: "X-Shopify-Shop-Domain")
        }
        let secrets = [shop.shopify.apiSecret, shop.shopify.previousApiSecret].compactMap { $0 }
        guard !secrets.isEmpty else {
            throw APIError(.unauthorized, "no_api_secret", "shop '\(domain)' has no shopify.api_secret to verify webhooks with")
        }
        let bytes = Array(buffer: try await CollectorController.readBody(request, maxBytes: Self.maxBodyBytes))
        // The signature first: nothing of an unverified body is parsed or stored.
        guard WebhookSignature.verify(bytes, header: hmac, secrets: secrets) else {
            throw APIError(.unauthorized, "invalid_signature", "the X-Shopify-Hmac-Sha256 signature does not match the body")
        }
        guard let topic = header("X-Shopify-Topic"), topic.count <= 100, topic.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "/" || $0 == "_" }) else {
            throw APIError(.badRequest, "missing_header", "the X-Shopify-Topic header is missing or malformed", field: "X-Shopify-Topic")
        }
        // Shopify marks duplicates by event id; the webhook id is the fallback.
        guard let deliveryId = header("X-Shopify-Event-Id") ?? header("X-Shopify-Webhook-Id"), deliveryId.count <= 100 else {
            throw APIError(.badRequest, "missing_header", "the X-Shopify-Webhook-Id header is missing", field: "X-Shopify-Webhook-Id")
        }
        guard case .object? = try? JSONParser.parse(bytes, maxDepth: 64) else {
            throw APIError(.badRequest, "invalid_json", "the webhook body is not a JSON object")
        }
        let receivedAt = clock.now()
        let triggered = header("X-Shopify-Triggered-At").flatMap(Timestamp.parse)
        let event = NewEvent(shop: shop.domain, source: .webhook, eventId: "\(topic):\(deliveryId)", name: topic, visitorId: nil, sessionId: nil,
                             clientTime: triggered, time: triggered ?? receivedAt, receivedAt: receivedAt, context: nil,
                             properties: String(decoding: bytes, as: UTF8.self))
        do {
            let result = try await store.append([event])
            if result.inserted > 0 { signals?.webhookAccepted([event], shop: shop.domain) }
            return result
        } catch {
            logger.error("event store append failed", metadata: ["shop": .string(shop.domain), "error": "\(type(of: error))"])
            // Shopify retries a non-2xx delivery: nothing acknowledged is lost.
            var apiError = APIError(.serviceUnavailable, "store_unavailable", "the event store could not commit the webhook; retry later")
            apiError.headers[.retryAfter] = "5"
            throw apiError
        }
    }
}

import Hummingbird
import Logging
import NIOCore

/// Reads, validates and commits a beacon for the routes that are not `/v1/batch` itself (the App
/// Proxy and the Custom Pixel): the same schema, limits, clock correction and durability, with a
/// different source, shop check and, for the App Proxy, the server-verified identity (own column).
struct BeaconIngest: Sendable {
    let collector: CollectorController

    /// - Parameters:
    ///   - authorize: refuses a shop this route may not write for.
    ///   - verified: what the server verified about the request, stored beside (never inside) the client's JSON.
    func ingest(
        _ request: Request, source: EventSource,
        authorize: (ShopConfig) throws(APIError) -> Void,
        verified: String? = nil, clientIP: String? = nil
    ) async -> Response {
        let started = ContinuousClock.now
        let route = source == .pixel ? "pixel" : "app_proxy"
        var seen = CollectorController.Seen()
        do {
            let result = try await accept(request, source: source, authorize: authorize, verified: verified, clientIP: clientIP, seen: &seen)
            collector.observe(seen, route: route, started: started, error: nil)
            let body = #"{"ok":true,"accepted":\#(result.inserted),"duplicates":\#(result.duplicates)}"#
            return Response(status: .ok, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: body)))
        } catch {
            collector.logger.debug("beacon refused", metadata: ["source": .string(source.rawValue), "status": "\(error.status.code)", "error": .string(error.code)])
            collector.observe(seen, route: route, started: started, error: error)
            return error.plainResponse()
        }
    }

    private func accept(
        _ request: Request, source: EventSource, authorize: (ShopConfig) throws(APIError) -> Void, verified: String?, clientIP: String?,
        seen: inout CollectorController.Seen
    ) async throws(APIError) -> AppendResult {
        let limits = collector.limits
        let buffer = try await CollectorController.readBody(request, limits: limits)
        let receivedAt = collector.clock.now()
        let (envelope, writeKey) = try IncomingBatch.envelope(Array(buffer: buffer), limits: limits)
        guard let shop = collector.config.shop(writeKey: writeKey) else {
            throw APIError(.unauthorized, "unknown_write_key", "write_key '\(IncomingBatch.truncate(writeKey))' belongs to no shop", field: "write_key")
        }
        seen.shop = shop.domain
        try authorize(shop)
        try collector.spendRateLimits(shop, envelope: envelope, clientIP: clientIP)
        let batch = try IncomingBatch.validate(envelope: envelope, writeKey: writeKey, limits: limits)
        let events = try collector.makeEvents(batch, shop: shop, receivedAt: receivedAt).map { event in
            var event = event
            event.source = source
            event.verified = verified
            return event
        }
        do {
            let result = try await collector.store.append(events)
            seen.events = events
            return result
        } catch {
            collector.logger.error("event store append failed", metadata: ["shop": .string(shop.domain), "error": "\(type(of: error))"])
            var apiError = APIError(.serviceUnavailable, "store_unavailable", "the event store could not commit the batch; retry later")
            apiError.headers[.retryAfter] = "5"
            throw apiError
        }
    }
}

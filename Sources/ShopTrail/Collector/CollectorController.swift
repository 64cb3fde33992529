import Hummingbird
import Logging
import NIOCore

/// `POST /v1/batch`: validates a storefront beacon, commits it to the event log, then acknowledges.
public struct CollectorController: Sendable {
    public let config: ShopTrailConfig
    public let store: any EventStore
    public let limits: CollectorLimits
    public let clock: any WallClock
    public let logger: Logger
    /// Events per write key (nil: unlimited, as in most tests).
    public let rateLimits: BeaconRateLimits?
    /// The console's and `/metrics`' counters (nil: not counted).
    public var signals: OperatorSignals?
    /// Every origin any shop allows; preflights carry no body, so they cannot name their shop.
    private let anyShopOrigins: Set<String>

    public init(config: ShopTrailConfig, store: any EventStore, limits: CollectorLimits = .init(), clock: any WallClock,
                rateLimits: BeaconRateLimits? = nil, logger: Logger) {
        self.config = config
        self.rateLimits = rateLimits
        self.store = store
        self.limits = limits
        self.clock = clock
        self.logger = logger
        self.anyShopOrigins = Set(config.shops.flatMap(\.allowedOrigins))
    }

    public func addRoutes<Context: RemoteAddressRequestContext>(to router: Router<Context>) {
        router.post("/v1/batch") { request, context in await self.collect(request, clientIP: self.clientIP(request, context)) }
        router.on("/v1/batch", method: .options) { request, _ in self.preflight(request) }
    }

    /// CORS preflight. `sendBeacon` with text/plain never sends one; `fetch` with JSON does.
    func preflight(_ request: Request) -> Response {
        guard let origin = request.headers[.origin], anyShopOrigins.contains(origin) else {
            return APIError(.forbidden, "origin_not_allowed", "this origin is not in any shop's allowed_origins").plainResponse()
        }
        var headers = corsHeaders(origin: origin)
        headers[.accessControlAllowMethods] = "POST, OPTIONS"
        headers[.accessControlAllowHeaders] = "Content-Type"
        headers[.accessControlMaxAge] = "86400"
        return Response(status: .noContent, headers: headers)
    }

    /// The client for the per-IP limit (see `ClientAddress`).
    func clientIP(_ request: Request, _ context: some RemoteAddressRequestContext) -> String? {
        ClientAddress.of(request, remote: context.remoteAddress, trustForwardedFor: rateLimits?.trustForwardedFor ?? false)
    }

    func collect(_ request: Request, clientIP: String? = nil) async -> Response {
        let origin = request.headers[.origin]
        // Let a browser read errors too when the origin is one we serve.
        let cors = origin.flatMap { anyShopOrigins.contains($0) ? corsHeaders(origin: $0) : nil } ?? [:]
        let started = ContinuousClock.now
        var seen = Seen()
        do {
            let accepted = try await accept(request, origin: origin, clientIP: clientIP, seen: &seen)
            observe(seen, route: "batch", started: started, error: nil)
            var headers = cors
            headers[.contentType] = "application/json; charset=utf-8"
            let body = #"{"ok":true,"accepted":\#(accepted.inserted),"duplicates":\#(accepted.duplicates)}"#
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
        } catch {
            logger.debug("beacon refused", metadata: ["status": "\(error.status.code)", "error": .string(error.code)])
            observe(seen, route: "batch", started: started, error: error)
            var apiError = error
            for field in cors { apiError.headers.append(field) }
            return apiError.plainResponse()
        }
    }

    /// What a beacon turned out to be, as far as it got: for the counters.
    struct Seen {
        var shop: String?
        var events: [NewEvent] = []
    }

    /// Counts a beacon's outcome (accepted, or refused with the error's code) and feeds the live page; never waits.
    func observe(_ seen: Seen, route: String, started: ContinuousClock.Instant, error: APIError?) {
        guard let signals else { return }
        let latency = ContinuousClock.now - started
        if let error {
            signals.refused(reason: error.code, shop: seen.shop, route: route, latency: latency)
        } else if let shop = seen.shop {
            signals.accepted(seen.events, shop: shop, route: route, at: clock.now(), latency: latency)
        }
    }

    private func accept(_ request: Request, origin: String?, clientIP: String?, seen: inout Seen) async throws(APIError) -> AppendResult {
        let buffer = try await Self.readBody(request, limits: limits)
        let receivedAt = clock.now()
        // Any Content-Type is parsed as JSON: sendBeacon sends text/plain, curl -d sends form encoding.
        let (envelope, writeKey) = try IncomingBatch.envelope(Array(buffer: buffer), limits: limits)
        guard let shop = config.shop(writeKey: writeKey) else {
            throw APIError(.unauthorized, "unknown_write_key", "write_key '\(IncomingBatch.truncate(writeKey))' belongs to no shop", field: "write_key")
        }
        seen.shop = shop.domain
        // No Origin means no browser (curl, a server, a pixel's worker fetch): the write key is public anyway.
        if let origin, !shop.allows(origin: origin) {
            throw APIError(.forbidden, "origin_not_allowed", "origin \(IncomingBatch.truncate(origin)) is not in allowed_origins of \(shop.domain)")
        }
        try spendRateLimits(shop, envelope: envelope, clientIP: clientIP)
        let batch = try IncomingBatch.validate(envelope: envelope, writeKey: writeKey, limits: limits)
        let events = try makeEvents(batch, shop: shop, receivedAt: receivedAt)
        do {
            let result = try await store.append(events)
            seen.events = events
            logger.debug("batch stored", metadata: ["shop": .string(shop.domain), "inserted": "\(result.inserted)", "duplicates": "\(result.duplicates)"])
            return result
        } catch {
            logger.error("event store append failed", metadata: ["shop": .string(shop.domain), "error": "\(type(of: error))"])
            var apiError = APIError(.serviceUnavailable, "store_unavailable", "the event store could not commit the batch; retry later")
            apiError.headers[.retryAfter] = "5"
            throw apiError
        }
    }

    /// The client's and the shop's events-per-minute budgets, spent before validation so refused floods cost little.
    func spendRateLimits(_ shop: ShopConfig, envelope: JSONObject, clientIP: String?) throws(APIError) {
        try rateLimits?.spend(events: max(1, envelope["events"]?.arrayValue?.count ?? 1), clientIP: clientIP, writeKey: shop.writeKey, now: clock.now())
    }

    /// Applies clock-skew correction: the client's clock is off by `receivedAt - sentAt`.
    func makeEvents(_ batch: IncomingBatch, shop: ShopConfig, receivedAt: EpochMillis) throws(APIError) -> [NewEvent] {
        let skew = batch.sentAt.map { receivedAt - $0 } ?? 0
        var events: [NewEvent] = []
        events.reserveCapacity(batch.events.count)
        for (i, event) in batch.events.enumerated() {
            let claimed = event.clientTime ?? batch.sentAt ?? receivedAt
            let time = min(claimed + skew, receivedAt)
            if receivedAt - time > limits.maxEventAgeMillis {
                throw APIError(.badRequest, "event_too_old", "events[\(i)].time is more than \(limits.maxEventAgeMillis / 86_400_000) days old after clock correction", field: "events[\(i)].time")
            }
            events.append(NewEvent(
                shop: shop.domain, source: .storefront, eventId: event.id, name: event.name.rawValue,
                visitorId: batch.visitorId, sessionId: batch.sessionId,
                clientTime: event.clientTime, time: time, receivedAt: receivedAt,
                context: batch.contextJSON, properties: event.propertiesJSON
            ))
        }
        return events
    }

    private func corsHeaders(origin: String) -> HTTPFields {
        [.accessControlAllowOrigin: origin, .vary: "Origin"]
    }

    /// The request body, refused early (413) when it is larger than a beacon may be.
    static func readBody(_ request: Request, limits: CollectorLimits) async throws(APIError) -> ByteBuffer {
        try await readBody(request, maxBytes: limits.maxBodyBytes)
    }

    /// The request body, refused (413) past `maxBytes`: by its Content-Length before reading, else while reading.
    static func readBody(_ request: Request, maxBytes: Int) async throws(APIError) -> ByteBuffer {
        if let length = request.headers[.contentLength].flatMap(Int.init), length > maxBytes {
            throw APIError(.contentTooLarge, "body_too_large", "body is \(length) bytes, more than \(maxBytes)")
        }
        do {
            return try await request.body.collect(upTo: maxBytes)
        } catch is NIOTooManyBytesError {
            throw APIError(.contentTooLarge, "body_too_large", "body is more than \(maxBytes) bytes")
        } catch {
            throw APIError(.badRequest, "body_unreadable", "the request body could not be read")
        }
    }
}

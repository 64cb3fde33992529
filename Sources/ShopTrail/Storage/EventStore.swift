/// Where an event came from; part of the de-duplication key, so ids from different sources never collide.
public enum EventSource: String, Sendable, CaseIterable {
    /// The theme snippet's tracker (`POST /v1/batch`).
    case storefront
    /// The Custom Pixel in Shopify's checkout.
    case pixel
    /// A Shopify webhook.
    case webhook
}

/// An event ready to be appended to the log.
public struct NewEvent: Sendable, Equatable {
    public var shop: String
    public var source: EventSource
    /// Client- or Shopify-generated id; `(shop, source, eventId)` is unique in the log.
    public var eventId: String
    public var name: String
    public var visitorId: String?
    public var sessionId: String?
    /// The time the client claimed, uncorrected.
    public var clientTime: EpochMillis?
    /// The event time after clock-skew correction.
    public var time: EpochMillis
    public var receivedAt: EpochMillis
    /// JSON text of what the page knew (batch context), if any.
    public var context: String?
    /// JSON text of the event's properties.
    public var properties: String
    /// JSON text of what the server verified about the request (e.g. the App Proxy's signed customer);
    /// never derived from the body, so a client cannot write it (see `ServerContext`).
    public var verified: String?

    public init(
        shop: String, source: EventSource, eventId: String, name: String, visitorId: String?, sessionId: String?,
        clientTime: EpochMillis?, time: EpochMillis, receivedAt: EpochMillis, context: String?, properties: String,
        verified: String? = nil
    ) {
        self.shop = shop
        self.source = source
        self.eventId = eventId
        self.name = name
        self.visitorId = visitorId
        self.sessionId = sessionId
        self.clientTime = clientTime
        self.time = time
        self.receivedAt = receivedAt
        self.context = context
        self.properties = properties
        self.verified = verified
    }
}

extension NewEvent {
    /// The context a batch's events share, stored once for all of them (issue 14: copying an 8 KiB
    /// context into each of 100 events); nil for a lone event or events with different contexts.
    static func sharedContext(of events: [NewEvent]) -> String? {
        guard events.count > 1, let text = events.first?.context else { return nil }
        return events.allSatisfy { $0.context == text } ? text : nil
    }
}

/// An event as stored, with its position in the log (strictly increasing in commit order).
public struct LoggedEvent: Sendable, Equatable {
    public var position: Int64
    public var event: NewEvent
}

/// What appending one batch did.
public struct AppendResult: Sendable, Equatable {
    public var inserted: Int
    /// Events whose `(shop, source, id)` was already in the log (a retried beacon): dropped.
    public var duplicates: Int

    public init(inserted: Int, duplicates: Int) {
        self.inserted = inserted
        self.duplicates = duplicates
    }
}

/// The event log: the durable record everything downstream replays (repository pattern).
///
/// `append` returns only after the events are committed; concurrent appends may share one
/// transaction (group commit) but each caller gets its own result.
public protocol EventStore: Sendable {
    func append(_ events: [NewEvent]) async throws -> AppendResult
    /// Events after `position`, oldest first, at most `limit`.
    func events(after position: Int64, limit: Int) async throws -> [LoggedEvent]
    func eventCount() async throws -> Int
    /// Throws when the store cannot answer (used by `/healthz`).
    func checkHealth() async throws
    /// Group-commit counters, for tests and metrics.
    func commitStats() -> CommitStats
}

/// Counters of the group committer.
public struct CommitStats: Sendable, Equatable {
    public var transactions: Int = 0
    public var batches: Int = 0
    /// SQLite only: what the write scheduler did meanwhile (for the benchmark's log line).
    public var writes: WriteSchedulerStats?
    public init() {}
}

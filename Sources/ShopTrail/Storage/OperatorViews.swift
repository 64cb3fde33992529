/// What the forwarder learnt from one Braze answer, recorded for each operation it carried
/// (the console's person page shows it next to the operation's request object).
public struct DeliveryReceipt: Sendable, Equatable {
    /// `POST /users/track` and the like.
    public var endpoint: String
    /// The HTTP status; nil when no HTTP answer came.
    public var status: Int?
    /// `delivered` or `dead`.
    public var outcome: String
    /// Braze's answer, classified and trimmed (never the raw body: a bad proxy could echo the key).
    public var response: String
    public var at: EpochMillis

    public init(endpoint: String, status: Int?, outcome: String, response: String, at: EpochMillis) {
        self.endpoint = endpoint
        self.status = status
        self.outcome = outcome
        self.response = response
        self.at = at
    }
}

/// One operation's delivery as recorded in the delivery log.
public struct DeliveryRecord: Sendable, Equatable {
    public var opId: String
    public var shop: String
    public var userKey: String
    public var kind: String
    /// The operation's object as it went into the request.
    public var request: String
    public var receipt: DeliveryReceipt
    public var attempts: Int
}

/// How long the delivery log keeps records: whichever bound is reached first.
public struct DeliveryLogRetention: Sendable, Equatable {
    /// Rows at most, all shops together (oldest go first).
    public var maxRows: Int64 = 200_000
    /// Records older than this go.
    public var maxAgeMillis: EpochMillis = 14 * 86_400_000
    /// Request objects are cut to this many bytes in the record.
    public var maxRequestBytes = 8_192

    public init() {}
}

/// A visitor tied to a customer, and why.
public struct LinkedVisitor: Sendable, Equatable {
    public var visitorId: String
    public var customerId: String?
    public var linkedAt: EpochMillis?
    public var evidence: String?
    public var firstSeen: EpochMillis
    public var lastSeen: EpochMillis
    /// Every link recorded for the visitor, oldest first (a visitor may have been re-linked).
    public var history: [(customerId: String, evidence: String, at: EpochMillis)]

    public static func == (a: LinkedVisitor, b: LinkedVisitor) -> Bool {
        a.visitorId == b.visitorId && a.customerId == b.customerId && a.linkedAt == b.linkedAt && a.evidence == b.evidence
    }
}

/// An abandonment timer as the person page shows it.
public struct PersonTimer: Sendable, Equatable {
    public var kind: String
    public var subject: String
    public var state: String
    public var armedAt: EpochMillis
    public var dueAt: EpochMillis
    public var reason: String?
    public var closedAt: EpochMillis?
}

/// Everything the person page shows, each part bounded.
public struct PersonView: Sendable {
    public var shop: String
    public var customerId: String?
    public var email: String?
    public var name: String?
    public var visitors: [LinkedVisitor]
    /// Storefront events and webhooks, newest first.
    public var timeline: [LoggedEvent]
    /// Braze operations answered, newest first.
    public var deliveries: [DeliveryRecord]
    public var deadLetters: [DeadLetter]
    public var timers: [PersonTimer]
}

/// What one shop's overview shows that comes from storage.
public struct ShopOverview: Sendable {
    public var shop: String
    public var outbox: OutboxStatus
    /// Events in the log the processor has not read yet (all shops: the log is read in one order).
    public var processorLag: Int64
    public var quarantined: Int
    /// Latest dead letter per endpoint kind, newest first.
    public var recentDeadLetters: [DeadLetter]
}

/// When and how the storefront last showed signs of life, for the install check.
public struct InstallSignals: Sendable {
    /// Latest page view per page type (`index`, `product`, ...): its time and context JSON.
    public var pageTypes: [String: (at: EpochMillis, context: String?)]
    /// Latest Custom Pixel checkout event.
    public var pixelCheckoutAt: EpochMillis?
    /// Latest webhook per topic.
    public var webhookTopics: [String: EpochMillis]
    /// Latest event that arrived through the App Proxy (its verified column is set).
    public var appProxyAt: EpochMillis?
}

/// Bounds every engine's console reads keep.
public enum OperatorViewLimits {
    /// The install check reads this many of the newest log positions at most.
    public static let installWindow: Int64 = 20_000
    /// The processor lag is counted up to this many events (an index range, never the whole log).
    public static let lagCountLimit: Int64 = 100_000
}

/// The delivery log: what Braze answered for each operation, kept for a bounded time (repository).
public protocol DeliveryLog: Sendable {
    /// The newest records of these ordering keys (`c:{customer}`, `v:{visitor}`), newest first.
    func records(shop: String, userKeys: [String], limit: Int) async throws -> [DeliveryRecord]
}

/// The console's read models and its few writes (repository: a PostgreSQL engine implements it too).
public protocol OperatorViews: Sendable {
    func overview(shop: String, now: EpochMillis) async throws -> ShopOverview
    /// Resolves a customer id, email, visitor id or cart token of `shop` to a person; nil when unknown.
    func person(shop: String, query: String, limit: Int) async throws -> PersonView?
    func deadLetters(shop: String?, limit: Int) async throws -> [DeadLetter]
    /// Puts one dead letter back at the end of the outbox; false when it is not there.
    func retryDeadLetter(shop: String, opId: String) async throws -> Bool
    /// Forgets one dead letter; false when it is not there.
    func discardDeadLetter(shop: String, opId: String) async throws -> Bool
    /// Puts every dead letter of `shop` (nil: all shops) back; returns how many.
    func retryDeadLetters(shop: String?) async throws -> Int
    /// Forgets every dead letter of `shop` (nil: all shops); returns how many.
    func discardDeadLetters(shop: String?) async throws -> Int
    /// The install check's signals, from the newest events only.
    func installSignals(shop: String, pageTypes: [String], topics: [String]) async throws -> InstallSignals
    /// Gauges for `/metrics`: outbox depth and dead letters per shop, armed timers per shop and kind, processor lag.
    func gauges() async throws -> OperatorGauges
}

/// Storage-side values exported as Prometheus gauges at each scrape.
public struct OperatorGauges: Sendable {
    public var outboxDepth: [String: Int] = [:]
    public var deadLetters: [String: Int] = [:]
    public var armedTimers: [String: [String: Int]] = [:]
    public var processorLag: Int64 = 0

    public init() {}
}

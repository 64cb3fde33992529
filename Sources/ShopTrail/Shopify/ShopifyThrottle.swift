/// Shopify's leaky bucket as reported in `extensions.cost.throttleStatus` (points; restore per second).
public struct ShopifyThrottleStatus: Sendable, Equatable {
    public var maximumAvailable: Double
    public var currentlyAvailable: Double
    public var restoreRate: Double

    public init(maximumAvailable: Double, currentlyAvailable: Double, restoreRate: Double) {
        self.maximumAvailable = maximumAvailable
        self.currentlyAvailable = currentlyAvailable
        self.restoreRate = restoreRate
    }
}

/// `extensions.cost` of a GraphQL answer.
public struct ShopifyQueryCost: Sendable, Equatable {
    /// What Shopify charged before running the query (and what the bucket must hold).
    public var requestedQueryCost: Double?
    /// What the query really cost (the difference is refunded); nil on a throttled answer.
    public var actualQueryCost: Double?
    public var throttleStatus: ShopifyThrottleStatus?

    public init(requestedQueryCost: Double? = nil, actualQueryCost: Double? = nil, throttleStatus: ShopifyThrottleStatus? = nil) {
        self.requestedQueryCost = requestedQueryCost
        self.actualQueryCost = actualQueryCost
        self.throttleStatus = throttleStatus
    }
}

/// The client's estimate of a shop's GraphQL bucket, so queries wait for points instead of being throttled.
///
/// The estimate starts from the last `throttleStatus` Shopify reported, refills at its `restoreRate`
/// since then (capped at `maximumAvailable`), and subtracts the requested cost of queries sent but not
/// yet answered (concurrent callers wait for each other). Before anything was reported nothing is known
/// and queries go at once; the first answer teaches the bucket. Pure value type: the math is unit-tested.
public struct ShopifyThrottleBucket: Sendable, Equatable {
    /// The last reported status; nil until the first answer.
    public private(set) var status: ShopifyThrottleStatus?
    /// Points Shopify reported (or that remain after charging an unanswered query) at `observedAt`.
    private var base: Double = 0
    private var observedAt: EpochMillis = 0
    /// Requested cost of queries on the wire.
    public private(set) var inFlight: Double = 0

    public init() {}

    /// The points the bucket holds at `now` after the queries in flight; nil when nothing is known yet.
    public func estimatedAvailable(at now: EpochMillis) -> Double? {
        guard let status else { return nil }
        let refilled = base + status.restoreRate * Double(max(0, now - observedAt)) / 1000
        return min(status.maximumAvailable, refilled) - inFlight
    }

    /// How long a query of `cost` must wait at `now`: 0 when the bucket holds it (or nothing is known).
    /// A cost above the bucket's size waits for a full bucket (Shopify then refuses it as too expensive).
    public func waitMillis(for cost: Double, at now: EpochMillis) -> EpochMillis {
        guard let status, let available = estimatedAvailable(at: now) else { return 0 }
        let needed = min(max(cost, 0), status.maximumAvailable)
        guard available < needed else { return 0 }
        // No refill means the status is odd: poll once a second rather than wait forever.
        guard status.restoreRate > 0 else { return 1_000 }
        return max(1, Int64.boundedMillis((needed - available) / status.restoreRate * 1000))
    }

    /// A query of `cost` leaves at `now`: its points count as spent until its answer says otherwise.
    public mutating func reserve(_ cost: Double) {
        inFlight += max(cost, 0)
    }

    /// The answer to a query that reserved `reserved` came at `now`. With a status the estimate restarts
    /// from it; without one (an error, a transport failure) the points are assumed spent.
    public mutating func complete(reserved: Double, status reported: ShopifyThrottleStatus?, at now: EpochMillis) {
        inFlight = max(0, inFlight - max(reserved, 0))
        if let reported {
            status = reported
            base = reported.currentlyAvailable
            observedAt = now
        } else if let status {
            base = min(status.maximumAvailable, base + status.restoreRate * Double(max(0, now - observedAt)) / 1000) - max(reserved, 0)
            observedAt = now
        }
    }
}

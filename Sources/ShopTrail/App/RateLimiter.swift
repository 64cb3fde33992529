import Synchronization

/// Token buckets per key (a client IP, a write key), in memory: `limit` per minute, bursts up to
/// `burst`. The table is bounded: idle keys (full buckets) are dropped when it grows past
/// `maxKeys`, and past that the oldest half goes, so invented keys cannot exhaust memory.
public final class RateLimiter: Sendable {
    struct Bucket {
        var tokens: Double
        var updatedAt: EpochMillis
    }

    public let perMinute: Int
    let burst: Double
    let maxKeys: Int
    private let buckets = Mutex<[String: Bucket]>([:])

    /// `burst`: tokens a quiet key may spend at once (default: ten seconds' worth, at least 10).
    public init(perMinute: Int, burst: Int? = nil, maxKeys: Int = 100_000) {
        self.perMinute = perMinute
        self.burst = Double(burst ?? max(10, perMinute / 6))
        self.maxKeys = maxKeys
    }

    /// Takes `cost` tokens for `key` at `now`; nil when allowed, else the milliseconds until it would be.
    public func take(_ key: String, cost: Int = 1, now: EpochMillis) -> EpochMillis? {
        guard perMinute > 0 else { return nil }
        let rate = Double(perMinute) / 60_000  // tokens per millisecond
        let cost = min(Double(max(cost, 1)), burst)
        return buckets.withLock { table -> EpochMillis? in
            var bucket = table[key] ?? Bucket(tokens: burst, updatedAt: now)
            bucket.tokens = min(burst, bucket.tokens + Double(max(0, now - bucket.updatedAt)) * rate)
            bucket.updatedAt = now
            guard bucket.tokens >= cost else {
                table[key] = bucket
                return Int64.boundedMillis((cost - bucket.tokens) / rate)
            }
            bucket.tokens -= cost
            table[key] = bucket
            if table.count > maxKeys { Self.prune(&table, now: now, rate: rate, burst: burst, maxKeys: maxKeys) }
            return nil
        }
    }

    /// Keys tracked now (tests and status).
    public var trackedKeys: Int { buckets.withLock { $0.count } }

    private static func prune(_ table: inout [String: Bucket], now: EpochMillis, rate: Double, burst: Double, maxKeys: Int) {
        table = table.filter { $0.value.tokens + Double(max(0, now - $0.value.updatedAt)) * rate < burst }
        guard table.count > maxKeys / 2 else { return }
        let keep = table.sorted { $0.value.updatedAt > $1.value.updatedAt }.prefix(maxKeys / 2)
        table = Dictionary(uniqueKeysWithValues: keep.map { ($0.key, $0.value) })
    }
}

/// The rate limits of one server: events per client IP and events per write key.
public struct BeaconRateLimits: Sendable {
    public let perIP: RateLimiter
    public let perWriteKey: RateLimiter
    public let trustForwardedFor: Bool

    public init(_ limits: ServerLimits) {
        // A client's burst is one full batch (100 events).
        perIP = RateLimiter(perMinute: limits.eventsPerIPPerMinute, burst: max(100, limits.eventsPerIPPerMinute / 6))
        // A write key's burst is a minute's worth: a shop's traffic is spiky, and one request may carry 100 events.
        perWriteKey = RateLimiter(perMinute: limits.eventsPerWriteKeyPerMinute, burst: max(100, limits.eventsPerWriteKeyPerMinute))
        trustForwardedFor = limits.trustForwardedFor
    }

    /// Spends a beacon's events from its client's and its shop's budgets (the one place both are decided).
    func spend(events: Int, clientIP: String?, writeKey: String, now: EpochMillis) throws(APIError) {
        if let clientIP, let wait = perIP.take(clientIP, cost: events, now: now) {
            throw Self.refusal("events from this address", waitMillis: wait)
        }
        if let wait = perWriteKey.take(writeKey, cost: events, now: now) {
            throw Self.refusal("events for this write key", waitMillis: wait)
        }
    }

    /// The 429 a limited caller gets, with `Retry-After` in whole seconds.
    static func refusal(_ what: String, waitMillis: EpochMillis) -> APIError {
        let seconds = max(1, (waitMillis + 999) / 1000)
        var error = APIError(.tooManyRequests, "rate_limited", "too many \(what); retry in \(seconds) s")
        error.headers[.retryAfter] = String(seconds)
        return error
    }
}

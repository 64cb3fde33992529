import Foundation

/// The per-shop cost bucket: drains by each query's cost, refills continuously at `restoreRate` points per second.
struct LeakyBucket: Sendable {
    let maximumAvailable: Double
    let restoreRate: Double
    private(set) var available: Double
    private var updatedAt: Date?

    init(maximumAvailable: Double, restoreRate: Double) {
        self.maximumAvailable = maximumAvailable
        self.restoreRate = restoreRate
        available = maximumAvailable
    }

    mutating func refill(now: Date) {
        if let updatedAt, now > updatedAt {
            available = min(maximumAvailable, available + now.timeIntervalSince(updatedAt) * restoreRate)
        }
        // A clock that goes backwards restores nothing rather than draining.
        if updatedAt == nil || now > (updatedAt ?? now) { updatedAt = now }
    }

    /// Takes `cost` if available; false (and nothing taken) when the bucket holds less.
    mutating func charge(_ cost: Int, now: Date) -> Bool {
        refill(now: now)
        guard Double(cost) <= available else { return false }
        available -= Double(cost)
        return true
    }

    /// Gives back the difference between requested and actual cost.
    mutating func refund(_ points: Int) {
        available = min(maximumAvailable, available + Double(max(0, points)))
    }

    /// Whole points, as `throttleStatus.currentlyAvailable` reports them.
    var currentlyAvailable: Int { Int(available.rounded(.down)) }

    func throttleStatus() -> ShopifyJSON {
        ["maximumAvailable": .double(maximumAvailable), "currentlyAvailable": .int(Int64(currentlyAvailable)),
         "restoreRate": .double(restoreRate)]
    }

    mutating func reset() {
        available = maximumAvailable
        updatedAt = nil
    }
}

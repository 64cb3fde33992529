import Foundation

/// Fixed-window counters per Braze rate-limit group, producing Braze's X-RateLimit-* headers.
struct RateLimiter: Sendable {
    struct Window: Sendable {
        var start: Date
        var used: Int
    }

    /// Outcome of counting one request.
    struct Decision: Sendable {
        var allowed: Bool
        var limit: Int
        var remaining: Int
        var reset: Date
        var retryAfterSeconds: Int

        var headers: [(String, String)] {
            var headers = [
                ("X-RateLimit-Limit", String(limit)),
                ("X-RateLimit-Remaining", String(remaining)),
                ("X-RateLimit-Reset", RateLimiter.epochSeconds(reset)),
            ]
            if !allowed { headers.append(("Retry-After", String(retryAfterSeconds))) }
            return headers
        }
    }

    private var windows: [BrazeRateLimitGroup: Window] = [:]

    /// nil when the group is unlimited.
    mutating func count(_ group: BrazeRateLimitGroup, limit: BrazeRateLimit?, now: Date) -> Decision? {
        guard let limit else { return nil }
        var window = windows[group] ?? Window(start: now, used: 0)
        if now.timeIntervalSince(window.start) >= limit.windowSeconds || now < window.start {
            window = Window(start: now, used: 0)
        }
        let reset = window.start.addingTimeInterval(limit.windowSeconds)
        let allowed = window.used < limit.requests
        if allowed { window.used += 1 }
        windows[group] = window
        return Decision(
            allowed: allowed, limit: limit.requests, remaining: max(0, limit.requests - window.used), reset: reset,
            retryAfterSeconds: Self.seconds(reset.timeIntervalSince(now))
        )
    }

    /// The group's window as it stands, without counting a request (for answers Braze refuses before counting).
    func peek(_ group: BrazeRateLimitGroup, limit: BrazeRateLimit?, now: Date) -> Decision? {
        guard let limit else { return nil }
        var window = windows[group] ?? Window(start: now, used: 0)
        if now.timeIntervalSince(window.start) >= limit.windowSeconds || now < window.start {
            window = Window(start: now, used: 0)
        }
        let reset = window.start.addingTimeInterval(limit.windowSeconds)
        return Decision(
            allowed: true, limit: limit.requests, remaining: max(0, limit.requests - window.used), reset: reset,
            retryAfterSeconds: Self.seconds(reset.timeIntervalSince(now))
        )
    }

    /// Whole seconds, rounded up, at least 1; total for any input (no trapping conversion).
    static func seconds(_ interval: TimeInterval) -> Int {
        guard interval.isFinite, interval > 0 else { return 1 }
        guard interval < Double(Int32.max) else { return Int(Int32.max) }
        return max(1, Int(interval.rounded(.up)))
    }

    /// Unix seconds, rounded up; total for any date.
    static func epochSeconds(_ date: Date) -> String {
        let value = date.timeIntervalSince1970.rounded(.up)
        guard value.isFinite, abs(value) < 1e15 else { return "0" }
        return String(Int64(value))
    }

    mutating func reset() { windows.removeAll() }
}

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
                ("X-RateLimit-Reset", String(Int(reset.timeIntervalSince1970.rounded(.up)))),
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
            retryAfterSeconds: max(1, Int(reset.timeIntervalSince(now).rounded(.up)))
        )
    }

    mutating func reset() { windows.removeAll() }
}

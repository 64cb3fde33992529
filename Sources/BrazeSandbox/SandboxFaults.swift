import Foundation

/// Injected failures: the next N Braze requests, a time window (outage), and added latency.
struct SandboxFaults: Sendable {
    var nextCount = 0
    var nextStatus = 503
    var nextRetryAfter: Int?
    var outageUntil: Date?
    var outageStatus = 503
    var outageRetryAfter: Int?
    var latencyMs = 0

    /// The injected answer for this request, if any (consumes one of `next`).
    mutating func consume(now: Date) -> (status: Int, retryAfter: Int?)? {
        if let until = outageUntil {
            if now < until {
                let remaining = max(1, Int(until.timeIntervalSince(now).rounded(.up)))
                return (outageStatus, outageRetryAfter ?? (outageStatus == 429 ? remaining : nil))
            }
            outageUntil = nil
        }
        if nextCount > 0 {
            nextCount -= 1
            return (nextStatus, nextRetryAfter ?? (nextStatus == 429 ? 1 : nil))
        }
        return nil
    }

    /// Applies a `POST /_sandbox/faults` body.
    mutating func configure(_ body: JSONValue, now: Date) throws(ValidationFailure) {
        guard let object = body.objectValue else { throw ValidationFailure("fault body must be a JSON object") }
        let known: Set<String> = ["next", "status", "retry_after", "outage_seconds", "latency_ms", "clear"]
        let unknown = Set(object.keys).subtracting(known)
        if !unknown.isEmpty { throw ValidationFailure("unknown fault keys: \(unknown.sorted().joined(separator: ", "))") }
        if let clear = object["clear"] {
            guard let flag = clear.boolValue else { throw ValidationFailure("'clear' must be a boolean") }
            if flag { self = SandboxFaults() }
        }
        var status = 503
        if let value = object["status"] {
            guard let code = value.intValue, (400...599).contains(code) else { throw ValidationFailure("'status' must be an integer from 400 to 599") }
            status = Int(code)
        }
        var retryAfter: Int?
        if let value = object["retry_after"] {
            guard let seconds = value.intValue, seconds >= 0 else { throw ValidationFailure("'retry_after' must be a non-negative integer") }
            retryAfter = Int(seconds)
        }
        if let value = object["next"] {
            guard let count = value.intValue, count >= 0 else { throw ValidationFailure("'next' must be a non-negative integer") }
            nextCount = Int(count)
            nextStatus = status
            nextRetryAfter = retryAfter
        }
        if let value = object["outage_seconds"] {
            guard let seconds = value.doubleValue, seconds >= 0 else { throw ValidationFailure("'outage_seconds' must be a non-negative number") }
            outageUntil = seconds > 0 ? now.addingTimeInterval(seconds) : nil
            outageStatus = status
            outageRetryAfter = retryAfter
        }
        if let value = object["latency_ms"] {
            guard let ms = value.intValue, ms >= 0, ms <= 60_000 else { throw ValidationFailure("'latency_ms' must be an integer from 0 to 60000") }
            latencyMs = Int(ms)
        }
        if object["next"] == nil, object["outage_seconds"] == nil, object["latency_ms"] == nil, object["clear"] == nil {
            throw ValidationFailure("give at least one of 'next', 'outage_seconds', 'latency_ms' or 'clear'")
        }
    }

    func json(now: Date) -> JSONValue {
        var outage: JSONValue = .null
        if let until = outageUntil, until > now {
            outage = ["until": .string(ISO8601Time.format(until)), "status": .from(outageStatus), "retry_after": outageRetryAfter.map(JSONValue.from) ?? .null]
        }
        return [
            "next": ["remaining": .from(nextCount), "status": .from(nextStatus), "retry_after": nextRetryAfter.map(JSONValue.from) ?? .null],
            "outage": outage,
            "latency_ms": .from(latencyMs),
        ]
    }
}

import Foundation

/// Braze's answer classified by what the caller should do next.
public enum BrazeResponse: Sendable, Equatable {
    /// 2xx: processed counts (`events_processed`, `deleted`, ...) and the objects Braze skipped.
    case success(processed: [String: Int], minorErrors: [BrazeMinorError])
    /// 429: wait `retryAfter` (from `Retry-After`) or until `resetAt` (from `X-RateLimit-Reset`).
    case rateLimited(retryAfter: Duration?, resetAt: Date?)
    /// 5xx, 408, timeouts, connection failures: try again later. `status` is nil when no HTTP answer came.
    case retryable(status: Int?, reason: String)
    /// Other 4xx (malformed body, bad key, missing permission): the request will never succeed as is.
    case rejected(status: Int, message: String)
}

extension BrazeResponse {
    /// A 429's wait as Braze states it, in seconds from `now`: `Retry-After`, else until
    /// `X-RateLimit-Reset` (negative when that has passed). Nil for other answers or when Braze said
    /// neither; each caller applies its own bounds and fallback.
    public func rateLimitWait(from now: Date) -> Double? {
        guard case .rateLimited(let retryAfter, let resetAt) = self else { return nil }
        return retryAfter.map(\.inSeconds) ?? resetAt.map { $0.timeIntervalSince(now) }
    }
}

/// One entry of a 2xx answer's `errors` array: an object Braze did not process, the rest of the request was.
public struct BrazeMinorError: Sendable, Equatable {
    /// The request array the object came from, e.g. `events`.
    public var inputArray: String?
    /// The object's position in that array.
    public var index: Int?
    /// Braze's `type` text, or the whole entry as text when its shape is unknown.
    public var message: String

    public init(inputArray: String? = nil, index: Int? = nil, message: String) {
        self.inputArray = inputArray
        self.index = index
        self.message = message
    }
}

/// Braze's `X-RateLimit-*` headers, present on any answer of a rate-limited endpoint.
public struct BrazeRateLimitInfo: Sendable, Equatable {
    public var limit: Int?
    public var remaining: Int?
    /// When the current window ends (`X-RateLimit-Reset`, Unix seconds).
    public var resetAt: Date?

    public init(limit: Int? = nil, remaining: Int? = nil, resetAt: Date? = nil) {
        self.limit = limit
        self.remaining = remaining
        self.resetAt = resetAt
    }
}

/// What `BrazeClient.send` returns: the classified response plus the raw details callers may want.
public struct BrazeAnswer: Sendable, Equatable {
    public var response: BrazeResponse
    /// nil when the answer carried no rate-limit headers (or there was no answer).
    public var rateLimit: BrazeRateLimitInfo?
    /// The HTTP status, nil when no HTTP answer came.
    public var status: Int?
    /// The raw answer body, for endpoints whose payload matters (e.g. `/users/export/ids`).
    public var body: [UInt8]

    public init(response: BrazeResponse, rateLimit: BrazeRateLimitInfo? = nil, status: Int? = nil, body: [UInt8] = []) {
        self.response = response
        self.rateLimit = rateLimit
        self.status = status
        self.body = body
    }
}

extension BrazeAnswer {
    /// Classifies an HTTP answer. `header` looks a header up case-insensitively; `secret` is scrubbed from any text
    /// taken from the body (a proxy or a bad server could echo the request back).
    static func classify(status: Int, header: (String) -> String?, body: [UInt8], secret: String) -> BrazeAnswer {
        let rateLimit = BrazeRateLimitInfo(headerLookup: header)
        let json = parseJSONObject(body)
        let response: BrazeResponse
        switch status {
        case 200..<300:
            response = .success(processed: processedCounts(json), minorErrors: minorErrors(json, secret: secret))
        case 429:
            response = .rateLimited(retryAfter: header("Retry-After").flatMap(parseRetryAfter), resetAt: rateLimit?.resetAt)
        case 408, 500..<600:
            // 408: the server gave up waiting for the body; sending again can succeed.
            response = .retryable(status: status, reason: message(status: status, json: json, body: body, secret: secret))
        case 400..<500:
            response = .rejected(status: status, message: message(status: status, json: json, body: body, secret: secret))
        default:
            // 1xx/3xx should not reach us; retrying keeps the data rather than dropping it on a surprise.
            response = .retryable(status: status, reason: "unexpected HTTP status: " + message(status: status, json: json, body: body, secret: secret))
        }
        return BrazeAnswer(response: response, rateLimit: rateLimit, status: status, body: body)
    }

    /// The top-level object of a JSON body; nil for an empty or non-JSON body.
    static func parseJSONObject(_ body: [UInt8]) -> [String: Any]? {
        guard !body.isEmpty else { return nil }
        return (try? JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed])) as? [String: Any]
    }

    /// `*_processed` counts and `deleted` (the `/users/delete` answer), the integer fields that report work done.
    static func processedCounts(_ json: [String: Any]?) -> [String: Int] {
        guard let json else { return [:] }
        var counts: [String: Int] = [:]
        for (key, value) in json where key.hasSuffix("_processed") || key == "deleted" {
            if let number = value as? NSNumber, let count = Int(exactly: number.doubleValue) { counts[key] = count }
        }
        return counts
    }

    /// Parses the `errors` array; entries of unknown shape are kept as their JSON text.
    static func minorErrors(_ json: [String: Any]?, secret: String) -> [BrazeMinorError] {
        guard let entries = json?["errors"] as? [Any] else { return [] }
        return entries.map { entry in
            guard let object = entry as? [String: Any] else {
                return BrazeMinorError(message: scrub(entry as? String ?? jsonText(entry), secret: secret))
            }
            let text = object["type"] as? String ?? object["message"] as? String ?? jsonText(object)
            let index = (object["index"] as? NSNumber).flatMap { Int(exactly: $0.doubleValue) }
            return BrazeMinorError(inputArray: object["input_array"] as? String, index: index, message: scrub(text, secret: secret))
        }
    }

    /// Braze's `message` plus the texts of its `errors`, else the start of the body, else the status code.
    static func message(status: Int, json: [String: Any]?, body: [UInt8], secret: String) -> String {
        var text: String
        if let json {
            text = json["message"] as? String ?? "HTTP \(status)"
            let details = minorErrors(json, secret: secret).map(\.message)
            if !details.isEmpty { text += " (" + details.joined(separator: "; ") + ")" }
        } else {
            let raw = String(decoding: body.prefix(200), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            text = raw.isEmpty ? "HTTP \(status)" : "HTTP \(status): \(raw)"
        }
        return scrub(text, secret: secret)
    }

    /// `Retry-After` in (possibly fractional) seconds; the HTTP-date form is not used by Braze and is ignored.
    static func parseRetryAfter(_ value: String) -> Duration? {
        guard let seconds = Double(value.trimmingCharacters(in: .whitespaces)), seconds.isFinite, seconds >= 0 else { return nil }
        // Bounded before converting: a hostile or broken `Retry-After: 1e300` must not trap.
        return .milliseconds(Int64.boundedMillis(seconds * 1000, limit: 86_400_000))
    }

    static func scrub(_ text: String, secret: String) -> String {
        secret.isEmpty ? text : text.replacingOccurrences(of: secret, with: "<redacted>")
    }

    private static func jsonText(_ value: Any) -> String {
        guard JSONSerialization.isValidJSONObject([value]),
              let data = try? JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed, .sortedKeys])
        else { return String(describing: value) }
        return String(decoding: data, as: UTF8.self)
    }
}

extension BrazeRateLimitInfo {
    /// nil when none of the `X-RateLimit-*` headers is present.
    init?(headerLookup header: (String) -> String?) {
        func int(_ name: String) -> Int? { header(name).flatMap { Int($0.trimmingCharacters(in: .whitespaces)) } }
        let reset = header("X-RateLimit-Reset").flatMap { Double($0.trimmingCharacters(in: .whitespaces)) }
        let limit = int("X-RateLimit-Limit"), remaining = int("X-RateLimit-Remaining")
        guard limit != nil || remaining != nil || reset != nil else { return nil }
        self.init(limit: limit, remaining: remaining, resetAt: reset.map { Date(timeIntervalSince1970: $0) })
    }
}

extension BrazeAnswer {
    /// The answer as the console shows it: built from the classified response, whose texts are already
    /// scrubbed of the key, never from the raw body.
    public var summary: String {
        let text: String
        switch response {
        case .success(let processed, let minorErrors):
            var members: [(key: String, value: JSONValue)] = [(key: "message", value: .string(minorErrors.isEmpty ? "success" : "queued"))]
            for (key, count) in processed.sorted(by: { $0.key < $1.key }) { members.append((key: key, value: .number(String(count)))) }
            if !minorErrors.isEmpty {
                members.append((key: "errors", value: .array(minorErrors.prefix(20).map { error in
                    var entry: [(key: String, value: JSONValue)] = [(key: "type", value: .string(error.message))]
                    if let array = error.inputArray { entry.append((key: "input_array", value: .string(array))) }
                    if let index = error.index { entry.append((key: "index", value: .number(String(index)))) }
                    return .object(JSONObject(entry))
                })))
            }
            text = JSONValue.object(JSONObject(members)).serialized
        case .rateLimited(let retryAfter, _):
            text = "rate limited" + (retryAfter.map { ", retry after \($0.components.seconds) s" } ?? "")
        case .retryable(_, let reason):
            text = reason
        case .rejected(_, let message):
            text = message
        }
        return String(text.prefix(2_000))
    }
}

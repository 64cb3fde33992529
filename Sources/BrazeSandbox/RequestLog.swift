import Foundation

/// One Braze API request as received and answered (for `GET /_sandbox/requests`).
struct LoggedRequest: Sendable {
    var sequence: Int
    var time: Date
    var method: String
    var path: String
    var endpoint: String?
    var status: Int
    /// Parsed JSON when the body was JSON, else the raw text, else null.
    var body: JSONValue
    var response: JSONValue
    var injectedFault: Bool

    var json: JSONValue {
        [
            "sequence": .from(sequence),
            "time": .string(ISO8601Time.format(time)),
            "method": .string(method),
            "path": .string(path),
            "endpoint": .from(endpoint),
            "status": .from(status),
            "body": body,
            "response": response,
            "injected_fault": .bool(injectedFault),
        ]
    }
}

/// Requests by endpoint and status, plus data points written.
struct SandboxStats: Sendable {
    var byEndpoint: [String: [Int: Int]] = [:]
    var total = 0

    mutating func record(endpoint: String, status: Int) {
        byEndpoint[endpoint, default: [:]][status, default: 0] += 1
        total += 1
    }

    var requestsJSON: JSONValue {
        .object(byEndpoint.mapValues { statuses in
            .object(Dictionary(uniqueKeysWithValues: statuses.map { (String($0.key), JSONValue.from($0.value)) }))
        })
    }
}

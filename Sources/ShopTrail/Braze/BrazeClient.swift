import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// Sends requests to one Braze REST endpoint and classifies every outcome; it never throws and never logs.
public struct BrazeClient: Sendable, CustomStringConvertible {
    /// Answers larger than this are cut off and treated as a failed exchange (export answers stay well below).
    static let maxAnswerBytes = 16 * 1024 * 1024

    private let httpClient: HTTPClient
    /// Without a trailing slash, e.g. `https://rest.fra-02.braze.eu`.
    public let restEndpoint: String
    /// Kept as a `Secret` (prints `<redacted>`); its value goes only into the `Authorization` header.
    private let apiKey: Secret
    public let timeout: Duration

    /// `httpClient` is shared and owned by the caller, who shuts it down.
    public init(httpClient: HTTPClient, restEndpoint: String, apiKey: Secret, timeout: Duration = .seconds(10)) {
        self.httpClient = httpClient
        var endpoint = restEndpoint.trimmingCharacters(in: .whitespacesAndNewlines)
        while endpoint.hasSuffix("/") { endpoint.removeLast() }
        self.restEndpoint = endpoint
        self.apiKey = apiKey
        self.timeout = timeout
    }

    /// A client for a shop's `braze:` section; nil when the endpoint or the key is missing (dry-run).
    public init?(httpClient: HTTPClient, config: BrazeConfig, timeout: Duration = .seconds(10)) {
        guard let endpoint = config.restEndpoint, !endpoint.isEmpty, let key = config.apiKey, !key.value.isEmpty else { return nil }
        self.init(httpClient: httpClient, restEndpoint: endpoint, apiKey: key, timeout: timeout)
    }

    public var description: String { "BrazeClient(\(restEndpoint), timeout: \(timeout))" }

    /// Sends pre-serialized JSON to a fixed endpoint.
    public func send(_ endpoint: BrazeEndpoint, method: BrazeHTTPMethod = .post, body: [UInt8]) async -> BrazeAnswer {
        await send(BrazeRequest(endpoint, method: method, body: body))
    }

    /// Sends a request and classifies the outcome; transport failures become `.retryable(status: nil, ...)`.
    public func send(_ request: BrazeRequest) async -> BrazeAnswer {
        var http = HTTPClientRequest(url: restEndpoint + request.path)
        http.method = HTTPMethod(rawValue: request.method.rawValue)
        http.headers.add(name: "Content-Type", value: "application/json")
        http.headers.add(name: "Accept", value: "application/json")
        http.headers.add(name: "Authorization", value: "Bearer \(apiKey.value)")
        http.body = .bytes(request.body)

        do {
            // The deadline covers connecting, waiting for the head and reading the body.
            let deadline = NIODeadline.now() + Self.timeAmount(timeout)
            let response = try await httpClient.execute(http, deadline: deadline)
            let buffer = try await response.body.collect(upTo: Self.maxAnswerBytes)
            let headers = response.headers
            return BrazeAnswer.classify(
                status: Int(response.status.code),
                header: { headers.first(name: $0) },
                body: Array(buffer.readableBytesView),
                secret: apiKey.value
            )
        } catch {
            return BrazeAnswer(response: .retryable(status: nil, reason: Self.describe(error, secret: apiKey.value)))
        }
    }

    /// A short reason for a transport failure; the URL and headers are not part of AsyncHTTPClient's errors,
    /// and the key is scrubbed anyway in case some error echoes it.
    static func describe(_ error: any Error, secret: String) -> String {
        let text: String
        if let error = error as? HTTPClientError {
            switch error {
            case .deadlineExceeded, .readTimeout, .writeTimeout: text = "timed out (\(error))"
            case .connectTimeout: text = "connect timed out"
            case .cancelled, .requestStreamCancelled: text = "cancelled"
            case .remoteConnectionClosed: text = "connection closed by Braze before the answer was complete"
            default: text = "HTTP client error: \(error)"
            }
        } else if error is CancellationError {
            text = "cancelled"
        } else if error is NIOTooManyBytesError {
            text = "answer larger than \(maxAnswerBytes) bytes"
        } else {
            // e.g. NIOConnectionError (connection refused, DNS failure) or an IOError.
            text = "connection failed: \(error)"
        }
        return BrazeAnswer.scrub(text, secret: secret)
    }

    static func timeAmount(_ duration: Duration) -> TimeAmount {
        let (seconds, attoseconds) = duration.components
        let nanos = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        guard !nanos.overflow else { return .hours(24 * 365) }
        return .nanoseconds(max(0, nanos.partialValue + attoseconds / 1_000_000_000))
    }
}

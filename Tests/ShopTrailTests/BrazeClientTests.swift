import AsyncHTTPClient
import BrazeSandbox
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
@testable import ShopTrail

/// BrazeClient against the Braze sandbox over real sockets.
@Suite struct BrazeClientTests {
    static let goodKey = "client-test-key-0f3a9c"
    static let wrongKey = "wrong-key-7d41e2b8c5"

    static let time = "2025-03-01T10:00:00Z"
    static func event(_ name: String, id: String = "u1") -> String {
        #"{"external_id":"\#(id)","name":"\#(name)","time":"\#(time)"}"#
    }

    /// Runs `body` with a live sandbox, a fresh HTTPClient and a BrazeClient pointed at the sandbox.
    static func withSandbox(
        key: String = goodKey,
        timeout: Duration = .seconds(10),
        configure: (inout BrazeSandboxConfiguration) -> Void = { _ in },
        _ body: @escaping @Sendable (BrazeClient, any TestClientProtocol) async throws -> Void
    ) async throws {
        var configuration = BrazeSandboxConfiguration(apiKeys: [BrazeAPIKey(goodKey)])
        configure(&configuration)
        let app = buildBrazeSandboxApplication(configuration: configuration, host: "127.0.0.1", port: 0)
        let httpClient = HTTPClient(eventLoopGroupProvider: .singleton)
        do {
            try await app.test(.live) { testClient in
                let port = try #require(testClient.port)
                let client = BrazeClient(httpClient: httpClient, restEndpoint: "http://127.0.0.1:\(port)/", apiKey: Secret(key), timeout: timeout)
                try await body(client, testClient)
            }
        } catch {
            try await httpClient.shutdown()
            throw error
        }
        try await httpClient.shutdown()
    }

    static func bytes(_ json: String) -> [UInt8] { Array(json.utf8) }

    @Test func successReportsProcessedCounts() async throws {
        try await Self.withSandbox { client, sandbox in
            let body = #"{"attributes":[{"external_id":"u1","first_name":"Ada"}],"events":[\#(Self.event("a")),\#(Self.event("b"))]}"#
            let answer = await client.send(.usersTrack, body: Self.bytes(body))
            #expect(answer.status == 201)
            #expect(answer.response == .success(processed: ["attributes_processed": 1, "events_processed": 2], minorErrors: []))
            // Every answer carries Braze's rate-limit headers (braze-docs `_docs/_api/api_limits.md`): 3,000 per 3 s for /users/track.
            #expect(answer.rateLimit?.limit == 3_000 && answer.rateLimit?.remaining == 2_999 && answer.rateLimit?.resetAt != nil)
            // The request really reached Braze with our headers and body.
            let user = try await sandbox.execute(uri: "/_sandbox/users/u1", method: .get) { String(buffer: $0.body) }
            #expect(user.contains("Ada"))
        }
    }

    @Test func partialSuccessNamesTheBadObject() async throws {
        try await Self.withSandbox { client, _ in
            // The event at index 1 has no identifier; Braze processes the others and reports this one.
            let bad = #"{"name":"broken","time":"\#(Self.time)"}"#
            let body = #"{"events":[\#(Self.event("a")),\#(bad),\#(Self.event("c"))]}"#
            let answer = await client.send(.usersTrack, body: Self.bytes(body))
            guard case .success(let processed, let minorErrors) = answer.response else {
                Issue.record("expected success, got \(answer.response)")
                return
            }
            #expect(processed == ["events_processed": 2])
            #expect(minorErrors.count == 1)
            let error = try #require(minorErrors.first)
            #expect(error.inputArray == "events")
            #expect(error.index == 1)
            #expect(!error.message.isEmpty)
        }
    }

    @Test func wrongKeyIsRejectedWithoutLeakingIt() async throws {
        try await Self.withSandbox(key: Self.wrongKey) { client, _ in
            let answer = await client.send(.usersTrack, body: Self.bytes(#"{"events":[\#(Self.event("a"))]}"#))
            guard case .rejected(let status, let message) = answer.response else {
                Issue.record("expected rejected, got \(answer.response)")
                return
            }
            #expect(status == 401)
            #expect(!message.isEmpty)
            for text in [String(describing: answer), String(reflecting: answer), String(describing: client), String(reflecting: client)] {
                #expect(!text.contains(Self.wrongKey))
            }
        }
    }

    @Test func malformedBodyIsRejected() async throws {
        try await Self.withSandbox { client, _ in
            let notJSON = await client.send(.usersTrack, body: Self.bytes("{not json"))
            guard case .rejected(400, let message) = notJSON.response else {
                Issue.record("expected rejected(400), got \(notJSON.response)")
                return
            }
            #expect(message.contains("not valid JSON"))
            let empty = await client.send(.usersTrack, body: Self.bytes("{}"))
            guard case .rejected(400, _) = empty.response else {
                Issue.record("expected rejected(400), got \(empty.response)")
                return
            }
        }
    }

    @Test func injectedServerErrorIsRetryable() async throws {
        try await Self.withSandbox { client, sandbox in
            try await sandbox.setFaults(#"{"next":1,"status":503}"#)
            let body = Self.bytes(#"{"events":[\#(Self.event("a"))]}"#)
            let failed = await client.send(.usersTrack, body: body)
            guard case .retryable(503, let reason) = failed.response else {
                Issue.record("expected retryable(503), got \(failed.response)")
                return
            }
            #expect(reason.contains("503"))
            // Only one request was faulted.
            #expect(await client.send(.usersTrack, body: body).response == .success(processed: ["events_processed": 1], minorErrors: []))
        }
    }

    @Test func injected429CarriesRetryAfter() async throws {
        try await Self.withSandbox { client, sandbox in
            try await sandbox.setFaults(#"{"next":1,"status":429,"retry_after":2}"#)
            let before = Date()
            let answer = await client.send(.usersTrack, body: Self.bytes(#"{"events":[\#(Self.event("a"))]}"#))
            guard case .rateLimited(let retryAfter, let resetAt) = answer.response else {
                Issue.record("expected rateLimited, got \(answer.response)")
                return
            }
            #expect(retryAfter == .seconds(2))
            let reset = try #require(resetAt)
            #expect(reset > before && reset < before.addingTimeInterval(60))
            #expect(answer.rateLimit?.remaining == 0)
        }
    }

    @Test func configuredRateLimitIsParsedAndEnforced() async throws {
        try await Self.withSandbox(configure: { $0.rateLimit = BrazeRateLimit(requests: 2, windowSeconds: 60) }) { client, _ in
            let body = Self.bytes(#"{"events":[\#(Self.event("a"))]}"#)
            let start = Date()
            let first = await client.send(.usersTrack, body: body)
            #expect(first.response == .success(processed: ["events_processed": 1], minorErrors: []))
            let info = try #require(first.rateLimit)
            #expect(info.limit == 2)
            #expect(info.remaining == 1)
            let firstReset = try #require(info.resetAt)
            #expect(firstReset > start && firstReset < start.addingTimeInterval(120))

            let second = await client.send(.usersTrack, body: body)
            #expect(second.rateLimit?.remaining == 0)

            let third = await client.send(.usersTrack, body: body)
            #expect(third.status == 429)
            guard case .rateLimited(let retryAfter, let resetAt) = third.response else {
                Issue.record("expected rateLimited, got \(third.response)")
                return
            }
            let reset = try #require(resetAt)
            #expect(reset > Date())
            let wait = try #require(retryAfter)
            #expect(wait > .zero && wait <= .seconds(61))
            #expect(third.rateLimit?.limit == 2)
        }
    }

    @Test func catalogItemsUseTheCatalogPathAndMethod() async throws {
        try await Self.withSandbox { client, sandbox in
            let create = #"{"catalogs":[{"name":"products","description":"p","fields":[{"name":"id","type":"string"},{"name":"title","type":"string"}]}]}"#
            let created = await client.send(.catalogs, body: Self.bytes(create))
            guard case .success = created.response else {
                Issue.record("expected success, got \(created.response)")
                return
            }
            let items = #"{"items":[{"id":"p1","title":"Shirt"}]}"#
            let added = await client.send(.catalogItems("products", method: .post, body: Self.bytes(items)))
            guard case .success = added.response else {
                Issue.record("expected success, got \(added.response)")
                return
            }
            let stored = try await sandbox.execute(uri: "/_sandbox/catalogs/products/items", method: .get) { String(buffer: $0.body) }
            #expect(stored.contains("Shirt"))
            let missing = await client.send(.catalogItems("no-such-catalog", method: .patch, body: Self.bytes(items)))
            guard case .rejected(let status, _) = missing.response else {
                Issue.record("expected rejected, got \(missing.response)")
                return
            }
            #expect((400..<500).contains(status))
        }
    }

    @Test func connectionRefusedIsRetryableWithoutStatus() async throws {
        let httpClient = HTTPClient(eventLoopGroupProvider: .singleton)
        // Port 1 on loopback: nothing listens there, so the connection is refused. AsyncHTTPClient keeps retrying
        // the connect until the deadline, so a short timeout keeps the test quick.
        let client = BrazeClient(httpClient: httpClient, restEndpoint: "http://127.0.0.1:1", apiKey: Secret(Self.goodKey), timeout: .seconds(2))
        let answer = await client.send(.usersTrack, body: Self.bytes("{}"))
        try await httpClient.shutdown()
        guard case .retryable(nil, let reason) = answer.response else {
            Issue.record("expected retryable(nil), got \(answer.response)")
            return
        }
        #expect(reason.contains("connection failed"))
        #expect(!reason.contains(Self.goodKey))
        #expect(answer.status == nil && answer.rateLimit == nil)
    }

    @Test func slowAnswerTimesOutAsRetryable() async throws {
        try await Self.withSandbox(timeout: .milliseconds(300)) { client, sandbox in
            try await sandbox.setFaults(#"{"latency_ms":1500}"#)
            let answer = await client.send(.usersTrack, body: Self.bytes(#"{"events":[\#(Self.event("a"))]}"#))
            guard case .retryable(nil, let reason) = answer.response else {
                Issue.record("expected retryable(nil), got \(answer.response)")
                return
            }
            // Had the client waited, the sandbox's answer (after 1.5 s) would have been a success.
            #expect(reason.contains("timed out"))
        }
    }

    @Test func classifiesUnusualAnswers() {
        let noHeaders: (String) -> String? = { _ in nil }
        // Non-JSON 502 from a proxy.
        let proxy = BrazeAnswer.classify(status: 502, header: noHeaders, body: Array("<html>Bad Gateway</html>".utf8), secret: "k")
        #expect(proxy.response == .retryable(status: 502, reason: "HTTP 502: <html>Bad Gateway</html>"))
        // Empty 202 (asynchronous endpoints).
        #expect(BrazeAnswer.classify(status: 202, header: noHeaders, body: [], secret: "k").response == .success(processed: [:], minorErrors: []))
        // Unknown minor-error shapes are kept as text; an echoed key is scrubbed.
        let odd = #"{"message":"success","errors":["plain text",{"weird":1},{"type":"bad secret-key-x","input_array":"purchases","index":0}]}"#
        let answer = BrazeAnswer.classify(status: 201, header: noHeaders, body: Array(odd.utf8), secret: "secret-key-x")
        #expect(answer.response == .success(processed: [:], minorErrors: [
            BrazeMinorError(message: "plain text"),
            BrazeMinorError(message: #"{"weird":1}"#),
            BrazeMinorError(inputArray: "purchases", index: 0, message: "bad <redacted>"),
        ]))
        // 429 without any header still classifies.
        #expect(BrazeAnswer.classify(status: 429, header: noHeaders, body: [], secret: "k").response == .rateLimited(retryAfter: nil, resetAt: nil))
        #expect(BrazeRequest.catalogItems("a b/c", method: .delete, body: []).path == "/catalogs/a%20b%2Fc/items")
    }
}

extension TestClientProtocol {
    /// Configures sandbox faults and checks the sandbox accepted them.
    func setFaults(_ json: String) async throws {
        let status = try await execute(
            uri: "/_sandbox/faults", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: json)
        ) { $0.status }
        #expect(status == .ok)
    }
}

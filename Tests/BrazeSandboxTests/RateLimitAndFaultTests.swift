import Foundation
import HummingbirdTesting
import Synchronization
import Testing
@testable import BrazeSandbox

/// A clock the test moves by hand, so time windows do not depend on how busy the machine is.
final class TestClock: Sendable {
    private let current = Mutex(Date(timeIntervalSince1970: 1_795_428_000))
    func now() -> Date { current.withLock { $0 } }
    func advance(seconds: Double) { current.withLock { $0 = $0.addingTimeInterval(seconds) } }
}

@Suite struct RateLimitAndFaultTests {
    static let body: JSONValue = ["events": [Make.event()]]

    @Test func normalAnswersCarryRateLimitHeaders() async throws {
        try await withSandbox({ $0.rateLimit = BrazeRateLimit(requests: 10, windowSeconds: 60) }) { client in
            let first = try await client.track(Self.body)
            #expect(first.header("X-RateLimit-Limit") == "10")
            #expect(first.header("X-RateLimit-Remaining") == "9")
            let reset = try #require(first.header("X-RateLimit-Reset").flatMap(Int.init))
            let now = Int(Date().timeIntervalSince1970)
            #expect(reset > now && reset <= now + 61)
            #expect(first.header("Retry-After") == nil)
            let second = try await client.track(Self.body)
            #expect(second.header("X-RateLimit-Remaining") == "8")
        }
    }

    @Test func exceedingTheLimitAnswers429ThenRecovers() async throws {
        let clock = TestClock()
        try await withSandbox({ $0.rateLimit = BrazeRateLimit(requests: 3, windowSeconds: 1); $0.now = { clock.now() } }) { client in
            for expected in ["2", "1", "0"] {
                let ok = try await client.track(Self.body)
                #expect(ok.status == 201)
                #expect(ok.header("X-RateLimit-Remaining") == expected)
            }
            let limited = try await client.track(Self.body)
            #expect(limited.status == 429)
            #expect(limited.header("X-RateLimit-Limit") == "3")
            #expect(limited.header("X-RateLimit-Remaining") == "0")
            #expect(limited.header("X-RateLimit-Reset") != nil)
            #expect(limited.header("Retry-After") == "1")
            // The rejected request wrote nothing.
            #expect(try await client.user("u1")?["events"]?.arrayValue?.count == 3)
            // Other groups have their own budget.
            #expect(try await client.braze("/users/delete", json: ["external_ids": ["zz"]]).status == 201)
            clock.advance(seconds: 1.1)
            let recovered = try await client.track(Self.body)
            #expect(recovered.status == 201)
            #expect(recovered.header("X-RateLimit-Remaining") == "2")
            let stats = try await client.sandbox("/_sandbox/stats").body
            #expect(stats["requests"]?["POST /users/track"] == ["201": 4, "429": 1])
        }
    }

    @Test func perGroupOverride() async throws {
        try await withSandbox({ $0.rateLimitOverrides[.usersIdentity] = BrazeRateLimit(requests: 1, windowSeconds: 60) }) { client in
            #expect(try await client.braze("/users/delete", json: ["external_ids": ["a"]]).status == 201)
            #expect(try await client.braze("/users/alias/new", json: ["user_aliases": [["alias_name": "a", "alias_label": "b"]]]).status == 429)
            let track = try await client.track(Self.body)
            #expect(track.status == 201)
            // users.track keeps Braze's documented default (api_limits.md): 3,000 per 3 seconds.
            #expect(track.header("X-RateLimit-Limit") == "3000")
        }
    }

    @Test func nextNRequestsFailWithTheInjectedStatus() async throws {
        try await withSandbox { client in
            let set = try await client.faults(#"{"next": 2, "status": 503}"#)
            #expect(set.status == 200)
            #expect(set.body["next"]?["remaining"] == 2)
            for _ in 0..<2 {
                let failed = try await client.track(Self.body)
                #expect(failed.status == 503)
            }
            #expect(try await client.user("u1") == nil, "faulted requests are not processed")
            #expect(try await client.track(Self.body).status == 201)
            let log = try await client.sandbox("/_sandbox/requests").body.arrayValue ?? []
            #expect(log.compactMap { $0["status"]?.intValue } == [503, 503, 201])
            #expect(log.compactMap { $0["injected_fault"]?.boolValue } == [true, true, false])
        }
    }

    @Test func injected429CarriesRetryAfter() async throws {
        try await withSandbox { client in
            _ = try await client.faults(#"{"status": 429, "next": 1, "retry_after": 7}"#)
            let limited = try await client.track(Self.body)
            #expect(limited.status == 429)
            #expect(limited.header("Retry-After") == "7")
            #expect(limited.header("X-RateLimit-Remaining") == "0")
            #expect(try await client.track(Self.body).status == 201)
        }
    }

    @Test func outageWindowThenRecovery() async throws {
        let clock = TestClock()
        try await withSandbox({ $0.now = { clock.now() } }) { client in
            _ = try await client.faults(#"{"outage_seconds": 1, "status": 502}"#)
            #expect(try await client.track(Self.body).status == 502)
            #expect(try await client.braze("/users/delete", json: ["external_ids": ["x"]]).status == 502)
            #expect(try await client.sandbox("/_sandbox/faults").body["outage"]?["status"] == 502)
            clock.advance(seconds: 1.1)
            #expect(try await client.track(Self.body).status == 201)
        }
    }

    @Test func latencyIsAdded() async throws {
        try await withSandbox { client in
            // Wide margins: the test must hold on a loaded 2-core machine.
            _ = try await client.faults(#"{"latency_ms": 1000}"#)
            let clock = ContinuousClock()
            let start = clock.now
            #expect(try await client.track(Self.body).status == 201)
            #expect(clock.now - start >= .milliseconds(990))  // timer slack between the sleeping server and this clock
            // Cleared: the fault list no longer holds the latency (no upper bound on a duration: the machine is shared).
            _ = try await client.faults(#"{"clear": true}"#)
            #expect(try await client.sandbox("/_sandbox/faults").body["latency_ms"] == .from(0))
            #expect(try await client.track(Self.body).status == 201)
        }
    }

    @Test func clearRemovesPendingFaults() async throws {
        try await withSandbox { client in
            _ = try await client.faults(#"{"next": 5, "status": 500}"#)
            #expect(try await client.track(Self.body).status == 500)
            let cleared = try await client.faults(#"{"clear": true}"#)
            #expect(cleared.body["next"]?["remaining"] == 0)
            #expect(try await client.track(Self.body).status == 201)
        }
    }

    @Test(arguments: [#"{"status": 200, "next": 1}"#, #"{"next": -1}"#, #"{"bogus": 1}"#, #"{}"#, "not json", #"{"latency_ms": "fast"}"#])
    func badFaultBodiesAre400(body: String) async throws {
        try await withSandbox { client in
            let answer = try await client.faults(body)
            #expect(answer.status == 400)
            #expect(answer.message?.isEmpty == false)
            #expect(try await client.track(Self.body).status == 201)
        }
    }

    @Test func requestLogRecordsEveryBrazeRequest() async throws {
        try await withSandbox { client in
            _ = try await client.track(Self.body)
            _ = try await client.braze("/users/track", "{oops", key: nil)
            let log = try await client.sandbox("/_sandbox/requests").body.arrayValue ?? []
            #expect(log.count == 2)
            let first = try #require(log.first)
            #expect(first["method"] == "POST")
            #expect(first["path"] == "/users/track")
            #expect(first["status"] == 201)
            #expect(first["body"] == Self.body)
            #expect(first["time"]?.stringValue.flatMap(ISO8601Time.parse) != nil)
            #expect(log.last?["status"] == 401)
            #expect(log.last?["body"] == "{oops")
            let filtered = try await client.sandbox("/_sandbox/requests?path=/users/delete").body
            #expect(filtered == [])
        }
    }

    @Test func dataPointsAreCountedAsBrazeBillsThem() async throws {
        try await withSandbox { client in
            _ = try await client.track([
                "attributes": [
                    // email, first_name, country, custom string: 4. Identifiers and subscriptions: free.
                    ["external_id": "u1", "email": "a@example.com", "first_name": "A", "country": "US", "plan": "gold",
                     "email_subscribe": "subscribed", "subscription_groups": [["subscription_group_id": "g", "subscription_state": "subscribed"]]],
                    // Whole array: 1. Nested object with 3 leaf keys: 3.
                    ["external_id": "u1", "tags": ["a", "b", "c"], "profile": ["size": "M", "fit": ["cut": "slim", "len": "long"]]],
                    // add 2 + remove 1: 3.
                    ["external_id": "u1", "tags": ["add": ["d", "e"], "remove": ["a"]]],
                    // Update-only on an unknown user: nothing is written.
                    ["external_id": "ghost", "first_name": "G", "_update_existing_only": true],
                ],
                "events": [Make.event(), Make.event(properties: ["a": 1, "b": 2])],
                "purchases": [["external_id": "u1", "product_id": "p", "currency": "USD", "price": 1, "time": .string(Make.time)]],
            ])
            // Invalid objects cost nothing.
            _ = try await client.track(["events": [["external_id": "u1", "name": "x"]]])
            let points = try #require(try await client.sandbox("/_sandbox/stats").body["data_points"])
            #expect(points["attributes"] == 11)
            #expect(points["events"] == 2)
            #expect(points["purchases"] == 1)
            #expect(points["total"] == 14)
        }
    }

    @Test func resetForgetsEverything() async throws {
        try await withSandbox { client in
            _ = try await client.track(Self.body)
            _ = try await client.faults(#"{"next": 3}"#)
            #expect(try await client.sandbox("/_sandbox/reset", method: .post).status == 200)
            #expect(try await client.users().isEmpty)
            #expect(try await client.sandbox("/_sandbox/requests").body == [])
            #expect(try await client.sandbox("/_sandbox/stats").body["requests_total"] == 0)
            #expect(try await client.track(Self.body).status == 201)
        }
    }
}

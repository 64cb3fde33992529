import AsyncHTTPClient
import BrazeSandbox
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Testing
@testable import ShopTrail

/// The forwarder with the real BrazeClient against the Braze sandbox over real sockets.
@Suite struct BrazeForwarderTests {
    static let shop = "a-shop.myshopify.com"
    static let key = "forwarder-test-key"

    struct Harness {
        let outbox: SQLiteOutbox
        let forwarder: BrazeForwarder
        let clock: ManualClock
        let sandbox: any TestClientProtocol
        let client: BrazeClient
        let temp: TempStore

        /// Runs rounds until the outbox is empty, moving the clock past any wait; returns rounds that sent.
        func drain(maxRounds: Int = 2_000) async throws -> Int {
            var sent = 0
            for _ in 0..<maxRounds {
                let status = try await outbox.status(shop: BrazeForwarderTests.shop, now: clock.now())
                if status.pending == 0 { return sent }
                let round = try await forwarder.round(shop: BrazeForwarderTests.shop)
                if round.sent { sent += 1 } else { clock.set(clock.now() + 1_000) }
            }
            Issue.record("outbox did not drain")
            return sent
        }

        /// Moves the clock until the forwarder sends one request, and returns that round.
        func sendOne(maxRounds: Int = 1_000) async throws -> BrazeForwarder.Round {
            for _ in 0..<maxRounds {
                let round = try await forwarder.round(shop: BrazeForwarderTests.shop)
                if round.sent { return round }
                clock.set(clock.now() + 1_000)
            }
            Issue.record("nothing was sent")
            return BrazeForwarder.Round()
        }

        func get(_ path: String) async throws -> Any {
            let text = try await sandbox.execute(uri: path, method: .get) { String(buffer: $0.body) }
            return try JSONSerialization.jsonObject(with: Data(text.utf8))
        }

        func fault(_ json: String) async throws {
            try await sandbox.execute(uri: "/_sandbox/faults", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: json)) { response in
                #expect(response.status == .ok, "\(String(buffer: response.body))")
            }
        }

        /// Each user's event names in the order Braze stored them.
        func eventsByUser() async throws -> [String: [String]] {
            let users = try await get("/_sandbox/users") as? [[String: Any]] ?? []
            var result: [String: [String]] = [:]
            for user in users {
                guard let id = user["external_id"] as? String else { continue }
                result[id] = (user["events"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
            }
            return result
        }

        func trackRequests() async throws -> [[String: Any]] {
            try await get("/_sandbox/requests?path=/users/track") as? [[String: Any]] ?? []
        }
    }

    static func withHarness(settings: ForwarderSettings = { var s = ForwarderSettings(); s.lingerMillis = 0; return s }(),
                            _ body: @escaping @Sendable (Harness) async throws -> Void) async throws {
        let app = buildBrazeSandboxApplication(configuration: BrazeSandboxConfiguration(apiKeys: [BrazeAPIKey(key)]), host: "127.0.0.1", port: 0)
        let httpClient = HTTPClient(eventLoopGroupProvider: .singleton)
        let temp = try TempStore()
        do {
            try await app.test(.live) { sandbox in
                let port = try #require(sandbox.port)
                let client = BrazeClient(httpClient: httpClient, restEndpoint: "http://127.0.0.1:\(port)", apiKey: Secret(key))
                let outbox = SQLiteOutbox(database: temp.store.database)
                let clock = ManualClock()
                let forwarder = BrazeForwarder(outbox: outbox, senders: [shop: client], clock: clock, settings: settings, logger: Fixtures.logger())
                try await body(Harness(outbox: outbox, forwarder: forwarder, clock: clock, sandbox: sandbox, client: client, temp: temp))
            }
        } catch {
            try await httpClient.shutdown()
            throw error
        }
        try await httpClient.shutdown()
    }

    static func event(_ n: Int, user: String, time: String = "2026-11-23T10:00:00.000Z", at: EpochMillis = 0) -> BrazeOperation {
        BrazeOperation(id: "op-\(user)-\(n)", shop: shop, userKey: user, kind: .event,
                       payload: #"{"external_id":"\#(user)","name":"e\#(n)","time":"\#(time)"}"#, createdAt: at)
    }

    @Test func tenThousandEventsFor500UsersArriveOnceInOrderInFullRequests() async throws {
        try await Self.withHarness { h in
            var ops: [BrazeOperation] = []
            for n in 0..<20 { for u in 0..<500 { ops.append(Self.event(n, user: "user\(u)")) } }
            #expect(try await h.outbox.enqueue(ops) == 10_000)
            let sent = try await h.drain()
            #expect(sent <= Int((10_000.0 / 75).rounded(.up)) + 2, "\(sent) requests")
            let events = try await h.eventsByUser()
            #expect(events.count == 500)
            #expect(events.values.allSatisfy { $0 == (0..<20).map { "e\($0)" } })
            #expect(try await h.trackRequests().count == sent)
        }
    }

    @Test func outagesAndRateLimitsDeliverEveryOperationExactlyOnce() async throws {
        try await Self.withHarness { h in
            try await h.outbox.enqueue((0..<300).map { Self.event($0 % 30, user: "u\($0 / 30)") })
            try await h.fault(#"{"next": 3, "status": 503}"#)
            for _ in 0..<3 { #expect(try await h.sendOne().retried == 75) }  // three 503s: backing off
            try await h.fault(#"{"next": 2, "status": 429, "retry_after": 2}"#)
            _ = try await h.drain()
            let events = try await h.eventsByUser()
            #expect(events.count == 10)
            #expect(events.values.allSatisfy { $0 == (0..<30).map { "e\($0)" } }, "\(events)")
            let statuses = try await h.trackRequests().compactMap { $0["status"] as? Int }
            #expect(statuses.filter { $0 == 503 }.count == 3)
            #expect(statuses.filter { $0 == 429 }.count == 2)
            #expect(statuses.filter { $0 == 201 }.count == 4)  // 300 events = 4 full requests
            #expect(try await h.outbox.status(shop: Self.shop, now: h.clock.now()) == OutboxStatus(pending: 0, inFlight: 0, dead: 0, oldestPendingAgeMillis: nil))
        }
    }

    @Test func anObjectBrazeRejectsIsDeadLetteredAndTheRestDelivered() async throws {
        try await Self.withHarness { h in
            try await h.outbox.enqueue([Self.event(0, user: "a"), Self.event(1, user: "a", time: "yesterday"), Self.event(2, user: "a")])
            _ = try await h.drain()
            #expect(try await h.eventsByUser()["a"] == ["e0", "e2"])
            let status = try await h.outbox.status(shop: Self.shop, now: h.clock.now())
            #expect(status.dead == 1 && status.pending == 0)
        }
    }

    @Test func aWholeRequestRefusedIsSplitToIsolateTheBadOperation() async throws {
        try await Self.withHarness { h in
            var bad = Self.event(1, user: "b")
            bad.payload = #"{"external_id":"b","name":"e1","time":"2026-11-23T10:00:00.000Z""#  // truncated JSON: Braze answers 400
            try await h.outbox.enqueue([Self.event(0, user: "a"), bad, Self.event(2, user: "c")])
            _ = try await h.drain()
            let events = try await h.eventsByUser()
            #expect(events["a"] == ["e0"] && events["c"] == ["e2"] && events["b"] == nil)
            #expect(try await h.outbox.status(shop: Self.shop, now: h.clock.now()).dead == 1)
        }
    }

    @Test func aForwarderThatDiedMidBatchLosesNothing() async throws {
        try await Self.withHarness { h in
            try await h.outbox.enqueue((0..<10).map { Self.event($0, user: "k") })
            // A forwarder claimed everything and died before Braze answered.
            _ = try await h.outbox.claim(shop: Self.shop, now: h.clock.now(), limit: 300, leaseMillis: 3_600_000)
            #expect(try await h.forwarder.round(shop: Self.shop).sent == false)
            // The next process releases the dead one's claims at start, then delivers.
            try await h.outbox.releaseClaims()
            _ = try await h.drain()
            #expect(try await h.eventsByUser()["k"] == (0..<10).map { "e\($0)" })
        }
    }

    @Test func aPartlyFilledRequestLingersUntilItsOldestOperationIsOldEnough() async throws {
        var settings = ForwarderSettings()
        settings.lingerMillis = 500
        try await Self.withHarness(settings: settings) { h in
            let start = h.clock.now()
            try await h.outbox.enqueue([Self.event(0, user: "l", at: start)])
            #expect(try await h.forwarder.round(shop: Self.shop).sent == false)
            h.clock.set(start + 600)
            let round = try await h.forwarder.round(shop: Self.shop)
            #expect(round.sent && round.delivered == 1)
        }
    }

    @Test func theServiceStoppedMidRequestAndRestartedLosesNothing() async throws {
        try await Self.withHarness { h in
            try await h.outbox.enqueue((0..<1_500).map { Self.event($0 / 50, user: "r\($0 % 50)") })
            try await h.fault(#"{"latency_ms": 40}"#)  // requests are in flight long enough to be cut
            var settings = ForwarderSettings()
            settings.lingerMillis = 0
            settings.backoffBaseMillis = 20
            for stop in 1...3 {
                let forwarder = BrazeForwarder(outbox: h.outbox, senders: [Self.shop: h.client], clock: SystemClock(), settings: settings, logger: Fixtures.logger())
                let task = Task { try await forwarder.run() }
                try await Task.sleep(for: .milliseconds(70 * stop))
                task.cancel()
                _ = try? await task.value
            }
            #expect(try await h.outbox.status(shop: Self.shop, now: h.clock.now()).pending > 0, "stopped before the end")
            let forwarder = BrazeForwarder(outbox: h.outbox, senders: [Self.shop: h.client], clock: SystemClock(), settings: settings, logger: Fixtures.logger())
            let task = Task { try await forwarder.run() }
            for _ in 0..<600 where try await h.outbox.status(shop: Self.shop, now: h.clock.now()).pending > 0 {
                try await Task.sleep(for: .milliseconds(50))
            }
            task.cancel()
            _ = try? await task.value
            #expect(try await h.outbox.status(shop: Self.shop, now: h.clock.now()) == OutboxStatus(pending: 0, inFlight: 0, dead: 0, oldestPendingAgeMillis: nil))
            // At least once: a request cut after Braze took it may come again, but every event is there, in order.
            let events = try await h.eventsByUser()
            #expect(events.count == 50)
            for (user, names) in events {
                var firsts: [String] = []
                for name in names where !firsts.contains(name) { firsts.append(name) }
                #expect(firsts == (0..<30).map { "e\($0)" }, "\(user)")
            }
        }
    }
}

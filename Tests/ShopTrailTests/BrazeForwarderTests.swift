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
                            limits: BrazeRequestLimits = .init(),
                            _ body: @escaping @Sendable (Harness) async throws -> Void) async throws {
        let app = buildBrazeSandboxApplication(configuration: BrazeSandboxConfiguration(apiKeys: [BrazeAPIKey(key)], limits: limits), host: "127.0.0.1", port: 0)
        let httpClient = HTTPClient(eventLoopGroupProvider: .singleton)
        let temp = try TempStore()
        do {
            try await app.test(.live) { sandbox in
                let port = try #require(sandbox.port)
                let client = BrazeClient(httpClient: httpClient, restEndpoint: "http://127.0.0.1:\(port)", apiKey: Secret(key), timeout: .seconds(120))
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

    static func attributes(_ n: Int, user: String) -> BrazeOperation {
        BrazeOperation(id: "attr-\(user)-\(n)", shop: shop, userKey: user, kind: .attributes,
                       payload: #"{"external_id":"\#(user)","shopify_order_count":"\#(n)"}"#, createdAt: 0)
    }

    /// Objects per `/users/track` request the sandbox logged, all arrays together.
    static func objectCounts(_ requests: [[String: Any]]) -> [Int] {
        requests.compactMap { request in
            guard let body = request["body"] as? [String: Any] else { return nil }
            return ["attributes", "events", "purchases"].reduce(0) { $0 + ((body[$1] as? [Any])?.count ?? 0) }
        }
    }

    /// Braze's current limit: 75 objects in total across attributes, events and purchases
    /// (braze-docs `_docs/_api/api_limits.md`, the rate-limit page; more is refused whole with 400).
    @Test func mixedAttributesAndEventsFillRequestsToTheCombinedLimitAndNeverDrawA400() async throws {
        var limits = BrazeRequestLimits()
        limits.maxTrackObjects = 75
        try await Self.withHarness(limits: limits) { h in
            var ops: [BrazeOperation] = []
            for n in 0..<10 { for u in 0..<150 { ops.append(n % 2 == 0 ? Self.event(n, user: "user\(u)") : Self.attributes(n, user: "user\(u)")) } }
            try await h.outbox.enqueue(ops)
            let sent = try await h.drain()
            let requests = try await h.trackRequests()
            let statuses = requests.compactMap { $0["status"] as? Int }
            #expect(statuses.allSatisfy { $0 == 201 }, "\(statuses.filter { $0 != 201 })")
            let counts = Self.objectCounts(requests)
            #expect(counts.count == sent && counts.reduce(0, +) == 1_500)
            #expect(counts.allSatisfy { $0 <= 75 })
            #expect(sent == 20, "1,500 objects in full requests of 75: \(counts)")
            #expect(try await h.outbox.status(shop: Self.shop, now: h.clock.now()).dead == 0)
        }
    }

    /// Accounts on the newer MAU packages take 50 in total; the shop's setting packs to it.
    @Test func aShopOnTheFiftyObjectLimitGetsRequestsOfFifty() async throws {
        var limits = BrazeRequestLimits()
        limits.maxTrackObjects = 50
        var shop = Fixtures.shopA  // a-shop.myshopify.com, the harness's shop
        shop.braze.trackObjectsPerRequest = 50
        var settings = ForwarderSettings(shops: [shop])
        settings.lingerMillis = 0
        #expect(settings.packer(for: Self.shop).maxTrackObjects == 50)
        try await Self.withHarness(settings: settings, limits: limits) { h in
            try await h.outbox.enqueue((0..<400).map { $0 % 3 == 0 ? Self.attributes($0, user: "u\($0 % 40)") : Self.event($0, user: "u\($0 % 40)") })
            _ = try await h.drain()
            let requests = try await h.trackRequests()
            #expect(requests.allSatisfy { ($0["status"] as? Int) == 201 })
            let counts = Self.objectCounts(requests)
            #expect(counts.reduce(0, +) == 400 && counts.allSatisfy { $0 <= 50 } && counts.filter { $0 == 50 }.count == 8, "\(counts)")
        }
    }

    /// Braze answers 413 above 4 MB (braze-docs `_docs/_api/endpoints/user_data.md`): large events are
    /// packed into requests under that, and one that is alone larger still goes (alone).
    @Test func requestsStayUnderFourMegabytes() throws {
        let padding = String(repeating: "x", count: 90_000)
        var seq: Int64 = 0
        func entry(_ n: Int, pad: String) -> OutboxEntry {
            seq += 1
            let op = BrazeOperation(id: "big-\(n)", shop: Self.shop, userKey: "u\(n)", kind: .event,
                                    payload: #"{"external_id":"u\#(n)","name":"e","time":"2026-11-23T10:00:00Z","properties":{"p":"\#(pad)"}}"#, createdAt: 0)
            return OutboxEntry(seq: seq, operation: op, attempts: 0, lastError: nil)
        }
        let packer = BrazeRequestPacker()
        let packed = try #require(packer.pack((0..<75).map { entry($0, pad: padding) }))
        #expect(packed.request.body.count <= 4_000_000)
        #expect(packed.carried.count == 4_000_000 / 90_100 || packed.carried.count == 4_000_000 / 90_100 - 1, "\(packed.carried.count)")
        #expect(packed.carried.count + packed.leftover.count == 75)
        let huge = try #require(packer.pack([entry(99, pad: String(repeating: "y", count: 4_100_000)), entry(100, pad: "z")]))
        #expect(huge.carried.count == 1 && huge.leftover.count == 1)
    }

    /// The client paces by Braze's `X-RateLimit-*` headers (braze-docs `_docs/_api/api_limits.md`):
    /// what is left is spread over the time to the reset; nothing left waits for it; hostile values are bounded.
    @Test func pacingFollowsTheRateLimitHeaders() async throws {
        try await Self.withHarness { h in
            let now: EpochMillis = 1_800_000_000_000
            let path = ShopTrail.BrazeEndpoint.usersTrack.path
            let reset = Date(timeIntervalSince1970: Double(now + 3_000) / 1000)
            let configured = h.forwarder.interval(nil, path: path, now: now)
            #expect(configured >= 1)
            #expect(h.forwarder.interval(BrazeRateLimitInfo(limit: 3000, remaining: 10, resetAt: reset), path: path, now: now) == 300)
            #expect(h.forwarder.interval(BrazeRateLimitInfo(limit: 3000, remaining: 0, resetAt: reset), path: path, now: now) == 3_000)
            #expect(h.forwarder.interval(BrazeRateLimitInfo(limit: 3000, remaining: 3000, resetAt: reset), path: path, now: now) == configured)
            #expect(h.forwarder.interval(BrazeRateLimitInfo(limit: 3000, remaining: -5, resetAt: reset), path: path, now: now) == 3_000)
            let farAway = Date(timeIntervalSince1970: 1e300)
            #expect(h.forwarder.interval(BrazeRateLimitInfo(limit: 1, remaining: 0, resetAt: farAway), path: path, now: now) == 3_600_000)
            #expect(h.forwarder.interval(BrazeRateLimitInfo(limit: 1, remaining: 1, resetAt: Date(timeIntervalSince1970: 0)), path: path, now: now) == configured)
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

    /// The running service comes back for a lingering request when its linger ends, not after an idle poll
    /// (it once slept the whole poll when its own claim and release outlasted the pacing slot: p50 540 ms).
    @Test func theServiceSendsALingeringRequestWhenItsLingerEnds() async throws {
        try await Self.withHarness { h in
            var settings = ForwarderSettings()
            settings.lingerMillis = 50
            settings.idlePollMillis = 600_000  // an idle poll would outlast the test's deadline
            settings.requestsPerMinute = settings.requestsPerMinute.mapValues { _ in 1e9 }  // no pacing gap at all
            let forwarder = BrazeForwarder(outbox: h.outbox, senders: [Self.shop: h.client], clock: SystemClock(), settings: settings, logger: Fixtures.logger())
            try await h.outbox.enqueue([Self.event(0, user: "lone", at: SystemClock().now())])
            let task = Task { try await forwarder.run() }
            let deadline = ContinuousClock.now + .seconds(120)
            while ContinuousClock.now < deadline, try await h.eventsByUser()["lone"] == nil {
                try await Task.sleep(for: .milliseconds(50))
            }
            task.cancel()
            _ = try? await task.value
            #expect(try await h.eventsByUser()["lone"] == ["e0"])
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

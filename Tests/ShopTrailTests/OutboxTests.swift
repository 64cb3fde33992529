import Foundation
import Testing
@testable import ShopTrail

@Suite struct OutboxTests {
    static let shop = "a-shop.myshopify.com"

    static func op(_ id: String, user: String = "u1", kind: BrazeOperation.Kind = .event, shop: String = shop, at: EpochMillis = 1_000) -> BrazeOperation {
        BrazeOperation(id: id, shop: shop, userKey: user, kind: kind, payload: #"{"external_id":"\#(user)","name":"e-\#(id)"}"#, createdAt: at)
    }

    /// Keeps the temporary folder alive for as long as the outbox is used through it.
    struct Env {
        let temp: TempStore
        let outbox: SQLiteOutbox
        init() throws {
            temp = try TempStore()
            outbox = SQLiteOutbox(database: temp.store.database)
        }
    }

    @Test(arguments: StorageEngineUnderTest.allCases)
    func enqueueIsIdempotentPerShopAndId(engine: StorageEngineUnderTest) async throws {
        try await engine.withOutbox { outbox async throws in
            #expect(try await outbox.enqueue([Self.op("1"), Self.op("2")]) == 2)
            #expect(try await outbox.enqueue([Self.op("2"), Self.op("3")]) == 1)
            #expect(try await outbox.enqueue([Self.op("1", shop: "b-shop.myshopify.com")]) == 1)
            #expect(try await outbox.status(shop: Self.shop, now: 2_000).pending == 3)
            #expect(try await outbox.status(shop: nil, now: 2_000).pending == 4)
        }
    }

    @Test(arguments: StorageEngineUnderTest.allCases)
    func claimsInOrderAndALeaseHidesClaimedOperations(engine: StorageEngineUnderTest) async throws {
        try await engine.withOutbox { outbox async throws in
            try await outbox.enqueue((1...5).map { Self.op("\($0)", user: "u\($0)") })
            let first = try await outbox.claim(shop: Self.shop, now: 10_000, limit: 3, leaseMillis: 60_000)
            #expect(first.map(\.operation.id) == ["1", "2", "3"])
            #expect(first.first?.operation == Self.op("1", user: "u1"))
            let second = try await outbox.claim(shop: Self.shop, now: 10_001, limit: 10, leaseMillis: 60_000)
            #expect(second.map(\.operation.id) == ["4", "5"])
            #expect(try await outbox.status(shop: Self.shop, now: 10_002).inFlight == 5)
            try await outbox.complete(first.map(\.seq))
            #expect(try await outbox.status(shop: Self.shop, now: 10_002).pending == 2)
            // A lease that ran out (the forwarder died) makes the operation claimable again.
            let again = try await outbox.claim(shop: Self.shop, now: 80_000, limit: 10, leaseMillis: 60_000)
            #expect(again.map(\.operation.id) == ["4", "5"])
        }
    }

    @Test(arguments: StorageEngineUnderTest.allCases)
    func aUsersLaterOperationsWaitBehindOneThatIsBackingOff(engine: StorageEngineUnderTest) async throws {
        try await engine.withOutbox { outbox async throws in
            try await outbox.enqueue([Self.op("a1", user: "A"), Self.op("b1", user: "B"), Self.op("a2", user: "A"), Self.op("b2", user: "B")])
            let claimed = try await outbox.claim(shop: Self.shop, now: 5_000, limit: 1, leaseMillis: 60_000)
            #expect(claimed.map(\.operation.id) == ["a1"])
            try await outbox.retry(claimed.map(\.seq), at: 9_000, error: "503")
            // a1 backs off until 9000: a2 must not overtake it; B is unaffected.
            let next = try await outbox.claim(shop: Self.shop, now: 6_000, limit: 10, leaseMillis: 60_000)
            #expect(next.map(\.operation.id) == ["b1", "b2"])
            try await outbox.complete(next.map(\.seq))
            let later = try await outbox.claim(shop: Self.shop, now: 9_000, limit: 10, leaseMillis: 60_000)
            #expect(later.map(\.operation.id) == ["a1", "a2"])
            #expect(later.first?.attempts == 1)
            #expect(later.first?.lastError == "503")
        }
    }

    @Test(arguments: StorageEngineUnderTest.allCases)
    func deadLettersAreKeptWithTheirReasonAndCanBeRetried(engine: StorageEngineUnderTest) async throws {
        try await engine.withOutbox { outbox async throws in
            try await outbox.enqueue([Self.op("1"), Self.op("2", user: "u2")])
            let claimed = try await outbox.claim(shop: Self.shop, now: 1_000, limit: 1, leaseMillis: 1_000)
            try await outbox.deadLetter(claimed.map(\.seq), reason: "events[0]: 'time' is invalid", now: 1_500)
            #expect(try await outbox.status(shop: Self.shop, now: 2_000) == OutboxStatus(pending: 1, inFlight: 0, dead: 1, oldestPendingAgeMillis: 1_000))
            // Re-deriving a dead operation does not resurrect it behind the operator's back.
            #expect(try await outbox.enqueue([Self.op("1")]) == 0)
            #expect(try await outbox.retryDead(shop: Self.shop) == 1)
            let status = try await outbox.status(shop: Self.shop, now: 2_000)
            #expect(status.pending == 2 && status.dead == 0)
            let order = try await outbox.claim(shop: Self.shop, now: 3_000, limit: 10, leaseMillis: 1_000)
            #expect(order.map(\.operation.id) == ["2", "1"])
        }
    }

    @Test func releasingClaimsAtStartUpMakesEverythingDeliverableAndItSurvivesReopening() async throws {
        let env = try Env()
        try await env.outbox.enqueue([Self.op("1"), Self.op("2")])
        _ = try await env.outbox.claim(shop: Self.shop, now: 1_000, limit: 10, leaseMillis: 600_000)
        let reopened = SQLiteOutbox(database: try SQLiteDatabase(path: env.temp.path))
        #expect(try await reopened.claim(shop: Self.shop, now: 2_000, limit: 10, leaseMillis: 1_000).isEmpty)
        try await reopened.releaseClaims()
        #expect(try await reopened.claim(shop: Self.shop, now: 2_000, limit: 10, leaseMillis: 1_000).map(\.operation.id) == ["1", "2"])
        withExtendedLifetime(env) {}
    }

    /// Two instances on one PostgreSQL: neither releases the other's live claims at start, and
    /// claiming concurrently they never hold the same operation twice nor take a user's operations
    /// out of order.
    @Test func twoInstancesShareOnePostgresOutboxWithoutOvertakingOrDoubleClaims() async throws {
        try await StorageEngineUnderTest.withFreshDatabase { database async throws in
            let a = PostgresOutbox(database: database, instance: "a"), b = PostgresOutbox(database: database, instance: "b")
            try await a.enqueue([Self.op("1"), Self.op("2")])
            #expect(try await a.claim(shop: Self.shop, now: 1_000, limit: 10, leaseMillis: 600_000).map(\.operation.id) == ["1", "2"])
            try await b.releaseClaims()  // b starting up: a's claims are live, not b's to release
            #expect(try await b.claim(shop: Self.shop, now: 2_000, limit: 10, leaseMillis: 1_000).isEmpty)
            try await a.releaseClaims()
            let reclaimed = try await b.claim(shop: Self.shop, now: 2_000, limit: 10, leaseMillis: 1_000)
            #expect(reclaimed.map(\.operation.id) == ["1", "2"])
            try await b.complete(reclaimed.map(\.seq))

            // 40 users x 10 operations, claimed by both instances at once until all are delivered.
            let users = 40, perUser = 10
            var ops: [BrazeOperation] = []
            for i in 0..<perUser { for u in 0..<users { ops.append(Self.op("u\(u)-\(i)", user: "u\(u)")) } }
            try await a.enqueue(ops)
            let delivered = try await withThrowingTaskGroup(of: [String].self) { group in
                for instance in [a, b] {
                    group.addTask {
                        var mine: [String] = []
                        let deadline = ContinuousClock.now + .seconds(600)
                        while ContinuousClock.now < deadline {
                            let claimed = try await instance.claim(shop: Self.shop, now: 5_000, limit: 7, leaseMillis: 600_000)
                            if claimed.isEmpty {
                                if try await instance.status(shop: Self.shop, now: 5_000).pending == 0 { break }
                                try await Task.sleep(for: .milliseconds(1))
                                continue
                            }
                            mine += claimed.map(\.operation.id)
                            try await instance.complete(claimed.map(\.seq))
                        }
                        return mine
                    }
                }
                return try await group.reduce(into: [[String]]()) { $0.append($1) }
            }
            let all = delivered.flatMap { $0 }
            #expect(all.count == users * perUser, "an operation was delivered twice or not at all")
            #expect(Set(all) == Set(ops.map(\.id)))
            // Per user, each instance's deliveries are in order, and no instance took operation i+1
            // while i was still claimed elsewhere: interleaving both lists must still be ordered per user.
            for list in delivered {
                var last: [String: Int] = [:]
                for id in list {
                    let parts = id.split(separator: "-")
                    let user = String(parts[0]), index = Int(parts[1]) ?? -1
                    #expect((last[user] ?? -1) < index, "\(id) after \(last[user] ?? -1)")
                    last[user] = index
                }
            }
        }
    }
}

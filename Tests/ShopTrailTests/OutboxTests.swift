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

    @Test func enqueueIsIdempotentPerShopAndId() async throws {
        let env = try Env()
        #expect(try await env.outbox.enqueue([Self.op("1"), Self.op("2")]) == 2)
        #expect(try await env.outbox.enqueue([Self.op("2"), Self.op("3")]) == 1)
        #expect(try await env.outbox.enqueue([Self.op("1", shop: "b-shop.myshopify.com")]) == 1)
        #expect(try await env.outbox.status(shop: Self.shop, now: 2_000).pending == 3)
        #expect(try await env.outbox.status(shop: nil, now: 2_000).pending == 4)
    }

    @Test func claimsInOrderAndALeaseHidesClaimedOperations() async throws {
        let env = try Env()
        try await env.outbox.enqueue((1...5).map { Self.op("\($0)", user: "u\($0)") })
        let first = try await env.outbox.claim(shop: Self.shop, now: 10_000, limit: 3, leaseMillis: 60_000)
        #expect(first.map(\.operation.id) == ["1", "2", "3"])
        #expect(first.first?.operation == Self.op("1", user: "u1"))
        let second = try await env.outbox.claim(shop: Self.shop, now: 10_001, limit: 10, leaseMillis: 60_000)
        #expect(second.map(\.operation.id) == ["4", "5"])
        #expect(try await env.outbox.status(shop: Self.shop, now: 10_002).inFlight == 5)
        try await env.outbox.complete(first.map(\.seq))
        #expect(try await env.outbox.status(shop: Self.shop, now: 10_002).pending == 2)
        // A lease that ran out (the forwarder died) makes the operation claimable again.
        let again = try await env.outbox.claim(shop: Self.shop, now: 80_000, limit: 10, leaseMillis: 60_000)
        #expect(again.map(\.operation.id) == ["4", "5"])
    }

    @Test func aUsersLaterOperationsWaitBehindOneThatIsBackingOff() async throws {
        let env = try Env()
        try await env.outbox.enqueue([Self.op("a1", user: "A"), Self.op("b1", user: "B"), Self.op("a2", user: "A"), Self.op("b2", user: "B")])
        let claimed = try await env.outbox.claim(shop: Self.shop, now: 5_000, limit: 1, leaseMillis: 60_000)
        #expect(claimed.map(\.operation.id) == ["a1"])
        try await env.outbox.retry(claimed.map(\.seq), at: 9_000, error: "503")
        // a1 backs off until 9000: a2 must not overtake it; B is unaffected.
        let next = try await env.outbox.claim(shop: Self.shop, now: 6_000, limit: 10, leaseMillis: 60_000)
        #expect(next.map(\.operation.id) == ["b1", "b2"])
        try await env.outbox.complete(next.map(\.seq))
        let later = try await env.outbox.claim(shop: Self.shop, now: 9_000, limit: 10, leaseMillis: 60_000)
        #expect(later.map(\.operation.id) == ["a1", "a2"])
        #expect(later.first?.attempts == 1)
        #expect(later.first?.lastError == "503")
    }

    @Test func deadLettersAreKeptWithTheirReasonAndCanBeRetried() async throws {
        let env = try Env()
        try await env.outbox.enqueue([Self.op("1"), Self.op("2", user: "u2")])
        let claimed = try await env.outbox.claim(shop: Self.shop, now: 1_000, limit: 1, leaseMillis: 1_000)
        try await env.outbox.deadLetter(claimed.map(\.seq), reason: "events[0]: 'time' is invalid", now: 1_500)
        #expect(try await env.outbox.status(shop: Self.shop, now: 2_000) == OutboxStatus(pending: 1, inFlight: 0, dead: 1, oldestPendingAgeMillis: 1_000))
        // Re-deriving a dead operation does not resurrect it behind the operator's back.
        #expect(try await env.outbox.enqueue([Self.op("1")]) == 0)
        #expect(try await env.outbox.retryDead(shop: Self.shop) == 1)
        let status = try await env.outbox.status(shop: Self.shop, now: 2_000)
        #expect(status.pending == 2 && status.dead == 0)
        let order = try await env.outbox.claim(shop: Self.shop, now: 3_000, limit: 10, leaseMillis: 1_000)
        #expect(order.map(\.operation.id) == ["2", "1"])
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
}

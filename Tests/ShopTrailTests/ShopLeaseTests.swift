import Foundation
import Testing
@testable import ShopTrail

/// Per-shop processing leases on PostgreSQL: one holder at a time, renewal keeps the fence, a dead
/// holder's shop is taken over once its lease runs out, and the old holder can no longer commit.
@Suite struct ShopLeaseTests {
    static let shop = "a-shop.myshopify.com"

    @Test func oneHolderAtATimeAndTakeoverAfterTheLeaseRunsOut() async throws {
        try await StorageEngineUnderTest.withFreshDatabase { database async throws in
            let leases = PostgresShopLeases(database: database)
            // A long first lease: on a loaded machine the steps below must not outlive it by accident.
            let a = try #require(try await leases.acquire(shop: Self.shop, owner: "a", ttl: .seconds(600)))
            #expect(a.fence == 1)
            #expect(try await leases.acquire(shop: Self.shop, owner: "b", ttl: .seconds(2)) == nil)
            // Another shop is free for b.
            #expect(try await leases.acquire(shop: "b-shop.myshopify.com", owner: "b", ttl: .seconds(2))?.fence == 1)
            #expect(try await leases.fenced(a) { _ in "committed" } == "committed")
            // Renewing keeps the fence; this renewal is short, so that the lease runs out below.
            let renewed = try #require(try await leases.acquire(shop: Self.shop, owner: "a", ttl: .seconds(2)))
            #expect(renewed.fence == a.fence)

            // a stops renewing (it died): b takes the shop once the lease has run out, with the next fence.
            var taken: ShopLease?
            let deadline = ContinuousClock.now + .seconds(120)
            while taken == nil, ContinuousClock.now < deadline {
                taken = try await leases.acquire(shop: Self.shop, owner: "b", ttl: .seconds(30))
                if taken == nil { try await Task.sleep(for: .milliseconds(100)) }
            }
            let b = try #require(taken)
            #expect(b.owner == "b" && b.fence == renewed.fence + 1)
            // a, back from a pause, cannot commit under its old lease, nor renew it.
            await #expect(throws: ShopLeaseLost(shop: Self.shop, fence: renewed.fence)) {
                try await leases.fenced(renewed) { _ in "late write" }
            }
            #expect(try await leases.acquire(shop: Self.shop, owner: "a", ttl: .seconds(2)) == nil)
            // A graceful stop hands the shop over at once.
            try await leases.release(b)
            #expect(try await leases.acquire(shop: Self.shop, owner: "a", ttl: .seconds(2))?.fence == b.fence + 1)
        }
    }
}

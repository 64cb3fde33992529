import Foundation
import Testing
@testable import ShopTrail

/// `shoptrail migrate --to postgres`: a SQLite store that went through the real pipeline (identity,
/// carts, timers, Braze deliveries, quarantine-free log) is copied into a fresh PostgreSQL database.
@Suite struct StoreMigrationTests {
    @Test func aPipelineStoreIsCopiedWithEqualCountsAndTheLogContinuesAfterIt() async throws {
        try await IdentityScenarioTests.with { p in
            try await p.send("v_anon_0001", [
                ("e1", "product_viewed", 1, IdentityScenarioTests.product(1)),
                ("e2", "cart_updated", 2, IdentityScenarioTests.cart("tok1", lines: [(1, 2)])),
            ])
            try await p.send("v_anon_0001", [("e3", "customer_identified", 3, #"{"customer_id":"1001"}"#)],
                             customer: IdentityScenarioTests.signedCustomer("1001", email: "ada@example.com"))
            try await p.flush()
            let database = p.temp.store.database
            let shops = p.config.shops.map(\.domain) + ["never-beaconed.myshopify.com"]
            try await StorageEngineUnderTest.withFreshDatabase { target in
                let (tables, _) = try await StoreMigration(source: database, target: target, shops: shops).run()
                let byName = Dictionary(uniqueKeysWithValues: tables.map { ($0.table, $0) })
                // The copy compares every count itself; these are the tables the story must have filled.
                for table in ["events", "visitors", "visitor_links", "carts", "delivery_log", "processor_position"] {
                    let report = try #require(byName[table], "\(table) was copied")
                    #expect(report.sourceRows > 0 && report.sourceRows == report.targetRows, "\(report)")
                }
                // One cursor per shop, at the SQLite log's position (a shop with no events yet gets one too).
                #expect(byName["processor_position"]?.targetRows == shops.count)
                // The log goes on after the copied positions instead of reusing them.
                let before = try await database.pool.read { db in try Int64.fetchOne(db, sql: "SELECT MAX(position) FROM events") ?? 0 }
                let copied = try await p.temp.store.eventCount()
                let log = PostgresEventStore(database: target)
                _ = try await log.append([NewEvent(shop: IdentityScenarioTests.shop, source: .storefront, eventId: "after-move", name: "page_viewed",
                                                   visitorId: "v_anon_0001", sessionId: nil, clientTime: nil, time: 1, receivedAt: 1, context: nil,
                                                   properties: "{}")])
                let tail = try await log.events(after: before, limit: 10)
                #expect(tail.map(\.event.eventId) == ["after-move"])
                #expect(try #require(tail.first).position > before)

                // A second copy into the same (now non-empty) database is refused and changes nothing.
                await #expect(throws: StoreMigration.Failure.self) {
                    _ = try await StoreMigration(source: database, target: target, shops: shops).run()
                }
                #expect(try await log.eventCount() == copied + 1)
            }
        }
    }
}

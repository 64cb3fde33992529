import Foundation
import GRDB
import Testing
@testable import ShopTrail

/// Issue 14, part 2: what grows with traffic is purged after `server.retention`.
@Suite struct RetentionTests {
    static func count(_ temp: TempStore, _ table: String) async throws -> Int {
        try await temp.store.database.pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM \(table)") ?? -1 }
    }

    @Test func expiredRowsGoAndRecentOrUnprocessedOnesStay() async throws {
        let temp = try TempStore()
        var braze = BrazeConfig()
        braze.anonymous = .forward  // forward mode: events are never purged as held events
        let shop = ShopConfig(domain: "a-shop.myshopify.com", writeKey: "pk_a_1", allowedOrigins: [], snippetSecret: nil, shopify: ShopifyConfig(), braze: braze)
        var config = ShopTrailConfig(server: ServerConfig(publicURL: "http://127.0.0.1:8080", dataDir: temp.dir.path), shops: [shop], origin: "tests")
        config.server.retention.days = 30
        let day: EpochMillis = 86_400_000
        let start: EpochMillis = 1_795_428_000_000
        func event(_ id: String, visitor: String, at: EpochMillis, name: String = "product_viewed", context: String? = #"{"page":{"type":"product"}}"#) -> NewEvent {
            NewEvent(shop: shop.domain, source: .storefront, eventId: id, name: name, visitorId: visitor, sessionId: nil, clientTime: nil, time: at, receivedAt: at,
                     context: context, properties: #"{"product_id":"1","variant_id":"11","title":"P","price":100,"currency":"EUR"}"#)
        }
        // An old two-event batch (shared context), a security counter, then recent traffic.
        _ = try await temp.store.append([event("old1", visitor: "v_old_visitor", at: start), event("old2", visitor: "v_old_visitor", at: start)])
        _ = try await temp.store.append([event("old3", visitor: "v_old_visitor", at: start, context: #"{"customer":{"id":"1"}}"#)])
        let clock = ManualClock(start + 40 * day)
        let processor = ProcessorService(log: temp.store.processorLog, config: config, clock: clock, logger: Fixtures.logger())
        try await processor.drain()
        _ = try await temp.store.append([event("new1", visitor: "v_new_visitor", at: start + 38 * day), event("new2", visitor: "v_new_visitor", at: start + 38 * day)])
        try await processor.drain()
        // Logged but not processed yet: kept whatever its age.
        _ = try await temp.store.append([event("late1", visitor: "v_late_visito", at: start)])
        #expect(try await Self.count(temp, "event_contexts") == 2)
        #expect(try await Self.count(temp, "security_counts") == 1)

        let deleted = try await processor.purgeExpired()
        #expect(deleted > 0)
        let ids = try await temp.store.database.pool.read { db in try String.fetchAll(db, sql: "SELECT event_id FROM events ORDER BY position") }
        #expect(ids == ["new1", "new2", "late1"])
        #expect(try await Self.count(temp, "event_contexts") == 1, "the old batch's shared context went with its events")
        let visitors = try await temp.store.database.pool.read { db in try String.fetchAll(db, sql: "SELECT visitor_id FROM visitors ORDER BY visitor_id") }
        #expect(visitors == ["v_new_visitor"])
        #expect(try await Self.count(temp, "security_counts") == 0)
        #expect(try await Self.count(temp, "product_views") == 0, "views only serve the 30-minute de-duplication")
        #expect(try await processor.purgeExpired() == 0, "a second pass finds nothing")
        let events = try await temp.store.events(after: 0, limit: 10)
        #expect(events.first?.event.context == #"{"page":{"type":"product"}}"#)
    }

    @Test func heldEventsPurgedAfterTheHoldWindowTakeTheirSharedContextAlong() async throws {
        let temp = try TempStore()
        var braze = BrazeConfig()
        braze.holdDays = 30
        let shop = ShopConfig(domain: "a-shop.myshopify.com", writeKey: "pk_a_1", allowedOrigins: [], snippetSecret: nil, shopify: ShopifyConfig(), braze: braze)
        let config = ShopTrailConfig(server: ServerConfig(publicURL: "http://127.0.0.1:8080", dataDir: temp.dir.path), shops: [shop], origin: "tests")
        let start: EpochMillis = 1_795_428_000_000
        func event(_ id: String, at: EpochMillis) -> NewEvent {
            NewEvent(shop: shop.domain, source: .storefront, eventId: id, name: "page_viewed", visitorId: "v_anonymous_1", sessionId: nil, clientTime: nil,
                     time: at, receivedAt: at, context: #"{"page":{"url":"https://a-shop.myshopify.com/held"}}"#, properties: "{}")
        }
        _ = try await temp.store.append([event("h1", at: start), event("h2", at: start)])
        _ = try await temp.store.append([event("h3", at: start + 35 * 86_400_000), event("h4", at: start + 35 * 86_400_000)])
        let processor = ProcessorService(log: temp.store.processorLog, config: config, clock: ManualClock(start + 40 * 86_400_000), logger: Fixtures.logger())
        try await processor.drain()
        #expect(try await Self.count(temp, "event_contexts") == 2)
        try await processor.purgeHeld()
        let ids = try await temp.store.database.pool.read { db in try String.fetchAll(db, sql: "SELECT event_id FROM events ORDER BY position") }
        #expect(ids == ["h3", "h4"])
        #expect(try await Self.count(temp, "event_contexts") == 1)
    }
}

import Foundation
import GRDB
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
@testable import ShopTrail

@Suite struct CollectorTests {
    @Test(arguments: ["text/plain;charset=UTF-8", "application/json", "application/x-www-form-urlencoded"])
    func acceptsABeaconAndCommitsItBeforeAnswering(contentType: String) async throws {
        let temp = try TempStore()
        try await Fixtures.app(store: temp.store).test(.router) { client in
            let (status, body, _) = try await client.postBatch(Fixtures.batch(events: [("e1", "page_viewed"), ("e2", "product_viewed")]), contentType: contentType)
            #expect(status == .ok)
            #expect(body == #"{"ok":true,"accepted":2,"duplicates":0}"#)
        }
        // Read back through a fresh connection to the same file: it was committed, not just queued.
        let reopened = try SQLiteEventStore(path: temp.path)
        let events = try await reopened.events(after: 0, limit: 10)
        #expect(events.map(\.event.eventId) == ["e1", "e2"])
        #expect(events.map(\.event.name) == ["page_viewed", "product_viewed"])
        let first = try #require(events.first?.event)
        #expect(first.shop == "a-shop.myshopify.com")
        #expect(first.source == .storefront)
        #expect(first.visitorId == "v_0123456789")
        #expect(first.sessionId == "s_1")
        #expect(first.context == #"{"page":{"type":"product"}}"#)
        #expect(first.properties == #"{"url":"https://a-shop.myshopify.com/products/x","product_id":9007199254740993}"#)
        #expect(events[0].position < events[1].position)
    }

    @Test func theSameBatchTwiceAddsNothing() async throws {
        let temp = try TempStore()
        try await Fixtures.app(store: temp.store).test(.router) { client in
            let body = Fixtures.batch(events: [("e1", "page_viewed"), ("e2", "cart_updated")])
            _ = try await client.postBatch(body)
            let (status, text, _) = try await client.postBatch(body)
            #expect(status == .ok)
            #expect(text == #"{"ok":true,"accepted":0,"duplicates":2}"#)
            // One new id among old ones: only it is added.
            let (_, mixed, _) = try await client.postBatch(Fixtures.batch(events: [("e2", "cart_updated"), ("e3", "cart_updated")]))
            #expect(mixed == #"{"ok":true,"accepted":1,"duplicates":1}"#)
            // Duplicates inside one batch collapse too.
            let (_, inside, _) = try await client.postBatch(Fixtures.batch(events: [("e4", "page_viewed"), ("e4", "page_viewed")]))
            #expect(inside == #"{"ok":true,"accepted":1,"duplicates":1}"#)
        }
        #expect(try await temp.store.eventCount() == 4)
    }

    @Test func eventIdsAreScopedPerShop() async throws {
        let temp = try TempStore()
        try await Fixtures.app(store: temp.store).test(.router) { client in
            _ = try await client.postBatch(Fixtures.batch(writeKey: "pk_a_1"))
            let (_, text, _) = try await client.postBatch(Fixtures.batch(writeKey: "pk_b_1"))
            #expect(text == #"{"ok":true,"accepted":1,"duplicates":0}"#)
        }
        #expect(try await temp.store.eventCount() == 2)
    }

    @Test func correctsClientClockSkew() async throws {
        let temp = try TempStore()
        let clock = ManualClock(Timestamp.parse("2026-11-23T11:00:00.000Z")!)
        try await Fixtures.app(store: temp.store, clock: clock).test(.router) { client in
            // The client's clock is one hour slow: sent_at 10:00 arrives at 11:00; the event happened 2 s before sending.
            _ = try await client.postBatch(Fixtures.batch(sentAt: "2026-11-23T10:00:00.000Z", time: "2026-11-23T09:59:58.000Z"))
            // A client clock in the future is pulled back the same way, never past the receive time.
            _ = try await client.postBatch(Fixtures.batch(visitor: "v_future_clock", sentAt: "2026-11-23T12:00:00.000Z", events: [("f1", "page_viewed")], time: "2026-11-23T12:00:05.000Z"))
            // No event time: the event is taken to have happened when the batch was sent.
            _ = try await client.postBatch(Fixtures.batch(visitor: "v_no_time_xx", events: [("n1", "page_viewed")], time: nil))
        }
        let events = try await temp.store.events(after: 0, limit: 10)
        try #require(events.count == 3)
        #expect(events[0].event.clientTime == Timestamp.parse("2026-11-23T09:59:58.000Z"))
        #expect(events[0].event.time == Timestamp.parse("2026-11-23T10:59:58.000Z"))
        #expect(events[0].event.receivedAt == clock.now())
        #expect(events[1].event.time == clock.now())
        #expect(events[2].event.time == clock.now())
    }

    @Test func corsForAllowedOriginsOnly() async throws {
        let temp = try TempStore()
        try await Fixtures.app(store: temp.store).test(.router) { client in
            try await client.execute(uri: "/v1/batch", method: .options, headers: [.origin: "https://www.a-shop.com", .accessControlRequestMethod: "POST"]) { response in
                #expect(response.status == .noContent)
                #expect(response.headers[.accessControlAllowOrigin] == "https://www.a-shop.com")
                #expect(response.headers[.accessControlAllowMethods]?.contains("POST") == true)
                #expect(response.headers[.accessControlAllowHeaders] == "Content-Type")
            }
            try await client.execute(uri: "/v1/batch", method: .options, headers: [.origin: "https://evil.example"]) { response in
                #expect(response.status == .forbidden)
                #expect(response.headers[.accessControlAllowOrigin] == nil)
            }
            let (status, _, headers) = try await client.postBatch(Fixtures.batch(), origin: "https://www.a-shop.com")
            #expect(status == .ok)
            #expect(headers[.accessControlAllowOrigin] == "https://www.a-shop.com")
            #expect(headers[.vary] == "Origin")
        }
    }

    @Test func healthzAnswersWhenTheStoreDoes() async throws {
        let temp = try TempStore()
        try await Fixtures.app(store: temp.store).test(.router) { client in
            try await client.execute(uri: "/healthz", method: .get) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body) == #"{"status":"ok"}"#)
            }
        }
        try await Fixtures.app(collectorOnly: UnavailableStore()).test(.router) { client in
            try await client.execute(uri: "/healthz", method: .get) { response in
                #expect(response.status == .serviceUnavailable)
            }
        }
    }

    @Test func aStoreThatCannotCommitIsA503NotAnAcknowledgement() async throws {
        try await Fixtures.app(collectorOnly: UnavailableStore()).test(.router) { client in
            let (status, body, headers) = try await client.postBatch(Fixtures.batch())
            #expect(status == .serviceUnavailable)
            #expect(body.contains(#""error":"store_unavailable""#))
            #expect(headers[.retryAfter] == "5")
        }
    }

    @Test func rootNamesTheEndpoints() async throws {
        let temp = try TempStore()
        try await Fixtures.app(store: temp.store).test(.router) { client in
            try await client.execute(uri: "/", method: .get) { response in
                #expect(response.status == .ok)
                let body = try JSONParser.parse(Array(String(buffer: response.body).utf8)).objectValue
                #expect(body?["service"] == .string("shoptrail"))
                #expect(body?["endpoints"]?.objectValue?["collector"] == .string("POST /v1/batch"))
            }
        }
    }

    @Test func unknownRoutesAnswerJSON() async throws {
        let temp = try TempStore()
        try await Fixtures.app(store: temp.store).test(.router) { client in
            try await client.execute(uri: "/v2/nothing", method: .get) { response in
                #expect(response.status == .notFound)
                #expect(String(buffer: response.body).contains(#""error":"not_found""#))
            }
        }
    }

    /// Issue 14: a batch's context (up to 8 KiB) is stored once, not once per event; a retry adds none.
    @Test func aBatchContextIsStoredOnceAndSharedByItsEvents() async throws {
        let temp = try TempStore()
        let context = #"{"page":{"type":"product","url":"https://a-shop.myshopify.com/\#(String(repeating: "x", count: 7_000))"}}"#
        let hundred = (0..<100).map { #"{"id":"c\#($0)","name":"page_viewed"}"# }.joined(separator: ",")
        let body = #"{"write_key":"pk_a_1","visitor_id":"v_0123456789","context":\#(context),"events":[\#(hundred)]}"#
        try await Fixtures.app(store: temp.store).test(.router) { client in
            let (first, _, _) = try await client.postBatch(body)
            let (_, retried, _) = try await client.postBatch(body)
            #expect(first == .ok && retried == #"{"ok":true,"accepted":0,"duplicates":100}"#)
        }
        let (contexts, inline, bytes) = try await temp.store.database.pool.read { db in
            (try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM event_contexts") ?? -1,
             try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM events WHERE context IS NOT NULL") ?? -1,
             try Int.fetchOne(db, sql: "SELECT SUM(LENGTH(COALESCE(context, ''))) + (SELECT SUM(LENGTH(text)) FROM event_contexts) FROM events") ?? -1)
        }
        #expect(contexts == 1 && inline == 0 && bytes < 8_000, "\(contexts) \(inline) \(bytes)")
        let events = try await temp.store.events(after: 0, limit: 200)
        #expect(events.count == 100 && events.allSatisfy { $0.event.context == context })
    }
}

import Foundation
import GRDB
import Testing
@testable import ShopTrail

/// Issue 14, part 1: every conversion of outside numbers is total. Each mapper gets each numeric field
/// as 1e400, -1e400, 1e19, -1, 0.5, "12", null, true and a 10 KB string; the processor must neither
/// trap (which would kill the test process) nor send Braze anything it refuses, and the next
/// ordinary event must flow as usual.
@Suite struct PoisonEventTests {
    typealias Scenario = IdentityScenarioTests
    static let shop = Scenario.shop

    static let poisons: [String] = ["1e400", "-1e400", "1e19", "-1", "0.5", #""12""#, "null", "true", "\"" + String(repeating: "9", count: 10_240) + "\""]

    /// No operation was dead-lettered: nothing Braze refuses was sent.
    static func expectNoDeadLetters(_ p: Scenario.Pipeline, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let dead = try await p.outbox.deadLetters(shop: p.shopDomain, limit: 20).map(\.reason)
        #expect(dead.isEmpty, "\(dead)", sourceLocation: sourceLocation)
    }

    static func webhook(_ p: Scenario.Pipeline, _ topic: String, id: String, _ body: String) async throws {
        try await p.temp.store.append([NewEvent(shop: shop, source: .webhook, eventId: id, name: topic, visitorId: nil, sessionId: nil, clientTime: nil,
                                                time: SystemClock().now() - 60_000, receivedAt: SystemClock().now(), context: nil, properties: body)])
    }

    static func cart(_ token: String, quantity: String = "1", price: String = "2500", total: String = "2500") -> String {
        #"{"cart_token":"\#(token)","currency":"EUR","total_price":\#(total),"items":[{"product_id":"1","variant_id":"11","product_title":"P","quantity":\#(quantity),"price":\#(price),"final_price":\#(price)},{"product_id":"2","variant_id":"21","product_title":"Q","quantity":1,"price":100}]}"#
    }

    @Test(arguments: [EventNaming.ecommerce, .legacy])
    func storefrontMappersTakeEveryPoison(_ naming: EventNaming) async throws {
        var braze = BrazeConfig()
        braze.events = naming
        try await Scenario.with(braze, abandonment: AbandonmentTests.config()) { p in
            let login = AbandonmentTests.login("9501")
            for (i, v) in Self.poisons.enumerated() {
                let events: [(id: String, name: String, minute: Int, properties: String)] = [
                    ("pv\(i)", "product_viewed", 1, #"{"product_id":"1","variant_id":"11","title":"P","price":\#(v),"currency":"EUR"}"#),
                    ("cq\(i)", "cart_updated", 2, Self.cart("tokQ\(i)", quantity: v)),
                    ("cp\(i)", "cart_updated", 2, Self.cart("tokP\(i)", price: v)),
                    ("ct\(i)", "cart_updated", 2, Self.cart("tokT\(i)", total: v)),
                ]
                for event in events {
                    // A value too large for a beacon is refused with a 400 at the door; the rest is acknowledged.
                    let items = #"{"id":"\#(event.id)","name":"\#(event.name)","time":"\#(p.at(event.minute))","properties":\#(event.properties)}"#
                    let ctx = #"{"page":{"type":"product"},"customer":\#(login)}"#
                    let body = #"{"write_key":"pk_a_1","visitor_id":"v_poison_\#(i)x","sent_at":"\#(Timestamp.format(SystemClock().now()))","context":\#(ctx),"events":[\#(items)]}"#
                    let (status, text, _) = try await p.collector.postBatch(body)
                    #expect(status == .ok || (status == .badRequest && text.contains("too_large")), "\(text)")
                }
            }
            try await p.flush()
            // Carts that hold poisoned lines still fire as abandoned, with what could be read.
            try await p.fireAbandonment(at: 60)
            try await Self.expectNoDeadLetters(p)
            // The next ordinary event flows.
            try await p.send("v_poison_next", [("good", "product_viewed", 70, Scenario.product(7))], customer: AbandonmentTests.login("9502"))
            try await p.flush()
            let expected = naming == .ecommerce ? "ecommerce.product_viewed" : "shopify_product_viewed"
            #expect(try await p.eventNames("9502").contains(expected))
            try await Self.expectNoDeadLetters(p)
        }
    }

    @Test func pixelCheckoutLinesTakeEveryPoison() async throws {
        try await Scenario.with(abandonment: AbandonmentTests.config()) { p in
            try await p.send("v_pixel_poison", [("login", "page_viewed", 0, "{}")], customer: AbandonmentTests.login("9601"))
            for (i, v) in Self.poisons.enumerated() {
                for (field, line, total) in [("q", #"{"variant_id":"11","product_id":"1","title":"P","quantity":\#(v),"price":12.5}"#, "25"),
                                             ("p", #"{"variant_id":"11","product_id":"1","title":"P","quantity":1,"price":\#(v)}"#, "25"),
                                             ("t", #"{"variant_id":"11","product_id":"1","title":"P","quantity":1,"price":12.5}"#, v)] {
                    let properties = #"{"checkout_token":"ck\#(field)\#(i)","currency":"EUR","total_price":\#(total),"line_items":[\#(line)]}"#
                    try await p.temp.store.append([NewEvent(shop: Self.shop, source: .pixel, eventId: "px\(field)\(i)", name: "checkout_started", visitorId: "v_pixel_poison",
                                                            sessionId: nil, clientTime: nil, time: p.t0 + 60_000, receivedAt: SystemClock().now(), context: nil,
                                                            properties: properties)])
                }
            }
            try await p.flush()
            try await p.fireAbandonment(at: 60)
            try await Self.expectNoDeadLetters(p)
            #expect(try await p.eventNames("9601").contains("ecommerce.checkout_started"))
        }
    }

    @Test func orderAndCheckoutWebhooksTakeEveryPoison() async throws {
        try await Scenario.with(abandonment: AbandonmentTests.config()) { p in
            for (i, v) in Self.poisons.enumerated() {
                for (field, line, total) in [("q", #"{"id":1,"product_id":5,"variant_id":51,"title":"T","quantity":\#(v),"price":"12.50"}"#, #""12.50""#),
                                             ("p", #"{"id":1,"product_id":5,"variant_id":51,"title":"T","quantity":1,"price":\#(v)}"#, #""12.50""#),
                                             ("t", #"{"id":1,"product_id":5,"variant_id":51,"title":"T","quantity":1,"price":"12.50"}"#, v)] {
                    let customer = #"{"id":9701,"email":"poison@example.com"}"#
                    try await Self.webhook(p, "orders/create", id: "o\(field)\(i)", #"""
                        {"id":\#(8000 + i * 3 + (field == "q" ? 0 : field == "p" ? 1 : 2)),"name":"#\#(i)\#(field)","created_at":"\#(p.at(1))","updated_at":"\#(p.at(1))","currency":"EUR","total_price":\#(total),"subtotal_price":\#(total),"total_tax":\#(total),"customer":\#(customer),"line_items":[\#(line)]}
                        """#)
                    try await Self.webhook(p, "checkouts/create", id: "c\(field)\(i)", #"""
                        {"id":\#(i),"token":"tok\#(field)\#(i)","cart_token":"cart\#(field)\#(i)","created_at":"\#(p.at(1))","updated_at":"\#(p.at(1))","currency":"EUR","total_price":\#(total),"customer":\#(customer),"line_items":[\#(line)]}
                        """#)
                }
            }
            try await p.flush()
            try await p.fireAbandonment(at: 60)
            try await Self.expectNoDeadLetters(p)
            try await Self.webhook(p, "orders/create", id: "good", #"{"id":9999,"name":"G1","created_at":"\#(p.at(2))","currency":"EUR","total_price":"10.00","customer":{"id":9702,"email":"good@example.com"},"line_items":[{"id":2,"product_id":6,"variant_id":61,"title":"G","quantity":1,"price":"10.00"}]}"#)
            try await p.flush()
            #expect(try await p.eventNames("9702").contains("ecommerce.order_placed"))
            try await Self.expectNoDeadLetters(p)
        }
    }

    @Test func outsideNumbersConvertTotally() {
        for text in Self.poisons {
            let value = (try? JSONParser.parse(Array(text.utf8))) ?? .null
            _ = value.doubleValue
            _ = value.quantityValue
            _ = value.minorUnits
        }
        #expect(JSONValue.number("1e400").doubleValue == nil && JSONValue.number("1e19").doubleValue == nil)
        #expect(JSONValue.number("0.5").quantityValue == nil && JSONValue.number("-1").quantityValue == nil && JSONValue.string("12").quantityValue == 12)
        #expect(JSONValue.quantity(nil, ifAbsent: 1) == 1 && JSONValue.quantity(.null, ifAbsent: 1) == 1 && JSONValue.quantity(.bool(true), ifAbsent: 1) == nil)
        #expect(Int64.boundedMillis(.infinity) == 3_600_000 && Int64.boundedMillis(.nan) == 0 && Int64.boundedMillis(-5) == 0 && Int64.boundedMillis(1e300) == 3_600_000)
        #expect(BrazeAnswer.parseRetryAfter("1e300") == .milliseconds(86_400_000))
        var bucket = ShopifyThrottleBucket()
        bucket.complete(reserved: 0, status: ShopifyThrottleStatus(maximumAvailable: 1e15, currentlyAvailable: 0, restoreRate: 1e-300), at: 0)
        #expect(bucket.waitMillis(for: 1e15, at: 0) == 3_600_000)
        #expect(JSONValue.string(String(repeating: "1", count: 200)).idString == nil)
        // Admin API ids and order names: only ASCII digits become JSON numbers.
        #expect(BackfillMapper.numericId(.string("gid://shopify/Order/½")) == nil && BackfillMapper.numericId(.string("gid://shopify/Order/٣")) == nil)
        #expect(BackfillMapper.numericId(.string("gid://shopify/Order/820982911946154508")) == "820982911946154508")
    }

    @Test func aThrowingEventIsQuarantinedAndTheRestFlows() async throws {
        struct Fault: Error {}
        try await Scenario.with { p in
            let processor = ProcessorService(log: p.temp.store.processorLog, config: p.config,
                                             faultHook: { if $0.event.eventId == "bad" { throw Fault() } }, logger: Fixtures.logger())
            try await p.send("v_quarantine1", [("ok1", "page_viewed", 1, "{}"), ("bad", "page_viewed", 2, "{}"), ("ok2", "page_viewed", 3, "{}")])
            // A chunk may stop on its time budget after "ok1" (a loaded machine); the chunk that reaches "bad"
            // throws and is not committed…
            var threw = false
            for _ in 0..<3 where !threw {
                do { _ = try await processor.processChunk() } catch is Fault { threw = true }
            }
            #expect(threw, "no chunk reached the throwing event")
            // …and event by event the bad one is set aside, the others handled, until the log is read.
            var alone = 0
            while alone < 10, try await processor.processOneAlone() == 1 { alone += 1 }
            #expect((2...3).contains(alone), "\(alone) events handled alone")
            #expect(try await processor.quarantined().map(\.eventId) == ["bad"])
            #expect(try await processor.processOneAlone() == 0)
            // After a fix (here: without the fault) the retry releases it.
            let fixed = ProcessorService(log: p.temp.store.processorLog, config: p.config, logger: Fixtures.logger())
            let retried = try await fixed.retryQuarantined()
            #expect(retried.released == 1 && retried.failed.isEmpty)
            #expect(try await fixed.quarantineCount() == 0)
        }
    }
}

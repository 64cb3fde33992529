import Foundation
import Synchronization
import Testing
@testable import ShopTrail

/// The processor state's contract (`ProcessorState`, `StateTransactions`) on every engine: each member
/// group, and the same export JSON and `RedactionReport` from the same seeded data on both engines.
@Suite struct ProcessorStateConformanceTests {
    static let shop = "a-shop.myshopify.com"
    static let other = "b-shop.myshopify.com"

    static func event(_ id: String, shop: String = shop, source: EventSource = .storefront, name: String = "product_viewed", visitor: String? = nil,
                      time: EpochMillis = 1_000, received: EpochMillis = 2_000, context: String? = nil, properties: String = "{}") -> NewEvent {
        NewEvent(shop: shop, source: source, eventId: id, name: name, visitorId: visitor, sessionId: nil, clientTime: nil,
                 time: time, receivedAt: received, context: context, properties: properties)
    }

    static func operation(_ id: String, shop: String = shop, user: String, kind: BrazeOperation.Kind = .event, payload: String) -> BrazeOperation {
        BrazeOperation(id: id, shop: shop, userKey: user, kind: kind, payload: payload, createdAt: 1_000)
    }

    @Test(arguments: StorageEngineUnderTest.allCases)
    func visitorsLinksCustomersCartsAndProductViews(engine: StorageEngineUnderTest) async throws {
        try await engine.withState { _, state async throws in
            var visitor = Visitor(shop: Self.shop, id: "v1", firstSeen: 100)
            visitor.lastSeen = 200
            visitor.customerId = "c1"
            visitor.linkedAt = 150
            visitor.evidence = .signedCustomer
            visitor.hasAliasProfile = true
            visitor.aliasIdentifiedAs = "ext-c1"
            var customer = Customer(shop: Self.shop, id: "c1")
            customer.email = "ann@example.com"
            customer.firstName = "Ann"
            customer.sentAttributes = #"{"a":1}"#
            var cartA = CartSnapshot(shop: Self.shop, token: "tokA")
            cartA.visitorId = "v1"
            cartA.sentTime = 10
            cartA.sentSignature = "sig"
            var cartB = CartSnapshot(shop: Self.shop, token: "tokB")
            cartB.visitorId = "v1"
            cartB.sentTime = 30
            cartB.checkedOut = true
            cartB.checkoutToken = "chk"
            cartB.aliasedTo = "alias"
            try await state.write { [visitor, customer, cartA, cartB] s in
                try s.save(visitor)
                try s.recordLink(shop: Self.shop, visitorId: "v1", customerId: "c1", evidence: .signedCustomer, at: 150)
                try s.save(customer)
                try s.save(cartA)
                try s.save(cartB)
            }
            let saved = visitor, savedCustomer = customer
            #expect(try await state.read { try $0.visitor(shop: Self.shop, id: "v1") } == saved)
            #expect(try await state.read { try $0.visitor(shop: Self.other, id: "v1") } == nil)
            #expect(try await state.read { try $0.customer(shop: Self.shop, id: "c1") } == savedCustomer)
            #expect(try await state.read { try $0.cart(shop: Self.shop, token: "tokB") } == cartB)
            #expect(try await state.read { try $0.cart(shop: Self.shop, checkoutToken: "chk") } == cartB)
            #expect(try await state.read { try $0.cart(shop: Self.shop, checkoutToken: "nope") } == nil)
            #expect(try await state.read { try $0.carts(shop: Self.shop, visitorId: "v1") } == [cartB, cartA])

            // Saving again replaces the row.
            visitor.customerId = nil
            visitor.evidence = nil
            visitor.hasAliasProfile = false
            customer.email = nil
            try await state.write { [visitor, customer] s in
                try s.save(visitor)
                try s.save(customer)
            }
            let changed = visitor, changedCustomer = customer
            #expect(try await state.read { try $0.visitor(shop: Self.shop, id: "v1") } == changed)
            #expect(try await state.read { try $0.customer(shop: Self.shop, id: "c1") } == changedCustomer)

            // Product views: the previous time comes back; an older view does not replace a newer one.
            let views = try await state.write { s in
                [try s.swapProductView(shop: Self.shop, visitorId: "v1", productKey: "p1", time: 1_000),
                 try s.swapProductView(shop: Self.shop, visitorId: "v1", productKey: "p1", time: 2_000),
                 try s.swapProductView(shop: Self.shop, visitorId: "v1", productKey: "p1", time: 1_500),
                 try s.swapProductView(shop: Self.shop, visitorId: "v1", productKey: "p1", time: 2_500)]
            }
            #expect(views == [nil, 1_000, 2_000, 2_000])

            // Another customer takes the device over: product views and the carts' owner are forgotten.
            try await state.write { try $0.detachBehaviour(shop: Self.shop, visitorId: "v1") }
            #expect(try await state.read { try $0.carts(shop: Self.shop, visitorId: "v1") } == [])
            #expect(try await state.read { try $0.cart(shop: Self.shop, token: "tokA")?.visitorId } == .some(nil))
            #expect(try await state.write { try $0.swapProductView(shop: Self.shop, visitorId: "v1", productKey: "p1", time: 3_000) } == nil)
        }
    }

    @Test(arguments: StorageEngineUnderTest.allCases)
    func eventsMarksResourcesUninstallAndSecurityCounts(engine: StorageEngineUnderTest) async throws {
        try await engine.withState { events, state async throws in
            _ = try await events.append([
                Self.event("e1", visitor: "v1", time: 100), Self.event("e2", name: "cart_updated", visitor: "v1", time: 200),
                Self.event("e3", visitor: "v2", time: 300), Self.event("e4", visitor: "v1", time: 400), Self.event("e5", shop: Self.other, visitor: "v1", time: 500),
            ])
            let found = try await state.read { s in
                try s.events(shop: Self.shop, visitorId: "v1", names: ["product_viewed", "cart_updated"], since: 150, before: 4).map(\.event.eventId)
            }
            #expect(found == ["e2"])
            let all = try await state.read { try $0.events(shop: Self.shop, visitorId: "v1", names: ["product_viewed"], since: 0, before: 100) }
            #expect(all.map(\.event.eventId) == ["e1", "e4"])
            #expect(all.first?.event == Self.event("e1", visitor: "v1", time: 100))

            #expect(try await state.write { try $0.markOnce(shop: Self.shop, key: "k") })
            #expect(try await !state.write { try $0.markOnce(shop: Self.shop, key: "k") })
            #expect(try await state.read { try $0.isMarked(shop: Self.shop, key: "k") })
            #expect(try await !state.read { try $0.isMarked(shop: Self.other, key: "k") })

            try await state.write { s in
                try s.saveResource(shop: Self.shop, kind: "product", id: "2", updatedAt: 20, body: #"{"id":2}"#, deleted: false)
                try s.saveResource(shop: Self.shop, kind: "product", id: "10", updatedAt: 10, body: #"{"id":10}"#, deleted: false)
                try s.saveResource(shop: Self.shop, kind: "product", id: "3", updatedAt: 30, body: nil, deleted: true)
            }
            #expect(try await state.read { try $0.resourceVersion(shop: Self.shop, kind: "product", id: "3") } == 30)
            #expect(try await state.read { try $0.resourceVersion(shop: Self.shop, kind: "product", id: "4") } == nil)
            #expect(try await state.read { try $0.resourceBody(shop: Self.shop, kind: "product", id: "2") } == #"{"id":2}"#)
            #expect(try await state.read { try $0.resourceBody(shop: Self.shop, kind: "product", id: "3") } == nil)
            let listed = try await state.read { try $0.resources(shop: Self.shop, kind: "product").map { "\($0.id)@\($0.updatedAt)" } }
            #expect(listed == ["10@10", "2@20"])

            #expect(try await state.read { try $0.uninstalledAt(shop: Self.shop) } == nil)
            try await state.write { try $0.setUninstalled(shop: Self.shop, at: 77) }
            #expect(try await state.read { try $0.uninstalledAt(shop: Self.shop) } == 77)
            try await state.write { try $0.setUninstalled(shop: Self.shop, at: nil) }
            #expect(try await state.read { try $0.uninstalledAt(shop: Self.shop) } == nil)

            try await state.write { s in
                try s.securityEvent(shop: Self.shop, kind: "claim_refused", detail: "bad signature", at: 1_000)
                try s.securityEvent(shop: Self.shop, kind: "claim_refused", detail: "bad signature", at: 2_000)
                try s.audit(shop: Self.shop, action: "test", detail: "no personal data", at: 1_000)
            }
            // A read sees one snapshot and refuses writes.
            await #expect(throws: (any Error).self) { try await state.read { try $0.markOnce(shop: Self.shop, key: "in-a-read") } }
            #expect(try await !state.read { try $0.isMarked(shop: Self.shop, key: "in-a-read") })
        }
    }

    /// PostgreSQL holds a transaction's visitor rows and Braze operations back to send them together: every
    /// later statement of the transaction, whichever repository sends it, must still see them.
    @Test(arguments: StorageEngineUnderTest.allCases)
    func laterStatementsOfATransactionSeeItsEarlierWrites(engine: StorageEngineUnderTest) async throws {
        try await engine.withProcessorLog(shops: [Self.shop]) { storage async throws in
            let state = storage.state
            var visitor = Visitor(shop: Self.shop, id: "v9", firstSeen: 100)
            visitor.customerId = "c9"
            let linked = visitor
            let cancelled = try await state.write { s -> Int in
                try s.timers.save(AbandonmentTimer(shop: Self.shop, kind: .browse, subject: "v9", visitorId: "v9", customerId: nil,
                                                   armedAt: 1, dueAt: 2, detail: "[]"))
                try s.save(linked)
                // The visitor's own read, then the timers' cancel, which finds the customer's visitors by their rows.
                #expect(try s.visitor(shop: Self.shop, id: "v9") == linked)
                return try s.timers.cancelArmed(shop: Self.shop, kinds: [.browse], visitorIds: [], customerId: "c9", subjects: [],
                                                except: nil, reason: "test", at: 3).count
            }
            #expect(cancelled == 1)

            // Operations enqueued in several calls keep their order; one enqueued and then redacted in the same transaction is gone.
            let report = try await state.write { s -> RedactionReport in
                try s.enqueue([Self.operation("op-a", user: "c:c1", payload: "{}"), Self.operation("op-b", user: "c:c2", payload: "{}")])
                try s.save(Visitor(shop: Self.shop, id: "v10", firstSeen: 1))
                try s.enqueue([Self.operation("op-c", user: "c:c2", payload: "{}"), Self.operation("op-gone", user: "c:c3", payload: "{}")])
                let report = try s.redact(shop: Self.shop, CustomerRedaction(customerId: "c3", emails: [], phones: [], orderIds: [], externalIds: [],
                                                                              before: 1_000))
                try s.enqueue([Self.operation("op-d", user: "c:c1", payload: "{}")])
                return report
            }
            #expect(report.outbox == 1)
            let claimed = try await storage.outbox.claim(shop: Self.shop, now: 10_000, limit: 10, leaseMillis: 1_000)
            #expect(claimed.map(\.operation.id) == ["op-a", "op-b", "op-c", "op-d"])
            #expect(try await state.read { try $0.visitor(shop: Self.shop, id: "v10") } != nil)
        }
    }

    /// Two states on one PostgreSQL connection (one transaction) each hold writes back: both are sent.
    @Test func twoStatesInOneTransactionBothSendWhatTheyHeldBack() async throws {
        try await StorageEngineUnderTest.withFreshDatabase { database async throws in
            try await database.blockingTransaction { connection in
                try PostgresProcessorState(connection).save(Visitor(shop: Self.shop, id: "first", firstSeen: 1))
                try PostgresProcessorState(connection).save(Visitor(shop: Self.shop, id: "second", firstSeen: 2))
            }
            #expect(try await database.read { try $0.visitor(shop: Self.shop, id: "first") } != nil)
            #expect(try await database.read { try $0.visitor(shop: Self.shop, id: "second") } != nil)
        }
    }

    @Test(arguments: StorageEngineUnderTest.allCases)
    func enqueueAndTimersCommitWithTheTransaction(engine: StorageEngineUnderTest) async throws {
        struct Refused: Error {}
        try await engine.withState { _, state async throws in
            await #expect(throws: Refused.self) {
                try await state.write { s in
                    try s.enqueue([Self.operation("op-lost", user: "c:1", payload: "{}")])
                    try s.timers.save(AbandonmentTimer(shop: Self.shop, kind: .cart, subject: "tok-lost", visitorId: "v1", customerId: nil,
                                                       armedAt: 1, dueAt: 2, detail: "{}"))
                    throw Refused()
                }
            }
            #expect(try await state.read { try $0.timers.timer(shop: Self.shop, kind: .cart, subject: "tok-lost") } == nil)
            let timer = AbandonmentTimer(shop: Self.shop, kind: .cart, subject: "tok", visitorId: "v1", customerId: nil, armedAt: 1, dueAt: 2, detail: "{}")
            try await state.write { s in
                try s.enqueue([Self.operation("op-1", user: "c:1", payload: #"{"a":1}"#), Self.operation("op-2", user: "c:2", payload: "{}")])
                // Enqueueing an operation again is a no-op.
                try s.enqueue([Self.operation("op-1", user: "c:1", payload: #"{"a":1}"#)])
                try s.timers.save(timer)
                #expect(try s.timers.timer(shop: Self.shop, kind: .cart, subject: "tok") == timer)
            }
            #expect(try await state.read { try $0.timers.timer(shop: Self.shop, kind: .cart, subject: "tok") } == timer)
        }
        // The operations reached the outbox its forwarder claims from.
        try await engine.withProcessorLog(shops: [Self.shop]) { storage async throws in
            try await storage.state.write { try $0.enqueue([Self.operation("op-1", user: "c:1", payload: "{}"), Self.operation("op-2", user: "c:2", payload: "{}")]) }
            let claimed = try await storage.outbox.claim(shop: Self.shop, now: 10_000, limit: 10, leaseMillis: 1_000)
            #expect(claimed.map(\.operation.id) == ["op-1", "op-2"])
        }
    }

    @Test(arguments: StorageEngineUnderTest.allCases)
    func firstUnprocessedTimeFollowsTheCursor(engine: StorageEngineUnderTest) async throws {
        try await engine.withProcessorLog(shops: [Self.shop]) { storage async throws in
            _ = try await storage.log.beginRun(at: 1, reason: "test")
            #expect(try await storage.state.read { try $0.firstUnprocessedTime() } == nil)
            _ = try await storage.events.append([Self.event("e1", time: 5_000, received: 4_000), Self.event("e2", time: 100, received: 6_000)])
            #expect(try await storage.state.read { try $0.firstUnprocessedTime() } == 4_000)
            #expect(try await storage.log.handleChunk(limit: 1) { _, _ in 1 } == 1)
            #expect(try await storage.state.read { try $0.firstUnprocessedTime() } == 100)
            #expect(try await storage.log.handleChunk(limit: 10) { events, _ in events.count } == 1)
            #expect(try await storage.state.read { try $0.firstUnprocessedTime() } == nil)
            try storage.log.endRun()
        }
    }

    // MARK: - Export and redaction, the same on both engines

    static let customerId = "1001"
    static let email = "ann@example.com"
    static let phone = "+15550001111"

    /// A customer with two visitors, carts, timers, events, webhook deliveries, resources and operations,
    /// next to another customer's rows that must stay. Returns the position of the redact delivery.
    static func seed(_ storage: ProcessorStorage) async throws -> Int64 {
        let shared = #"{"page":{"url":"https://a-shop.com/"},"customer":{"id":"1001"}}"#
        _ = try await storage.events.append([
            event("s1", visitor: "v1", time: 100, properties: #"{"product_id":"1"}"#),
            event("s2", name: "cart_updated", visitor: "v1", time: 200, properties: #"{"cart_token":"tokA"}"#),
        ].map { var e = $0; e.context = shared; return e })
        _ = try await storage.events.append([
            event("s3", visitor: "v2", time: 300, context: #"{"page":{}}"#),
            event("s4", visitor: "v3", time: 400),
            event("s5", name: "checkout_completed", visitor: "v4", time: 500, properties: #"{"email":"ANN@example.com"}"#),
            event("w1", source: .webhook, name: "customers/create", properties: #"{"id":1001,"email":"Ann@Example.com","phone":"+15550001111"}"#),
            event("w2", source: .webhook, name: "orders/create",
                  properties: #"{"id":5001,"customer":{"id":1001},"cart_token":"tokC","checkout_token":"chk1"}"#),
            event("w3", source: .webhook, name: "refunds/create", properties: #"{"order_id":5001}"#),
            event("w4", source: .webhook, name: "checkouts/update", properties: #"{"token":"chk2","email":"ann@example.com"}"#),
            event("w5", source: .webhook, name: "orders/create", properties: #"{"id":5002,"customer":{"id":2002},"email":"bob@example.com"}"#),
            event("w6", source: .webhook, name: "orders/create", properties: "[5001]"),
            event("w7", source: .webhook, name: "orders/updated", properties: #"{"id":"5003","contact_email":"x@example.com"}"#),
        ])
        try await storage.state.write { s in
            var v1 = Visitor(shop: shop, id: "v1", firstSeen: 100)
            v1.lastSeen = 200
            v1.customerId = customerId
            v1.evidence = .signedCustomer
            v1.linkedAt = 150
            try s.save(v1)
            try s.save(Visitor(shop: shop, id: "v2", firstSeen: 300))
            try s.save(Visitor(shop: shop, id: "v3", firstSeen: 400))
            try s.recordLink(shop: shop, visitorId: "v1", customerId: customerId, evidence: .signedCustomer, at: 150)
            try s.recordLink(shop: shop, visitorId: "v2", customerId: customerId, evidence: .cartToken, at: 310)
            try s.recordLink(shop: shop, visitorId: "v3", customerId: "2002", evidence: .appProxy, at: 410)
            var customer = Customer(shop: shop, id: customerId)
            customer.email = email
            customer.phone = phone
            customer.firstName = "Ann"
            try s.save(customer)
            try s.save(Customer(shop: shop, id: "2002"))
            for (token, visitor, time) in [("tokA", "v1", 10), ("tokB", "v2", 20), ("tokC", nil, 30), ("tokD", "v3", 40)] as [(String, String?, EpochMillis)] {
                var cart = CartSnapshot(shop: shop, token: token)
                cart.visitorId = visitor
                cart.sentTime = time
                try s.save(cart)
            }
            _ = try s.swapProductView(shop: shop, visitorId: "v1", productKey: "p1", time: 100)
            _ = try s.swapProductView(shop: shop, visitorId: "v3", productKey: "p1", time: 100)
            try s.timers.save(AbandonmentTimer(shop: shop, kind: .cart, subject: "tokA", visitorId: "v1", customerId: nil, armedAt: 1, dueAt: 9,
                                               detail: #"{"products":[{"id":"1"}]}"#))
            try s.timers.save(AbandonmentTimer(shop: shop, kind: .checkout, subject: "chk1", visitorId: nil, customerId: nil, armedAt: 2, dueAt: 8, detail: "{}"))
            try s.timers.save(AbandonmentTimer(shop: shop, kind: .browse, subject: "v3", visitorId: "v3", customerId: nil, armedAt: 3, dueAt: 7, detail: "{}"))
            try s.timers.setLastFired(shop: shop, kind: .cart, target: "c:" + customerId, at: 5)
            try s.saveResource(shop: shop, kind: "customer", id: customerId, updatedAt: 1, body: #"{"id":1001,"email":"ann@example.com"}"#, deleted: false)
            try s.saveResource(shop: shop, kind: "order", id: "5001", updatedAt: 2, body: #"{"id":5001,"customer":{"id":1001}}"#, deleted: false)
            try s.saveResource(shop: shop, kind: "order", id: "5004", updatedAt: 3, body: #"{"id":5004,"contact_email":"ANN@example.com","cart_token":"tokB"}"#,
                               deleted: false)
            try s.saveResource(shop: shop, kind: "order", id: "5002", updatedAt: 4, body: #"{"id":5002,"customer":{"id":2002}}"#, deleted: false)
            try s.saveResource(shop: shop, kind: "order", id: "5005", updatedAt: 5, body: "{broken", deleted: false)
            _ = try s.markOnce(shop: shop, key: "customer_alias:1001:abc")
            _ = try s.markOnce(shop: shop, key: "customer_alias:2002:abc")
            try s.enqueue([
                operation("o1", user: "c:1001", payload: #"{"external_id":"ext-1001"}"#),
                operation("o2", user: "v:v2", payload: #"{"user_alias":{"alias_name":"v2"}}"#),
                operation("o3", user: "v:v9", payload: #"{"email":"Ann@Example.com"}"#),
                operation("o4", user: "catalog", kind: .catalogUpsert, payload: #"{"note":"ann@example.com"}"#),
                operation("o5", user: "c:2002", payload: #"{"external_id":"ext-2002"}"#),
                operation("o6", user: "c:1001", kind: .delete, payload: #"{"external_ids":["ext-1001"]}"#),
                operation("o7", user: "v:v8", payload: #"{"phone":"+15550001111"}"#),
            ])
            try s.audit(shop: shop, action: "seed", detail: "-", at: 1)
        }
        // One operation of the customer died.
        let claimed = try await storage.outbox.claim(shop: shop, now: 1_000_000, limit: 10, leaseMillis: 1_000)
        try await storage.outbox.deadLetter(claimed.filter { $0.operation.id == "o7" }.map(\.seq), reason: "refused", now: 1_000, receipt: nil)
        try await storage.outbox.release(claimed.map(\.seq))
        _ = try await storage.events.append([event("w8", source: .webhook, name: "customers/redact", properties: #"{"customer":{"id":1001}}"#)])
        let logged = try await storage.events.events(after: 0, limit: 100)
        return logged.first { $0.event.eventId == "w8" }?.position ?? 0
    }

    struct Outcome: Equatable, CustomStringConvertible {
        var export: String
        var report: RedactionReport
        var after: String
        var events: [String]
        var outbox: [String]
        var dead: [String]
        var marks: [Bool]
        var timers: [String]
        var carts: [String]
        var description: String { "export: \(export)\nreport: \(report)\nafter: \(after)\nevents: \(events)\noutbox: \(outbox)\ndead: \(dead)\nmarks: \(marks)\ntimers: \(timers)\ncarts: \(carts)" }
    }

    static func exportAndRedact(_ engine: StorageEngineUnderTest) async throws -> Outcome {
        let result = LockedValue<Outcome?>(nil)
        try await engine.withProcessorLog(shops: [shop]) { storage async throws in
            let before = try await seed(storage)
            let export = try await storage.state.read { try $0.export(shop: shop, customerId: customerId, emails: [email], orderIds: ["5009"]) }
            let redaction = CustomerRedaction(customerId: customerId, emails: [email], phones: [phone], orderIds: ["5009"], externalIds: ["ext-1001"], before: before)
            let report = try await storage.state.write { try $0.redact(shop: shop, redaction) }
            let after = try await storage.state.read { try $0.export(shop: shop, customerId: customerId, emails: [email], orderIds: []) }
            let events = try await storage.events.events(after: 0, limit: 100).map(\.event.eventId)
            let claimed = try await storage.outbox.claim(shop: shop, now: 10_000_000, limit: 100, leaseMillis: 1_000).map(\.operation.id)
            let dead = try await storage.outbox.deadLetters(shop: shop, limit: 10).map(\.operation.id)
            let marks = try await storage.state.read { s in
                [try s.isMarked(shop: shop, key: "customer_alias:1001:abc"), try s.isMarked(shop: shop, key: "customer_alias:2002:abc")]
            }
            let timers = try await storage.state.read { s in
                try [("cart", "tokA"), ("checkout", "chk1"), ("browse", "v3")].map { kind, subject in
                    "\(subject):\(try s.timers.timer(shop: shop, kind: AbandonmentKind(rawValue: kind) ?? .cart, subject: subject) != nil)"
                }
            }
            let carts = try await storage.state.read { s in
                try ["tokA", "tokB", "tokC", "tokD"].map { "\($0):\(try s.cart(shop: shop, token: $0) != nil)" }
            }
            result.withLock { $0 = Outcome(export: export.serialized, report: report, after: after.serialized, events: events, outbox: claimed,
                                           dead: dead, marks: marks, timers: timers, carts: carts) }
        }
        return try #require(result.withLock { $0 })
    }

    @Test func exportAndRedactGiveTheSameResultsOnBothEngines() async throws {
        let sqlite = try await Self.exportAndRedact(.sqlite)
        let postgres = try await Self.exportAndRedact(.postgres)
        #expect(sqlite == postgres)
        #expect(sqlite.export == postgres.export)
        // And the results are the right ones (not the same mistake twice).
        let report = sqlite.report
        #expect(report.visitors.sorted() == ["v1", "v2"])
        #expect(report.customers == 1)
        #expect(report.webhookDeliveries == 4)  // w1 (customer), w2 (its order), w3 (refund of it), w4 (by email); not w8, the redact itself
        #expect(report.resources == 3)  // the customer, orders 5001 and 5004
        #expect(report.events == 4)  // s1, s2, s3 (its visitors) and s5 (its email)
        #expect(report.carts == 3)  // tokA, tokB (visitors), tokC (its order's cart)
        #expect(report.timers == 2)  // tokA, chk1 (its order's checkout)
        #expect(report.links == 2)
        #expect(report.outbox == 3)  // o1 (its key), o2 (its visitor), o3 (its email)
        #expect(report.deadLetters == 1)  // o7 (its phone)
        #expect(sqlite.events == ["s4", "w5", "w6", "w7", "w8"])
        #expect(sqlite.outbox == ["o4", "o5", "o6"])
        #expect(sqlite.dead == [])
        #expect(sqlite.marks == [false, true])
        #expect(sqlite.timers == ["tokA:false", "chk1:false", "v3:true"])
        #expect(sqlite.carts == ["tokA:false", "tokB:false", "tokC:false", "tokD:true"])
        for part in [#""orders":[{"id":"5001""#, #""event_id":"w2""#, #""event_id":"s3""#, #""first_name":"Ann""#] {
            #expect(sqlite.export.contains(part), "\(part)")
        }
        #expect(!sqlite.export.contains("5002"))
        #expect(sqlite.after.contains(#""customer":[]"#))
    }

    @Test(arguments: StorageEngineUnderTest.allCases)
    func redactShopAndScrubDelivery(engine: StorageEngineUnderTest) async throws {
        try await engine.withProcessorLog(shops: [Self.shop]) { storage async throws in
            let before = try await Self.seed(storage)
            _ = try await storage.events.append([Self.event("other", shop: Self.other, visitor: "v1")])
            try await storage.state.write { try $0.scrubDelivery(shop: Self.shop, position: before, properties: #"{"ids":true}"#) }
            let scrubbed = try await storage.events.events(after: before - 1, limit: 1).first
            #expect(scrubbed?.event.properties == #"{"ids":true}"#)
            try await storage.state.write { try $0.redactShop(Self.shop) }
            #expect(try await storage.events.events(after: 0, limit: 100).map(\.event.eventId) == ["other"])
            #expect(try await storage.state.read { try $0.visitor(shop: Self.shop, id: "v1") } == nil)
            #expect(try await storage.state.read { try $0.customer(shop: Self.shop, id: Self.customerId) } == nil)
            #expect(try await storage.state.read { try $0.resources(shop: Self.shop, kind: "order").count } == 0)
            #expect(try await storage.state.read { try $0.timers.timer(shop: Self.shop, kind: .browse, subject: "v3") } == nil)
            #expect(try await storage.outbox.status(shop: Self.shop, now: 0).pending == 0)
        }
    }
}

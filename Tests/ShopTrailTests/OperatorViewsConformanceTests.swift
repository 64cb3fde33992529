import Foundation
import Testing
@testable import ShopTrail

/// The console's read models, the delivery log and the backfill jobs give the same answers on both
/// engines. Each test seeds one story through the repositories both engines have (event log appends,
/// outbox enqueue/claim/complete/dead-letter, abandonment timers, backfill jobs); the processor's
/// identity state is seeded through `StateTransactions` on SQLite and by SQL on PostgreSQL, whose
/// `ProcessorState` is not in this branch.
@Suite struct OperatorViewsConformanceTests {
    static let shop = "views-a.myshopify.com"
    static let other = "views-b.myshopify.com"
    static let now: EpochMillis = 1_750_000_000_000

    /// One engine's repositories over the same fresh store.
    struct Stores: Sendable {
        let events: any EventStore
        let outbox: any Outbox
        let views: any OperatorViews & DeliveryLog
        let jobs: any BackfillJobStore
        /// Saves identity state (customers, visitors with their link history, carts) and timers.
        let seed: @Sendable (StateSeed) async throws -> Void
    }

    /// Processor state for a test, saved by each engine its own way.
    struct StateSeed: Sendable {
        var customers: [Customer] = []
        var visitors: [Visitor] = []
        var links: [(visitorId: String, customerId: String, evidence: LinkEvidence, at: EpochMillis)] = []
        var carts: [CartSnapshot] = []
        var timers: [AbandonmentTimer] = []
    }

    static func with(_ engine: StorageEngineUnderTest, retention: DeliveryLogRetention = .init(),
                     _ body: @Sendable (Stores) async throws -> Void) async throws {
        try await engine.with(sqlite: { (store: SQLiteEventStore) -> Stores in
            let database = store.database
            return Stores(events: store, outbox: SQLiteOutbox(database: database, deliveryLog: retention), views: SQLiteOperatorViews(database: database),
                          jobs: SQLiteBackfillJobs(database: database), seed: { seed in
                try await database.write { state in
                    for customer in seed.customers { try state.save(customer) }
                    for visitor in seed.visitors { try state.save(visitor) }
                    for link in seed.links {
                        try state.recordLink(shop: Self.shop, visitorId: link.visitorId, customerId: link.customerId, evidence: link.evidence, at: link.at)
                    }
                    for cart in seed.carts { try state.save(cart) }
                    for timer in seed.timers { try state.timers.save(timer) }
                }
            })
        }, postgres: { database in
            Stores(events: PostgresEventStore(database: database), outbox: PostgresOutbox(database: database, deliveryLog: retention),
                   views: PostgresOperatorViews(database: database), jobs: PostgresBackfillJobs(database: database), seed: { seed in
                try await Self.seedPostgres(database, seed)
            })
        }, body)
    }

    /// The same rows `SQLiteProcessorState` writes, by SQL (trusted test literals only).
    static func seedPostgres(_ database: PostgresDatabase, _ seed: StateSeed) async throws {
        func text(_ value: String?) -> String { value.map { "'" + $0.replacingOccurrences(of: "'", with: "''") + "'" } ?? "NULL" }
        func number(_ value: Int64?) -> String { value.map(String.init) ?? "NULL" }
        for c in seed.customers {
            try await database.execute(unsafeSQL: """
                INSERT INTO customers (shop, customer_id, email, first_name, last_name, phone, sent_attributes)
                VALUES (\(text(c.shop)), \(text(c.id)), \(text(c.email)), \(text(c.firstName)), \(text(c.lastName)), \(text(c.phone)), \(text(c.sentAttributes)))
                """)
        }
        for v in seed.visitors {
            try await database.execute(unsafeSQL: """
                INSERT INTO visitors (shop, visitor_id, customer_id, linked_at, evidence, has_alias_profile, alias_identified_as, first_seen, last_seen)
                VALUES (\(text(v.shop)), \(text(v.id)), \(text(v.customerId)), \(number(v.linkedAt)), \(text(v.evidence?.rawValue)), \(v.hasAliasProfile),
                        \(text(v.aliasIdentifiedAs)), \(v.firstSeen), \(v.lastSeen))
                """)
        }
        for l in seed.links {
            try await database.execute(unsafeSQL: """
                INSERT INTO visitor_links (shop, visitor_id, customer_id, evidence, linked_at)
                VALUES (\(text(Self.shop)), \(text(l.visitorId)), \(text(l.customerId)), \(text(l.evidence.rawValue)), \(l.at))
                """)
        }
        for c in seed.carts {
            try await database.execute(unsafeSQL: """
                INSERT INTO carts (shop, cart_token, visitor_id, sent_signature, sent_time, checked_out, aliased_to, checkout_token)
                VALUES (\(text(c.shop)), \(text(c.token)), \(text(c.visitorId)), \(text(c.sentSignature)), \(number(c.sentTime)), \(c.checkedOut),
                        \(text(c.aliasedTo)), \(text(c.checkoutToken)))
                """)
        }
        let timers = seed.timers
        try await database.blockingTransaction { connection in
            for timer in timers { try PostgresAbandonmentTimers(connection: connection).save(timer) }
        }
    }

    // MARK: the story

    static func event(_ id: String, source: EventSource = .storefront, name: String, visitor: String?, at: EpochMillis,
                      context: String? = nil, properties: String = "{}", verified: String? = nil) -> NewEvent {
        NewEvent(shop: shop, source: source, eventId: id, name: name, visitorId: visitor, sessionId: nil, clientTime: at, time: at, receivedAt: at,
                 context: context, properties: properties, verified: verified)
    }

    static func op(_ id: String, user: String, shop: String = shop, at: EpochMillis = now) -> BrazeOperation {
        BrazeOperation(id: id, shop: shop, userKey: user, kind: .event, payload: #"{"name":"e-\#(id)","user":"\#(user)"}"#, createdAt: at)
    }

    static func receipt(_ outcome: String, status: Int?, at: EpochMillis) -> DeliveryReceipt {
        DeliveryReceipt(endpoint: "POST /users/track", status: status, outcome: outcome, response: outcome == "dead" ? "400: invalid" : "201: ok", at: at)
    }

    /// Ann (customer 701) browses as v1 on two page types, checks out, buys (a webhook), and one
    /// operation of hers is delivered, one refused; v3 was only seen; the other shop has a dead letter.
    static func seedStory(_ s: Stores) async throws {
        let productContext = #"{"page":{"type":"product","url":"/products/hat"}}"#
        // Two events with one context: stored once for the batch on both engines.
        _ = try await s.events.append([
            event("e1", name: "page_viewed", visitor: "v1", at: now - 9_000, context: productContext),
            event("e2", name: "product_viewed", visitor: "v1", at: now - 8_000, context: productContext),
        ])
        _ = try await s.events.append([event("e3", name: "page_viewed", visitor: "v1", at: now - 7_000, context: #"{"page":{"type":"index"}}"#)])
        _ = try await s.events.append([event("e4", source: .pixel, name: "checkout_started", visitor: "v1", at: now - 6_000)])
        _ = try await s.events.append([event("e5", source: .webhook, name: "orders/create", visitor: nil, at: now - 5_000,
                                             properties: #"{"id":9001,"customer":{"id":701,"email":"ann@example.com"}}"#)])
        _ = try await s.events.append([event("e6", name: "cart_viewed", visitor: "v3", at: now - 4_000, verified: #"{"customer_id":"701"}"#)])
        _ = try await s.events.append([event("e7", source: .webhook, name: "customers/update", visitor: nil, at: now - 3_000,
                                             properties: #"{"customer":{"id":702}}"#)])

        var ann = Customer(shop: shop, id: "701")
        ann.email = "Ann.Lee@Example.com"
        ann.firstName = "Ann"
        ann.lastName = "Lee"
        var v1 = Visitor(shop: shop, id: "v1", firstSeen: now - 9_000)
        v1.lastSeen = now - 6_000
        v1.customerId = "701"
        v1.linkedAt = now - 6_500
        v1.evidence = .appProxy
        var v2 = Visitor(shop: shop, id: "v2", firstSeen: now - 20_000)
        v2.customerId = "701"
        v2.linkedAt = now - 19_000
        v2.evidence = .cartToken
        var cart = CartSnapshot(shop: shop, token: "cart-1")
        cart.visitorId = "v1"
        cart.checkoutToken = "chk-1"
        var fired = AbandonmentTimer(shop: shop, kind: .checkout, subject: "chk-1", visitorId: "v1", customerId: "701", armedAt: now - 6_000,
                                     dueAt: now - 1_000, detail: "{}", state: .fired)
        fired.reason = "sent"
        fired.closedAt = now - 1_000
        try await s.seed(StateSeed(
            customers: [ann], visitors: [v1, v2],
            links: [("v1", "701", .appProxy, now - 6_500), ("v2", "701", .cartToken, now - 19_000)], carts: [cart],
            timers: [
                AbandonmentTimer(shop: shop, kind: .browse, subject: "v1", visitorId: "v1", customerId: "701", armedAt: now - 8_000, dueAt: now + 60_000, detail: "{}"),
                AbandonmentTimer(shop: shop, kind: .cart, subject: "cart-1", visitorId: "v1", customerId: "701", armedAt: now - 7_000, dueAt: now + 90_000, detail: "{}"),
                fired,
                AbandonmentTimer(shop: other, kind: .browse, subject: "w1", visitorId: "w1", customerId: nil, armedAt: now, dueAt: now + 60_000, detail: "{}"),
            ]))

        try await s.outbox.enqueue([op("d1", user: "c:701"), op("d2", user: "v:v1"), op("x1", user: "c:701"), op("p1", user: "v:v9")])
        let claimed = try await s.outbox.claim(shop: shop, now: now, limit: 2, leaseMillis: 60_000)
        #expect(claimed.map(\.operation.id) == ["d1", "d2"])
        try await s.outbox.complete(claimed.map(\.seq), receipt: receipt("delivered", status: 201, at: now + 1))
        let refused = try await s.outbox.claim(shop: shop, now: now + 2, limit: 1, leaseMillis: 60_000)
        #expect(refused.map(\.operation.id) == ["x1"])
        try await s.outbox.deadLetter(refused.map(\.seq), reason: "400: 'time' is invalid", now: now + 3, receipt: receipt("dead", status: 400, at: now + 3))
        try await s.outbox.enqueue([op("o1", user: "v:w1", shop: other)])
        let elsewhere = try await s.outbox.claim(shop: other, now: now + 4, limit: 1, leaseMillis: 60_000)
        try await s.outbox.deadLetter(elsewhere.map(\.seq), reason: "400: bad", now: now + 4, receipt: nil)
    }

    // MARK: tests

    @Test(arguments: StorageEngineUnderTest.allCases)
    func aPersonIsFoundByCustomerIdEmailVisitorAndCartWithTheSamePage(engine: StorageEngineUnderTest) async throws {
        try await Self.with(engine) { s in
            try await Self.seedStory(s)
            let byId = try #require(try await s.views.person(shop: Self.shop, query: "701", limit: 50))
            #expect(byId.customerId == "701")
            #expect(byId.email == "Ann.Lee@Example.com")
            #expect(byId.name == "Ann Lee")
            // The queried visitor first, then the customer's others, most recently seen first.
            #expect(byId.visitors.map(\.visitorId) == ["v1", "v2"])
            #expect(byId.visitors.first?.evidence == "app_proxy")
            #expect(byId.visitors.first?.history.map { $0.customerId } == ["701"])
            #expect(byId.visitors.first?.firstSeen == Self.now - 9_000)
            // v1's storefront and pixel events and the webhook that names customer 701 (not 702's), newest first.
            #expect(byId.timeline.map(\.event.eventId) == ["e5", "e4", "e3", "e2", "e1"])
            #expect(byId.timeline.last?.event.context == #"{"page":{"type":"product","url":"/products/hat"}}"#)
            #expect(byId.deliveries.map(\.opId) == ["x1", "d1", "d2"] || byId.deliveries.map(\.opId) == ["x1", "d2", "d1"])
            #expect(byId.deliveries.first?.receipt == Self.receipt("dead", status: 400, at: Self.now + 3))
            #expect(byId.deliveries.first?.attempts == 1)
            #expect(byId.deliveries.first?.request == Self.op("x1", user: "c:701").payload)
            #expect(byId.deadLetters.map(\.operation.id) == ["x1"])
            #expect(byId.timers.map { "\($0.kind):\($0.subject):\($0.state)" }.sorted() == ["browse:v1:armed", "cart:cart-1:armed", "checkout:chk-1:fired"])
            #expect(byId.timers.first { $0.kind == "checkout" }?.closedAt == Self.now - 1_000)

            for query in ["ann.lee@example.com", " v1 ", "cart-1", "chk-1"] {
                let found = try await s.views.person(shop: Self.shop, query: query, limit: 50)
                #expect(found?.customerId == "701", "\(query)")
                #expect(found?.visitors.map(\.visitorId) == ["v1", "v2"], "\(query)")
            }
            // Seen in the log, not processed: a person with only a timeline.
            let seen = try #require(try await s.views.person(shop: Self.shop, query: "v3", limit: 50))
            #expect(seen.customerId == nil)
            #expect(seen.timeline.map(\.event.eventId) == ["e6"])
            #expect(seen.visitors.map(\.visitorId) == ["v3"])
            // Bounded: the limit cuts the timeline and the deliveries.
            let short = try #require(try await s.views.person(shop: Self.shop, query: "701", limit: 2))
            #expect(short.timeline.map(\.event.eventId) == ["e5", "e4"])
            #expect(short.deliveries.count == 2)
            #expect(try await s.views.person(shop: Self.shop, query: "nobody", limit: 50) == nil)
            #expect(try await s.views.person(shop: Self.other, query: "701", limit: 50) == nil)
            #expect(try await s.views.person(shop: Self.shop, query: "   ", limit: 50) == nil)
        }
    }

    @Test(arguments: StorageEngineUnderTest.allCases)
    func theOverviewAndTheGaugesCountTheSameThings(engine: StorageEngineUnderTest) async throws {
        try await Self.with(engine) { s in
            try await Self.seedStory(s)
            let overview = try await s.views.overview(shop: Self.shop, now: Self.now + 10)
            #expect(overview.outbox == OutboxStatus(pending: 1, inFlight: 0, dead: 1, oldestPendingAgeMillis: 10))
            // Nothing processed yet: every event of the (only) shop of the log is behind.
            #expect(overview.processorLag == 7)
            #expect(overview.quarantined == 0)
            #expect(overview.recentDeadLetters.map(\.operation.id) == ["x1"])
            #expect(overview.recentDeadLetters.first?.reason == "400: 'time' is invalid")
            #expect(overview.recentDeadLetters.first?.attempts == 1)

            let gauges = try await s.views.gauges()
            #expect(gauges.outboxDepth == [Self.shop: 1])
            #expect(gauges.deadLetters == [Self.shop: 1, Self.other: 1])
            #expect(gauges.armedTimers == [Self.shop: ["browse": 1, "cart": 1], Self.other: ["browse": 1]])
            #expect(gauges.processorLag == 7)
        }
    }

    @Test(arguments: StorageEngineUnderTest.allCases)
    func deadLettersAreListedNewestFirstAndRetriedOrDiscarded(engine: StorageEngineUnderTest) async throws {
        try await Self.with(engine) { s in
            try await Self.seedStory(s)
            #expect(try await s.views.deadLetters(shop: nil, limit: 10).map(\.operation.id) == ["o1", "x1"])
            #expect(try await s.views.deadLetters(shop: nil, limit: 1).map(\.operation.id) == ["o1"])
            #expect(try await s.views.deadLetters(shop: Self.other, limit: 10).map(\.operation.shop) == [Self.other])

            #expect(try await s.views.retryDeadLetter(shop: Self.shop, opId: "x1"))
            #expect(try await s.views.retryDeadLetter(shop: Self.shop, opId: "x1") == false)
            // Back at the end of the queue, keeping its id.
            let again = try await s.outbox.claim(shop: Self.shop, now: Self.now + 100, limit: 10, leaseMillis: 1_000)
            #expect(again.map(\.operation.id) == ["p1", "x1"])
            #expect(try await s.views.discardDeadLetter(shop: Self.other, opId: "o1"))
            #expect(try await s.views.discardDeadLetter(shop: Self.other, opId: "o1") == false)
            #expect(try await s.views.deadLetters(shop: nil, limit: 10).isEmpty)

            try await s.outbox.deadLetter(again.map(\.seq), reason: "400", now: Self.now + 200)
            try await s.outbox.enqueue([Self.op("o2", user: "v:w1", shop: Self.other)])
            let o2 = try await s.outbox.claim(shop: Self.other, now: Self.now + 300, limit: 1, leaseMillis: 1_000)
            try await s.outbox.deadLetter(o2.map(\.seq), reason: "400", now: Self.now + 300)
            #expect(try await s.views.retryDeadLetters(shop: Self.shop) == 2)
            #expect(try await s.outbox.status(shop: Self.shop, now: Self.now + 400).pending == 2)
            #expect(try await s.views.discardDeadLetters(shop: nil) == 1)
            #expect(try await s.outbox.status(shop: nil, now: Self.now + 400).dead == 0)
        }
    }

    @Test(arguments: StorageEngineUnderTest.allCases)
    func theInstallCheckReadsThePageTypesPixelWebhooksAndAppProxy(engine: StorageEngineUnderTest) async throws {
        try await Self.with(engine) { s in
            try await Self.seedStory(s)
            let signals = try await s.views.installSignals(shop: Self.shop, pageTypes: ["index", "product", "cart"], topics: ["orders/create"])
            #expect(signals.pageTypes.keys.sorted() == ["index", "product"])
            #expect(signals.pageTypes["product"]?.at == Self.now - 9_000)
            #expect(signals.pageTypes["product"]?.context == #"{"page":{"type":"product","url":"/products/hat"}}"#)
            #expect(signals.pageTypes["index"]?.context == #"{"page":{"type":"index"}}"#)
            #expect(signals.pixelCheckoutAt == Self.now - 6_000)
            #expect(signals.webhookTopics == ["orders/create": Self.now - 5_000, "customers/update": Self.now - 3_000])
            #expect(signals.appProxyAt == Self.now - 4_000)
            let none = try await s.views.installSignals(shop: Self.other, pageTypes: ["index"], topics: [])
            #expect(none.pageTypes.isEmpty && none.webhookTopics.isEmpty && none.pixelCheckoutAt == nil && none.appProxyAt == nil)
        }
    }

    @Test(arguments: StorageEngineUnderTest.allCases)
    func deliveryReceiptsAreRecordedWithTheRowsRemovalAndTrimmed(engine: StorageEngineUnderTest) async throws {
        let retention = {
            var retention = DeliveryLogRetention()
            retention.maxRows = 5
            retention.maxRequestBytes = 10
            return retention
        }()
        try await Self.with(engine, retention: retention) { s in
            for i in 0..<12 {
                try await s.outbox.enqueue([Self.op("op\(i)", user: "v:x")])
                let claimed = try await s.outbox.claim(shop: Self.shop, now: Self.now, limit: 10, leaseMillis: 1_000)
                try await s.outbox.complete(claimed.map(\.seq), receipt: Self.receipt("delivered", status: 201, at: Self.now + Int64(i)))
            }
            let records = try await s.views.records(shop: Self.shop, userKeys: ["v:x"], limit: 100)
            #expect(records.map(\.opId) == ["op11", "op10", "op9", "op8", "op7"])
            #expect(records.first?.request == String(Self.op("op11", user: "v:x").payload.prefix(10)))
            #expect(records.first?.receipt == Self.receipt("delivered", status: 201, at: Self.now + 11))
            #expect(records.first?.kind == "event" && records.first?.shop == Self.shop && records.first?.userKey == "v:x")
            #expect(try await s.views.records(shop: Self.shop, userKeys: ["v:x"], limit: 2).map(\.opId) == ["op11", "op10"])
            #expect(try await s.views.records(shop: Self.other, userKeys: ["v:x"], limit: 100).isEmpty)
            #expect(try await s.views.records(shop: Self.shop, userKeys: [], limit: 100).isEmpty)
            // A refusal is recorded too, with no HTTP status when none came; the age bound then drops the older.
            try await s.outbox.enqueue([Self.op("late", user: "v:y")])
            let late = try await s.outbox.claim(shop: Self.shop, now: Self.now, limit: 10, leaseMillis: 1_000)
            try await s.outbox.deadLetter(late.map(\.seq), reason: "gone", now: Self.now,
                                          receipt: Self.receipt("dead", status: nil, at: Self.now + retention.maxAgeMillis + 20))
            #expect(try await s.views.records(shop: Self.shop, userKeys: ["v:x"], limit: 100).isEmpty)
            let dead = try await s.views.records(shop: Self.shop, userKeys: ["v:x", "v:y"], limit: 100)
            #expect(dead.map(\.opId) == ["late"])
            #expect(dead.first?.receipt.status == nil && dead.first?.receipt.outcome == "dead")
            // Without a receipt nothing is recorded.
            try await s.outbox.enqueue([Self.op("quiet", user: "v:z")])
            let quiet = try await s.outbox.claim(shop: Self.shop, now: Self.now, limit: 10, leaseMillis: 1_000)
            try await s.outbox.complete(quiet.map(\.seq))
            #expect(try await s.views.records(shop: Self.shop, userKeys: ["v:z"], limit: 100).isEmpty)
            #expect(try await s.outbox.status(shop: Self.shop, now: Self.now).pending == 0)
        }
    }

    @Test(arguments: StorageEngineUnderTest.allCases)
    func aBackfillJobAndItsStagingRoundTrip(engine: StorageEngineUnderTest) async throws {
        try await Self.with(engine) { s in
            let empty = try await s.jobs.job(shop: Self.shop)
            #expect(empty == BackfillJob(shop: Self.shop))
            var job = BackfillJob(shop: Self.shop)
            job.state = .running
            job.phase = .fetchOrders
            job.windowStart = Self.now - 86_400_000
            job.requestedDays = 90
            job.days = 60
            job.warning = "clamped"
            job.checkpoint.customersFetched = true
            job.checkpoint.customersCursor = "cursor-1"
            job.checkpoint.customersEnqueuedSeq = 3
            job.counts.customersFetched = 3
            job.counts.newUsers = 2
            job.startedAt = Self.now
            job.runs = 2
            try await s.jobs.save(job)
            #expect(try await s.jobs.job(shop: Self.shop) == job)
            job.state = .done
            job.finishedAt = Self.now + 5
            job.reason = nil
            try await s.jobs.save(job)
            #expect(try await s.jobs.job(shop: Self.shop) == job)
            #expect(try await s.jobs.job(shop: Self.other) == BackfillJob(shop: Self.other))

            func node(_ id: String) -> (id: String, body: JSONValue) {
                (id, .object(JSONObject([("id", .string(id)), ("total", .number("12.5"))])))
            }
            // A dry run counts what is staged and saves no job.
            var fresh = BackfillJob(shop: Self.other)
            fresh = try await s.jobs.stage(kind: "order", [node("o1"), node("o2"), node("o1")], job: fresh, persist: false)
            #expect(fresh.counts.ordersFetched == 2)
            #expect(try await s.jobs.job(shop: Self.other) == BackfillJob(shop: Self.other))
            // A refetch after an interruption adds only what is new, after what was staged, and saves the job.
            fresh = try await s.jobs.stage(kind: "order", [node("o2"), node("o3")], job: fresh, persist: true)
            #expect(fresh.counts.ordersFetched == 3)
            #expect(try await s.jobs.job(shop: Self.other) == fresh)
            _ = try await s.jobs.stage(kind: "customer", [node("c1")], job: fresh, persist: false)
            #expect(try await s.jobs.stagedCount(shop: Self.other, kind: "order") == 3)
            #expect(try await s.jobs.stagedCount(shop: Self.other, kind: "customer") == 1)
            let first = try await s.jobs.staged(shop: Self.other, kind: "order", after: 0, limit: 2)
            #expect(first.map(\.id) == ["o1", "o2"])
            #expect(first.first?.body["total"] == .number("12.5"))
            let rest = try await s.jobs.staged(shop: Self.other, kind: "order", after: try #require(first.last?.seq), limit: 10)
            #expect(rest.map(\.id) == ["o3"])
            try await s.jobs.clearStaging(shop: Self.other)
            #expect(try await s.jobs.stagedCount(shop: Self.other, kind: "order") == 0)
            #expect(try await s.jobs.staged(shop: Self.other, kind: "customer", after: 0, limit: 10).isEmpty)
        }
    }
}

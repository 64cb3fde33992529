import AsyncHTTPClient
import BrazeSandbox
import Foundation
import Hummingbird
import HummingbirdTesting
import ShopifyAdminEmulator
import Synchronization
import Testing
@testable import ShopTrail

/// `shoptrail backfill` against the Shopify Admin emulator and the BrazeSandbox: profiles, order events, subscription
/// states only for new users, resume without duplicates, once-only, dry run, the 60-day clamp, no throttling.
@Suite(.serialized) struct BackfillTests {
    static let domain = WebhookTests.domain

    struct Env {
        let p: IdentityScenarioTests.Pipeline
        let emulator: ShopifyEmulatorState
        let emulatorClient: any TestClientProtocol
        let shop: ShopConfig
        let httpClient: HTTPClient

        var braze: BrazeClient {
            BrazeClient(httpClient: httpClient, restEndpoint: "http://127.0.0.1:\(p.sandbox.port ?? 0)", apiKey: Secret(IdentityScenarioTests.brazeKey))
        }

        /// Runs a backfill on the pipeline's SQLite store, or on `store` (state transactions and jobs of another engine).
        func backfill(_ settings: Backfill.Settings = .init(), braze: (any BrazeSending)? = nil,
                      store: (states: any StateTransactions, jobs: any BackfillJobStore)? = nil,
                      confirm: @escaping @Sendable (BackfillPlan) async -> Bool = { _ in true },
                      progress: @escaping Backfill.Progress = { _ in }) async throws -> BackfillSummary {
            var clientSettings = ShopifyAdminClient.Settings()
            clientSettings.bulkPollInterval = .milliseconds(50)
            let client = try ShopifyAdminClient(shop: shop, httpClient: httpClient, logger: Fixtures.logger(), settings: clientSettings)
            let store = store ?? (p.temp.store.database, SQLiteBackfillJobs(database: p.temp.store.database))
            return try await Backfill(shop: shop, states: store.states, jobs: store.jobs, client: client, braze: braze ?? self.braze, settings: settings,
                                      logger: Fixtures.logger())
                .run(confirm: confirm, progress: progress)
        }

        /// Delivers everything `outbox` holds for the shop to the sandbox with a forwarder of its own.
        func deliver(_ outbox: any Outbox) async throws {
            var settings = ForwarderSettings()
            settings.lingerMillis = 0
            let forwarder = BrazeForwarder(outbox: outbox, senders: [shop.domain: braze], settings: settings, logger: Fixtures.logger())
            for _ in 0..<5_000 {
                if try await outbox.status(shop: shop.domain, now: SystemClock().now()).pending == 0 { return }
                if try await !forwarder.round(shop: shop.domain).sent { try await Task.sleep(for: .milliseconds(2)) }
            }
            Issue.record("outbox did not drain")
        }

        func emulatorThrottled() async throws -> Int {
            let text = try await emulatorClient.execute(uri: "/_emulator/stats", method: .get) { String(buffer: $0.body) }
            let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
            return object?["throttled"] as? Int ?? -1
        }

        func sandboxStats() async throws -> [String: Any] {
            let text = try await p.sandbox.execute(uri: "/_sandbox/stats", method: .get) { String(buffer: $0.body) }
            return try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] ?? [:]
        }
    }

    static func with(customers: Int, orders: Int, scopes: [String] = ShopifyEmulatorConfiguration.defaultScopes + ["read_all_orders"],
                     sandbox: BrazeSandboxConfiguration? = nil, _ body: @escaping @Sendable (Env) async throws -> Void) async throws {
        let state = ShopifyEmulatorState(configuration: ShopifyEmulatorConfiguration(
            shopDomain: domain, accessScopes: scopes, bulkMinimumDuration: .milliseconds(50), customerCount: customers, orderCount: orders, productCount: 50))
        let httpClient = HTTPClient(eventLoopGroupProvider: .singleton)
        do {
            try await buildShopifyAdminEmulatorApplication(state: state, port: 0).test(.live) { emulator in
                let port = try #require(emulator.port)
                let shopify = ShopifyConfig(apiSecret: WebhookTests.secret, previousApiSecret: WebhookTests.previous, adminAPIURL: "http://127.0.0.1:\(port)",
                                            adminAccessToken: Secret(ShopifyEmulatorConfiguration.defaultAccessToken))
                let braze = WebhookTests.braze()
                let shop = ShopConfig(domain: domain, writeKey: "pk_other_1", allowedOrigins: [], snippetSecret: nil, shopify: shopify, braze: braze)
                let run: @Sendable (IdentityScenarioTests.Pipeline) async throws -> Void = { p in
                    try await body(Env(p: p, emulator: state, emulatorClient: emulator, shop: shop, httpClient: httpClient))
                }
                try await IdentityScenarioTests.with(braze, domain: domain, shopify: shopify, sandbox: sandbox ?? BrazeSandboxConfiguration(), run)
            }
        } catch {
            try await httpClient.shutdown()
            throw error
        }
        try await httpClient.shutdown()
    }

    /// Orders of the window Braze should get: with a customer, not test.
    static func expectedOrders(_ data: ShopifyDataSet, since: EpochMillis) -> [ShopifyOrder] {
        data.orders.filter { EpochMillis($0.createdAt.timeIntervalSince1970 * 1000) >= since && $0.customerId != nil && !$0.test }
    }

    static func expectedCustomers(_ data: ShopifyDataSet, since: EpochMillis) -> [ShopifyCustomer] {
        data.customers.filter { EpochMillis($0.updatedAt.timeIntervalSince1970 * 1000) >= since }
    }

    static func orderEvents(_ users: [[String: Any]]) -> [[String: Any]] {
        users.flatMap { ($0["events"] as? [[String: Any]] ?? []).filter { $0["name"] as? String == "ecommerce.order_placed" } }
    }

    // MARK: the full-size shop

    @Test func ninetyDayBackfillOfAGeneratedShop() async throws {
        try await Self.with(customers: 5_000, orders: 20_000) { env in
            let data = await env.emulator.dataSet
            // A user Braze already has, with a state that differs from Shopify's: the backfill must not touch it.
            let existing = try #require(data.customers.first { $0.emailMarketingState == .subscribed && $0.updatedAt > Date().addingTimeInterval(-30 * 86_400) })
            let pre = #"{"attributes":[{"external_id":"\#(existing.id)","subscription_groups":[{"subscription_group_id":"grp-email-1","subscription_state":"unsubscribed"}]}]}"#
            let answer = await env.braze.send(.usersTrack, body: Array(pre.utf8))
            guard case .success = answer.response else { Issue.record("pre-create failed: \(answer.response)"); return }

            let started = Date()
            let summary = try await env.backfill()
            let enqueuedAt = Date()
            try await env.p.flush()
            let delivered = Date()
            let since = try #require(summary.job.windowStart)
            let stats = try await env.sandboxStats()
            print("backfill 5,000/20,000: fetch+enqueue \(String(format: "%.1f", enqueuedAt.timeIntervalSince(started))) s, delivery \(String(format: "%.1f", delivered.timeIntervalSince(enqueuedAt))) s, "
                  + "\(summary.enqueued) operations, shopify \(summary.shopify.requests) requests, braze \(stats["requests_total"] ?? "?") requests, lookups \(summary.brazeLookups.requests), data points \(stats["data_points"] ?? "?"), plan \(summary.plan.dataPoints)")
            #expect(summary.job.state == .done)
            #expect(summary.job.days == 90)
            #expect(try await env.emulatorThrottled() == 0)

            let users = try await env.p.users()
            let byId = Dictionary(users.compactMap { u in (u["external_id"] as? String).map { ($0, u) } }, uniquingKeysWith: { a, _ in a })
            let customers = Self.expectedCustomers(data, since: since)
            #expect(byId.count == customers.count)
            let orders = Self.expectedOrders(data, since: since)
            let events = Self.orderEvents(users)
            #expect(events.count == orders.count)
            #expect(Set(events.compactMap { ($0["properties"] as? [String: Any])?["order_id"] as? String }).count == orders.count)
            #expect(events.allSatisfy { ($0["properties"] as? [String: Any])?["backfilled"] as? Bool == true })
            // Original times.
            for order in orders.prefix(50) {
                let user = try #require(byId[String(order.customerId ?? 0)])
                let event = (user["events"] as? [[String: Any]] ?? []).first { ($0["properties"] as? [String: Any])?["order_id"] as? String == String(order.id) }
                #expect((event?["time"] as? String).flatMap(Timestamp.parse) == EpochMillis((order.createdAt.timeIntervalSince1970 * 1000).rounded(.down)) / 1000 * 1000
                        || (event?["time"] as? String).flatMap(Timestamp.parse).map { abs($0 - EpochMillis(order.createdAt.timeIntervalSince1970 * 1000)) < 1000 } == true)
            }
            // Attributes of a sample.
            for customer in customers.prefix(40) {
                let attributes = try #require(byId[String(customer.id)]?["attributes"] as? [String: Any])
                #expect(attributes["shopify_order_count"] as? String == String(customer.numberOfOrders))
                #expect(attributes["shopify_total_spent"] as? String == customer.amountSpent.amount)
                #expect(attributes["email"] as? String == customer.email)
                #expect(attributes["shopify_tags"] as? String == customer.tags.sorted().joined(separator: ", "))
                // New users get Shopify's state in the shop's groups.
                guard customer.id != existing.id else { continue }
                let groups = (byId[String(customer.id)]?["subscriptions"] as? [String: Any])?["subscription_groups"] as? [String: String] ?? [:]
                if let state = customer.emailMarketingState {
                    #expect(groups["grp-email-1"] == (state == .subscribed ? "subscribed" : "unsubscribed"))
                }
            }
            let groups = (byId[String(existing.id)]?["subscriptions"] as? [String: Any])?["subscription_groups"] as? [String: String]
            #expect(groups?["grp-email-1"] == "unsubscribed")

            // Once only.
            await #expect(throws: Backfill.Failure.self) { _ = try await env.backfill() }
        }
    }

    // MARK: resume, once, force

    @Test func anInterruptedRunResumesWithoutDuplicatesAndASecondRunNeedsForce() async throws {
        try await Self.with(customers: 300, orders: 1_200) { env in
            struct Stop: Error {}
            var settings = Backfill.Settings()
            settings.chunkSize = 100
            let chunks = Counter()
            await #expect(throws: Stop.self) {
                _ = try await env.backfill(settings, progress: { p in
                    if p.phase == .enqueueOrders, chunks.next() == 2 { throw Stop() }
                })
            }
            let stopped = try await SQLiteBackfillJobs(database: env.p.temp.store.database).job(shop: Self.domain)
            #expect(stopped.state == .failed)
            #expect(stopped.phase == .enqueueOrders)
            // Some of it is delivered before the resume.
            try await env.p.flush()
            let summary = try await env.backfill(settings)
            #expect(summary.resumed)
            #expect(summary.job.state == .done)
            try await env.p.flush()
            let data = await env.emulator.dataSet
            let since = try #require(summary.job.windowStart)
            let events = Self.orderEvents(try await env.p.users())
            #expect(events.count == Self.expectedOrders(data, since: since).count)
            #expect(Set(events.compactMap { ($0["properties"] as? [String: Any])?["order_id"] as? String }).count == events.count)

            do {
                _ = try await env.backfill(settings)
                Issue.record("a second run was not refused")
            } catch let failure as Backfill.Failure {
                #expect("\(failure)".contains("pass --force"))
            }
            settings.force = true
            let forced = try await env.backfill(settings)
            #expect(forced.job.state == .done)
            #expect(forced.job.runs == 3)
            #expect(try await env.emulatorThrottled() == 0)
        }
    }

    /// The same interrupted run and resume on PostgreSQL: staging, the enqueue chunks (operations and job in one
    /// transaction on the engine's processor state), the once-only refusal, and delivery from its outbox.
    @Test func onPostgresAnInterruptedRunResumesWithoutDuplicatesAndASecondRunNeedsForce() async throws {
        try await Self.with(customers: 200, orders: 800) { env in
            try await StorageEngineUnderTest.withFreshDatabase { database in
                let jobs = PostgresBackfillJobs(database: database, processorState: { PostgresProcessorState($0) })
                let store: (states: any StateTransactions, jobs: any BackfillJobStore) = (database, jobs)
                let outbox = PostgresOutbox(database: database)
                struct Stop: Error {}
                var settings = Backfill.Settings()
                settings.chunkSize = 100
                let chunks = Counter()
                await #expect(throws: Stop.self) {
                    _ = try await env.backfill(settings, store: store, progress: { p in
                        if p.phase == .enqueueOrders, chunks.next() == 2 { throw Stop() }
                    })
                }
                let stopped = try await jobs.job(shop: Self.domain)
                #expect(stopped.state == .failed)
                #expect(stopped.phase == .enqueueOrders)
                try await env.deliver(outbox)  // some of it before the resume
                let summary = try await env.backfill(settings, store: store)
                #expect(summary.resumed)
                #expect(summary.job.state == .done)
                try await env.deliver(outbox)
                let data = await env.emulator.dataSet
                let since = try #require(summary.job.windowStart)
                let users = try await env.p.users()
                let events = Self.orderEvents(users)
                #expect(events.count == Self.expectedOrders(data, since: since).count)
                #expect(Set(events.compactMap { ($0["properties"] as? [String: Any])?["order_id"] as? String }).count == events.count)
                #expect(Set(users.compactMap { $0["external_id"] as? String }) == Set(Self.expectedCustomers(data, since: since).map { String($0.id) }))
                do {
                    _ = try await env.backfill(settings, store: store)
                    Issue.record("a second run was not refused")
                } catch let failure as Backfill.Failure {
                    #expect("\(failure)".contains("pass --force"))
                }
                // Nothing went to the SQLite store beside it.
                #expect(try await env.p.outbox.status(shop: Self.domain, now: SystemClock().now()).pending == 0)
            }
        }
    }

    @Test func pagesModeInterruptedMidFetchResumesWithoutRefetchingOrDuplicates() async throws {
        try await Self.with(customers: 60, orders: 200) { env in
            struct Stop: Error {}
            var settings = Backfill.Settings()
            settings.mode = .pages
            let pages = Counter()
            await #expect(throws: Stop.self) {
                _ = try await env.backfill(settings, progress: { p in
                    if p.phase == .fetchOrders, pages.next() == 1 { throw Stop() }
                })
            }
            let stopped = try await SQLiteBackfillJobs(database: env.p.temp.store.database).job(shop: Self.domain)
            #expect(stopped.checkpoint.customersFetched)
            #expect(stopped.checkpoint.ordersCursor != nil)
            let summary = try await env.backfill(settings)
            #expect(summary.job.state == .done)
            try await env.p.flush()
            let data = await env.emulator.dataSet
            let events = Self.orderEvents(try await env.p.users())
            #expect(events.count == Self.expectedOrders(data, since: try #require(summary.job.windowStart)).count)
            #expect(Set(events.compactMap { ($0["properties"] as? [String: Any])?["order_id"] as? String }).count == events.count)
            #expect(try await env.emulatorThrottled() == 0)
        }
    }

    // MARK: dry run, clamp

    @Test func aDryRunSendsNothingAndWithoutReadAllOrdersTheWindowIsClampedTo60Days() async throws {
        try await Self.with(customers: 100, orders: 400, scopes: ShopifyEmulatorConfiguration.defaultScopes) { env in
            var settings = Backfill.Settings()
            settings.dryRun = true
            let summary = try await env.backfill(settings)
            #expect(summary.dryRun)
            #expect(summary.plan.days == 60)
            #expect(summary.plan.warning?.contains("read_all_orders") == true)
            #expect(summary.plan.orders > 0)
            #expect(summary.plan.dataPoints > 0)
            #expect(summary.plan.render().contains("ecommerce.order_placed"))
            #expect(try await env.p.outbox.status(shop: Self.domain, now: SystemClock().now()).pending == 0)
            #expect(try await env.sandboxStats()["requests_total"] as? Int == 0)
            #expect(try await SQLiteBackfillJobs(database: env.p.temp.store.database).job(shop: Self.domain).state == .notStarted)

            let real = try await env.backfill()
            #expect(real.job.days == 60)
            #expect(real.job.warning != nil)
            try await env.p.flush()
            let data = await env.emulator.dataSet
            let events = Self.orderEvents(try await env.p.users())
            #expect(events.count == Self.expectedOrders(data, since: try #require(real.job.windowStart)).count)
            #expect(events.count == summary.plan.orders)
            let points = (try await env.sandboxStats()["data_points"] as? [String: Any])?["total"] as? Int
            #expect(points == summary.plan.dataPoints)
        }
    }

    // MARK: discounts and money sets

    @Test func pagedOrdersMapToTheWebhookShapeWithEachCodesAmountAndTheMoneySets() async throws {
        try await Self.with(customers: 60, orders: 300) { env in
            let client = try ShopifyAdminClient(shop: env.shop, httpClient: env.httpClient, logger: Fixtures.logger())
            let since = SystemClock().now() - 90 * 86_400_000
            // Pages of 4 (an order with 20 line items and 5 discount applications costs about 210 points).
            var nodes: [ShopTrail.JSONValue] = []
            var cursor: ShopTrail.JSONValue = .null
            for _ in 0..<12 {
                let answer = try await client.query(BackfillQueries.pageOrders(first: 4, since: since), variables: ["cursor": cursor])
                #expect(answer.errors.isEmpty)
                nodes += answer.value(at: ["orders", "nodes"])?.arrayValue ?? []
                guard let next = answer.value(at: ["orders", "pageInfo", "endCursor"])?.stringValue else { break }
                cursor = .string(next)
            }
            let data = await env.emulator.dataSet
            let byGid = Dictionary(data.orders.map { ($0.gid, $0) }, uniquingKeysWith: { a, _ in a })
            var discounted = 0
            for value in nodes {
                let node = BackfillMapper.pagedOrder(try #require(value.objectValue))
                let order = try #require(byGid[node["id"]?.stringValue ?? ""])
                let rest = try #require(BackfillMapper.restOrder(node))
                #expect(rest["subtotal_price"] == .string(order.subtotalPrice.amount))
                #expect(rest["total_tax"] == .string(order.totalTax.amount))
                #expect(rest["total_shipping_price_set"] == .object(JSONObject([("shop_money", .object(JSONObject([
                    ("amount", .string(order.totalShippingPrice.amount)), ("currency_code", .string(order.currencyCode)),
                ])))])))
                let codes = rest["discount_codes"]?.arrayValue ?? []
                if let code = order.discountCodes.first {
                    discounted += 1
                    // The webhook's shape: {code, amount: "12.00", type}.
                    #expect(codes == [.object(JSONObject([
                        ("code", .string(code)), ("amount", .string(order.totalDiscounts.amount)), ("type", .string("percentage")),
                    ]))])
                } else {
                    #expect(codes.isEmpty)
                }
            }
            #expect(discounted > 0)
        }
    }

    @Test func aCodeAmountThatIsNotKnownIsLeftOutNeverZero() throws {
        func node(_ extra: [(key: String, value: ShopTrail.JSONValue)]) -> JSONObject {
            JSONObject([("id", .string("gid://shopify/Order/1")), ("discountCodes", .array([.string("FREESHIP"), .string("TENOFF")]))] + extra)
        }
        let application = { (code: String, index: Int, target: String) -> ShopTrail.JSONValue in
            .object(JSONObject([
                ("__typename", .string("DiscountCodeApplication")), ("index", .number(String(index))), ("targetType", .string(target)), ("code", .string(code)),
                ("value", .object(JSONObject([("__typename", .string("MoneyV2")), ("amount", .string("10.0"))]))),
            ]))
        }
        let allocation = { (amount: String, index: Int) -> ShopTrail.JSONValue in
            .object(JSONObject([
                ("allocatedAmountSet", .object(JSONObject([("shopMoney", .object(JSONObject([("amount", .string(amount))])))]))),
                ("discountApplication", .object(JSONObject([("index", .number(String(index)))]))),
            ]))
        }
        let lines: ShopTrail.JSONValue = .array([
            .object(JSONObject([("id", .string("gid://shopify/LineItem/1")), ("discountAllocations", .array([allocation("6.5", 1)]))])),
            .object(JSONObject([("id", .string("gid://shopify/LineItem/2")), ("discountAllocations", .array([allocation("3.50", 1)]))])),
        ])
        let applications: ShopTrail.JSONValue = .array([application("FREESHIP", 0, "SHIPPING_LINE"), application("TENOFF", 1, "LINE_ITEM")])
        // Allocations add up per code ("6.5" + "3.50"); a shipping code's amount is not on the line items: left out.
        let full = BackfillMapper.discountCodes(node([("lineItems", lines), ("discountApplications", applications)]))
        #expect(full == [
            .object(JSONObject([("code", .string("FREESHIP")), ("type", .string("shipping"))])),
            .object(JSONObject([("code", .string("TENOFF")), ("amount", .string("10.00")), ("type", .string("fixed_amount"))])),
        ])
        // Line items cut off by the page size: the sum would be partial.
        let cut = BackfillMapper.discountCodes(node([("lineItems", lines), ("discountApplications", applications), ("lineItemsIncomplete", .bool(true))]))
        #expect(cut.allSatisfy { $0.objectValue?["amount"] == nil })
        // Staged before discount applications were read: the codes alone.
        let bare = BackfillMapper.discountCodes(node([]))
        #expect(bare == [.object(JSONObject([("code", .string("FREESHIP"))])), .object(JSONObject([("code", .string("TENOFF"))]))])
        // Amounts are added exactly and printed as Shopify's REST API prints them.
        let tenth = try #require(DecimalAmount(text: "0.1")), fifth = try #require(DecimalAmount(text: "0.2"))
        #expect(tenth.adding(fifth).text == "0.30")
        #expect(DecimalAmount(text: "1.125")?.text == "1.125")
        #expect(DecimalAmount(text: "-3")?.text == "-3.00")
        #expect(DecimalAmount(text: "1e3") == nil)
        #expect(DecimalAmount(text: "12.") == nil)
        #expect(DecimalAmount(text: "99999999999999999999") == nil)
    }

    @Test(arguments: [Backfill.Mode.bulk, .pages])
    func discountedOrdersReachBrazeWithTheirCodesAmount(mode: Backfill.Mode) async throws {
        try await Self.with(customers: 100, orders: 500) { env in
            var settings = Backfill.Settings()
            settings.mode = mode
            let summary = try await env.backfill(settings)
            try await env.p.flush()
            let data = await env.emulator.dataSet
            let orders = Self.expectedOrders(data, since: try #require(summary.job.windowStart)).filter { !$0.discountCodes.isEmpty }
            #expect(!orders.isEmpty)
            let events = Self.orderEvents(try await env.p.users())
            let byOrder = Dictionary(events.compactMap { e in ((e["properties"] as? [String: Any])?["order_id"] as? String).map { ($0, e) } }, uniquingKeysWith: { a, _ in a })
            for order in orders {
                let properties = byOrder[String(order.id)]?["properties"] as? [String: Any]
                let discounts = properties?["discounts"] as? [[String: Any]] ?? []
                #expect(discounts.count == 1)
                #expect(discounts.first?["code"] as? String == order.discountCodes.first)
                let amount = (discounts.first?["amount"] as? NSNumber)?.doubleValue
                #expect(amount.map { abs($0 - Double(order.totalDiscounts.cents) / 100) < 0.005 } == true, "\(order.name): \(String(describing: properties))")
            }
        }
    }

    // MARK: data points

    @Test func dataPointsAreCountedAsBrazesDataPointsPageSays() throws {
        let attributes = #"{"external_id":"1","email":"a@b.c","country":"DE","subscription_groups":[{"subscription_group_id":"g","subscription_state":"subscribed"}],"email_subscribe":"opted_in","tags":{"add":["a","b"]},"address":{"city":"Köln","zip":"50667"},"favourites":[1,2,3],"nickname":null}"#
        let object = try #require(try JSONParser.parse(Array(attributes.utf8)).objectValue)
        // email, country, 2 added values, 2 nested keys, a whole array, a null: 8. Identifier and subscriptions: free.
        #expect(BrazeDataPoints.attributes(object) == 8)
        func operation(_ kind: BrazeOperation.Kind, _ payload: String) -> BrazeOperation {
            BrazeOperation(id: "x", shop: Self.domain, userKey: "c:1", kind: kind, payload: payload, createdAt: 0)
        }
        #expect(BrazeDataPoints.of(operation(.attributes, attributes)) == 8)
        #expect(BrazeDataPoints.of(operation(.attributes, #"{"external_id":"1","subscription_groups":[]}"#)) == 0)
        #expect(BrazeDataPoints.of(operation(.event, #"{"external_id":"1","name":"ecommerce.order_placed","properties":{"a":1,"b":2}}"#)) == 1)
        #expect(BrazeDataPoints.of(operation(.purchase, #"{"external_id":"1","product_id":"p","price":1}"#)) == 1)
        #expect(BrazeDataPoints.of(operation(.delete, #"{"external_ids":["1"]}"#)) == 0)
        #expect(BrazeDataPoints.of(operation(.aliasNew, #"{"user_aliases":[]}"#)) == 0)
    }

    // MARK: Braze rate limits

    static func exportAnswer(_ known: [String]) -> BrazeAnswer {
        let users = known.map { #"{"external_id":"\#($0)"}"# }.joined(separator: ",")
        return BrazeAnswer(response: .success(processed: [:], minorErrors: []), status: 201, body: Array(#"{"users":[\#(users)],"message":"success"}"#.utf8))
    }

    static func tooMany(after: Duration?, reset: Date? = nil) -> BrazeAnswer {
        BrazeAnswer(response: .rateLimited(retryAfter: after, resetAt: reset), rateLimit: BrazeRateLimitInfo(limit: 10, remaining: 0, resetAt: reset), status: 429)
    }

    @Test func aRateLimitedLookupWaitsAsBrazeSaysAndAsksAgainUntilItIsAnswered() async throws {
        let time = FakeTime()
        let braze = ScriptedBraze { index, _ in
            switch index {
            case 0..<3: Self.tooMany(after: .seconds(30))
            case 3: Self.tooMany(after: nil, reset: time.now.addingTimeInterval(12))
            default: Self.exportAnswer(["u1"])
            }
        }
        var tally = BrazeUserLookup.Tally()
        let known = try await BrazeUserLookup(sender: braze, policy: time.policy()).existing(["u1", "u2"], tally: &tally)
        #expect(known == ["u1"])
        #expect(tally.requests == 5)
        #expect(tally.rateLimited == 4)
        let waits = time.waits.map(\.inSeconds)
        #expect(waits.count == 4)
        // Retry-After 30 s (plus at most 10 % jitter), then until X-RateLimit-Reset.
        #expect(waits.prefix(3).allSatisfy { $0 >= 30 && $0 <= 33 })
        #expect(waits.last.map { $0 >= 12 && $0 <= 13.2 } == true)
    }

    @Test func aSpentWindowPacesTheNextRequestAndLongWaitsAreBounded() async throws {
        let time = FakeTime()
        let braze = ScriptedBraze { index, _ in
            switch index {
            // Answered, but the window is spent: the next request waits for the reset instead of collecting a 429.
            case 0:
                BrazeAnswer(response: .success(processed: [:], minorErrors: []),
                            rateLimit: BrazeRateLimitInfo(limit: 1, remaining: 0, resetAt: time.now.addingTimeInterval(20)), status: 201,
                            body: Array(#"{"users":[],"message":"success"}"#.utf8))
            // An hourly window: asked again after the cap, not an hour later.
            case 1: Self.tooMany(after: .seconds(3_600))
            default: Self.exportAnswer(["u60"])
            }
        }
        var policy = time.policy()
        policy.maxWait = .seconds(90)
        var tally = BrazeUserLookup.Tally()
        let ids = (0..<60).map { "u\($0)" }
        let known = try await BrazeUserLookup(sender: braze, policy: policy).existing(ids, tally: &tally)
        #expect(known == ["u60"])
        #expect(tally.requests == 3)
        #expect(tally.rateLimited == 1)
        let waits = time.waits.map(\.inSeconds)
        #expect(waits.count == 2)
        #expect(waits.first.map { $0 >= 20 && $0 <= 22 } == true)
        #expect(waits.last.map { $0 >= 90 && $0 <= 99 } == true)
    }

    @Test func aLookupThatGetsNoAnswerThrowsInsteadOfDeciding() async throws {
        // 429 past the deadline.
        let time = FakeTime()
        var policy = time.policy()
        policy.rateLimitDeadline = .seconds(600)
        var tally = BrazeUserLookup.Tally()
        await #expect(throws: BrazeUserLookup.Failure.self) {
            _ = try await BrazeUserLookup(sender: ScriptedBraze { _, _ in Self.tooMany(after: .seconds(60)) }, policy: policy).existing(["a"], tally: &tally)
        }
        #expect(tally.rateLimited >= 10)
        #expect(time.waits.map(\.inSeconds).reduce(0, +) >= 600)
        // 5xx and transport failures: a few bounded retries.
        var outage = BrazeUserLookup.Tally()
        let down = ScriptedBraze { _, _ in BrazeAnswer(response: .retryable(status: 503, reason: "down"), status: 503) }
        do {
            _ = try await BrazeUserLookup(sender: down, policy: FakeTime().policy()).existing(["a"], tally: &outage)
            Issue.record("an outage was not reported")
        } catch let failure as BrazeUserLookup.Failure {
            guard case .unavailable = failure else { Issue.record("\(failure)"); return }
        }
        #expect(outage.requests == BrazeUserLookup.Policy().transportRetries + 1)
        // A refusal is not waited on.
        var refused = BrazeUserLookup.Tally()
        let forbidden = ScriptedBraze { _, _ in BrazeAnswer(response: .rejected(status: 403, message: "missing users.export.ids"), status: 403) }
        await #expect(throws: BrazeUserLookup.Failure.rejected(status: 403, message: "missing users.export.ids")) {
            _ = try await BrazeUserLookup(sender: forbidden, policy: FakeTime().policy()).existing(["a"], tally: &refused)
        }
        #expect(refused.requests == 1)
    }

    /// Every customer of the window is a new user with Shopify's states in the shop's groups.
    static func expectEveryNewUserHasItsStates(_ env: Env, _ summary: BackfillSummary, except: Set<String> = []) async throws {
        let data = await env.emulator.dataSet
        let since = try #require(summary.job.windowStart)
        let users = try await env.p.users()
        let byId = Dictionary(users.compactMap { u in (u["external_id"] as? String).map { ($0, u) } }, uniquingKeysWith: { a, _ in a })
        let customers = Self.expectedCustomers(data, since: since).filter { !except.contains(String($0.id)) }
        var withStates = 0
        for customer in customers {
            let groups = (byId[String(customer.id)]?["subscriptions"] as? [String: Any])?["subscription_groups"] as? [String: String] ?? [:]
            if let state = customer.emailMarketingState { #expect(groups["grp-email-1"] == (state == .subscribed ? "subscribed" : "unsubscribed")) }
            if let state = customer.smsMarketingState { #expect(groups["grp-sms-1"] == (state == .subscribed ? "subscribed" : "unsubscribed")) }
            if customer.emailMarketingState != nil || customer.smsMarketingState != nil { withStates += 1 }
        }
        #expect(withStates > 0)
        #expect(summary.job.counts.newUsers == customers.count)
        #expect(summary.job.counts.subscriptionStates == withStates)
    }

    @Test func aLookupBrazeCannotAnswerFailsTheRunVisiblyAndTheNextRunContinuesFromThatChunk() async throws {
        try await Self.with(customers: 600, orders: 1_200) { env in
            var settings = Backfill.Settings()
            settings.chunkSize = 50
            let time = FakeTime()
            settings.brazeLookup = time.policy()
            settings.brazeLookup.rateLimitDeadline = .seconds(600)
            let real = env.braze
            // Braze answers the first two export requests (two chunks), then only 429.
            let limited = ScriptedBraze { index, request in index < 2 ? await real.send(request) : Self.tooMany(after: .seconds(30)) }
            do {
                _ = try await env.backfill(settings, braze: limited)
                Issue.record("the run did not fail")
            } catch let failure as Backfill.Failure {
                guard case .brazeLookup(.rateLimited) = failure else { Issue.record("\(failure)"); return }
                #expect("\(failure)".contains("without --force"))
            }
            let failed = try await SQLiteBackfillJobs(database: env.p.temp.store.database).job(shop: Self.domain)
            #expect(failed.state == .failed)
            #expect(failed.phase == .enqueueCustomers)
            #expect(failed.reason?.contains("rate limited") == true)
            #expect(failed.checkpoint.customersEnqueuedSeq == 100)
            #expect(failed.counts.customersEnqueued + failed.counts.customersSkipped == 100)
            #expect(failed.counts.brazeRateLimited > 0)
            let status = failed.json.objectValue
            #expect(status?["state"]?.stringValue == "failed")
            #expect(status?["error"]?.stringValue?.contains("/users/export/ids") == true)

            settings.brazeLookup = BrazeUserLookup.Policy()
            let summary = try await env.backfill(settings)
            #expect(summary.resumed)
            #expect(summary.job.state == .done)
            try await env.p.flush()
            try await Self.expectEveryNewUserHasItsStates(env, summary)
        }
    }

    @Test func againstARateLimitedSandboxEveryNewUserGetsItsSubscriptionStates() async throws {
        let sandbox = BrazeSandboxConfiguration(apiKeys: [BrazeAPIKey(IdentityScenarioTests.brazeKey)],
                                                rateLimitOverrides: [.usersExport: BrazeRateLimit(requests: 3, windowSeconds: 3)])
        try await Self.with(customers: 400, orders: 800, sandbox: sandbox) { env in
            var settings = Backfill.Settings()
            settings.chunkSize = 100
            let braze = env.braze
            // Another client spends the export window just before the enqueue: the first lookup is answered 429.
            let summary = try await env.backfill(settings, confirm: { _ in
                for _ in 0..<4 { _ = await braze.send(.usersExportIds, body: Array(#"{"external_ids":["someone-else"]}"#.utf8)) }
                return true
            })
            #expect(summary.job.state == .done)
            #expect(summary.brazeLookups.rateLimited > 0)
            #expect(summary.job.counts.brazeRateLimited == summary.brazeLookups.rateLimited)
            try await env.p.flush()
            try await Self.expectEveryNewUserHasItsStates(env, summary)
        }
    }

    // MARK: admin API

    @Test func theJobStatusIsServedBehindTheAdminToken() async throws {
        let temp = try TempStore()
        let shop = ShopConfig(domain: Self.domain, writeKey: "pk_other_1", allowedOrigins: [], snippetSecret: nil, shopify: ShopifyConfig(), braze: BrazeConfig())
        let config = ShopTrailConfig(server: ServerConfig(publicURL: "http://127.0.0.1:8080", dataDir: temp.dir.path), shops: [shop], origin: "tests")
        var job = BackfillJob(shop: Self.domain)
        job.state = .failed
        job.phase = .enqueueOrders
        job.reason = "interrupted"
        job.counts.ordersEnqueued = 42
        try await SQLiteBackfillJobs(database: temp.store.database).save(job)
        let router = Router()
        BackfillController(config: config, jobs: SQLiteBackfillJobs(database: temp.store.database), adminToken: Secret("admin-token-0123456789")).addRoutes(to: router)
        try await Application(router: router).test(.router) { client in
            try await client.execute(uri: "/v1/admin/backfill/\(Self.domain)", method: .get) { #expect($0.status == .unauthorized) }
            try await client.execute(uri: "/v1/admin/backfill/\(Self.domain)", method: .get, headers: [.authorization: "Bearer admin-token-0123456789"]) { response in
                #expect(response.status == .ok)
                let body = try JSONSerialization.jsonObject(with: Data(String(buffer: response.body).utf8)) as? [String: Any]
                #expect(body?["state"] as? String == "failed")
                #expect(body?["phase"] as? String == "enqueue_orders")
                #expect(body?["error"] as? String == "interrupted")
                #expect((body?["counts"] as? [String: Any])?["orders_enqueued"] as? Int == 42)
            }
            try await client.execute(uri: "/v1/admin/backfill/other.myshopify.com", method: .get, headers: [.authorization: "Bearer admin-token-0123456789"]) {
                #expect($0.status == .notFound)
            }
        }
    }
}

/// A clock that moves only when the code under test sleeps, recording every wait asked of it.
final class FakeTime: Sendable {
    private let state = Mutex((now: Date(timeIntervalSince1970: 1_700_000_000), waits: [Duration]()))
    var now: Date { state.withLock { $0.now } }
    var waits: [Duration] { state.withLock { $0.waits } }

    /// A lookup policy on this clock (jitter drawn as 0.5).
    func policy() -> BrazeUserLookup.Policy {
        var policy = BrazeUserLookup.Policy()
        policy.sleep = { duration in
            self.state.withLock {
                $0.waits.append(duration)
                $0.now = $0.now.addingTimeInterval(duration.inSeconds)
            }
        }
        policy.now = { self.now }
        policy.random = { 0.5 }
        return policy
    }
}

/// A Braze that answers from a script: the request's index (0, 1, …) and the request give the answer.
final class ScriptedBraze: BrazeSending {
    private let index = Mutex(0)
    private let answer: @Sendable (Int, BrazeRequest) async -> BrazeAnswer

    init(_ answer: @escaping @Sendable (Int, BrazeRequest) async -> BrazeAnswer) { self.answer = answer }

    func send(_ request: BrazeRequest) async -> BrazeAnswer {
        let current = index.withLock { value in defer { value += 1 }; return value }
        return await answer(current, request)
    }
}

/// A counter callable from a `@Sendable` closure.
final class Counter: Sendable {
    private let value = Mutex(0)
    func next() -> Int { value.withLock { $0 += 1; return $0 } }
}

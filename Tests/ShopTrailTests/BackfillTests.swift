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

        func backfill(_ settings: Backfill.Settings = .init(), progress: @escaping Backfill.Progress = { _ in }) async throws -> BackfillSummary {
            var clientSettings = ShopifyAdminClient.Settings()
            clientSettings.bulkPollInterval = .milliseconds(50)
            let client = try ShopifyAdminClient(shop: shop, httpClient: httpClient, logger: Fixtures.logger(), settings: clientSettings)
            return try await Backfill(shop: shop, database: p.temp.store.database, client: client, braze: braze, settings: settings, logger: Fixtures.logger())
                .run(confirm: { _ in true }, progress: progress)
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
                     _ body: @escaping @Sendable (Env) async throws -> Void) async throws {
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
                try await IdentityScenarioTests.with(braze, domain: domain, shopify: shopify) { p in
                    try await body(Env(p: p, emulator: state, emulatorClient: emulator, shop: shop, httpClient: httpClient))
                }
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
                  + "\(summary.enqueued) operations, shopify \(summary.shopify.requests) requests, braze \(stats["requests_total"] ?? "?") requests, lookups \(summary.brazeLookups), data points \(stats["data_points"] ?? "?"), plan \(summary.plan.dataPoints)")
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
                _ = try await env.backfill(settings) { p in
                    if p.phase == .enqueueOrders, chunks.next() == 2 { throw Stop() }
                }
            }
            let stopped = try await Backfill.job(shop: Self.domain, database: env.p.temp.store.database)
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

    @Test func pagesModeInterruptedMidFetchResumesWithoutRefetchingOrDuplicates() async throws {
        try await Self.with(customers: 60, orders: 200) { env in
            struct Stop: Error {}
            var settings = Backfill.Settings()
            settings.mode = .pages
            let pages = Counter()
            await #expect(throws: Stop.self) {
                _ = try await env.backfill(settings) { p in
                    if p.phase == .fetchOrders, pages.next() == 1 { throw Stop() }
                }
            }
            let stopped = try await Backfill.job(shop: Self.domain, database: env.p.temp.store.database)
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
            #expect(try await Backfill.job(shop: Self.domain, database: env.p.temp.store.database).state == .notStarted)

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
        try await BackfillStore(database: temp.store.database).save(job)
        let router = Router()
        BackfillController(config: config, database: temp.store.database, adminToken: Secret("admin-token-0123456789")).addRoutes(to: router)
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

/// A counter callable from a `@Sendable` closure.
final class Counter: Sendable {
    private let value = Mutex(0)
    func next() -> Int { value.withLock { $0 += 1; return $0 } }
}

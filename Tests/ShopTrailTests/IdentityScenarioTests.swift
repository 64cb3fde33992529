import AsyncHTTPClient
import BrazeSandbox
import Foundation
import GRDB
import Hummingbird
import HummingbirdTesting
import Logging
import Testing
@testable import ShopTrail

/// Identity scenarios end to end: beacons over HTTP to the collector, the processor, the outbox,
/// the forwarder, and the Braze sandbox's resulting profiles.
@Suite struct IdentityScenarioTests {
    static let shop = "a-shop.myshopify.com"
    static let secret = Secret("snippet-secret-a")
    static let brazeKey = "scenario-key"

    /// One running pipeline; `flush()` processes the log and delivers the outbox.
    struct Pipeline {
        let collector: any TestClientProtocol
        let sandbox: any TestClientProtocol
        let processor: ProcessorService
        let forwarder: BrazeForwarder
        let outbox: any Outbox
        let temp: TempStore
        let config: ShopTrailConfig
        var shopDomain = IdentityScenarioTests.shop
        var writeKey = "pk_a_1"
        let t0 = SystemClock().now() - 3_600_000
        /// Seconds since t0 as an RFC 3339 time: scenario steps happen in order.
        func at(_ minute: Int) -> String { Timestamp.format(t0 + EpochMillis(minute) * 60_000) }

        func send(_ visitor: String, _ events: [(id: String, name: String, minute: Int, properties: String)], customer: String? = nil) async throws {
            let items = events.map { #"{"id":"\#($0.id)","name":"\#($0.name)","time":"\#(at($0.minute))","properties":\#($0.properties)}"# }
            let context = customer.map { #","customer":\#($0)"# } ?? ""
            let body = #"{"write_key":"\#(writeKey)","visitor_id":"\#(visitor)","sent_at":"\#(Timestamp.format(SystemClock().now()))","context":{"page":{"type":"product"}\#(context)},"events":[\#(items.joined(separator: ","))]}"#
            let (status, text, _) = try await collector.postBatch(body)
            #expect(status == .ok, "\(text)")
        }

        func flush() async throws {
            try await processor.drain()
            for _ in 0..<5_000 {
                if try await outbox.status(shop: shopDomain, now: SystemClock().now()).pending == 0 { return }
                if try await !forwarder.round(shop: shopDomain).sent { try await Task.sleep(for: .milliseconds(2)) }
            }
            Issue.record("outbox did not drain")
        }

        func users() async throws -> [[String: Any]] {
            let text = try await sandbox.execute(uri: "/_sandbox/users", method: .get) { String(buffer: $0.body) }
            return try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]] ?? []
        }

        func user(_ externalId: String) async throws -> [String: Any]? {
            try await users().first { $0["external_id"] as? String == externalId }
        }

        func eventNames(_ externalId: String) async throws -> [String] {
            (try await user(externalId)?["events"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
        }

        func trackedPaths() async throws -> [String] {
            let text = try await sandbox.execute(uri: "/_sandbox/requests", method: .get) { String(buffer: $0.body) }
            let requests = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]] ?? []
            return requests.compactMap { $0["path"] as? String }
        }

        /// Runs the abandonment scheduler as if it were `minute` minutes (and 5 s, more than the collector's
        /// clock correction) after t0 — a fresh instance each time, as after a restart — then delivers what it queued.
        @discardableResult
        func fireAbandonment(at minute: Int) async throws -> AbandonmentScheduler.Pass {
            try await processor.drain()
            let scheduler = AbandonmentScheduler(database: temp.store.database, config: config, clock: ManualClock(t0 + EpochMillis(minute) * 60_000 + 5_000),
                                                 logger: Fixtures.logger())
            let pass = try await scheduler.fireDue()
            try await flush()
            return pass
        }

        func securityEvents() async throws -> [String] {
            try await temp.store.database.pool.read { db in try String.fetchAll(db, sql: "SELECT detail FROM security_counts ORDER BY first_at, rowid") }
        }
    }

    static func signedCustomer(_ id: String, email: String, secret: Secret = secret, ts: EpochMillis = SystemClock().now(), shop: String = shop) -> String {
        let seconds = String(ts / 1000)
        let sig = CustomerClaims.signature(shop: shop, customerId: id, email: email, timestamp: seconds, secret: secret)
        return #"{"id":"\#(id)","email":"\#(email)","ts":"\#(seconds)","sig":"\#(sig)","first_name":"Ada"}"#
    }

    static func product(_ id: Int, price: Int = 2_500) -> String {
        #"{"product_id":"\#(id)","variant_id":"\#(id)1","title":"Product \#(id)","price":\#(price),"currency":"EUR","url":"/products/p\#(id)","image_url":"//cdn.shopify.com/p\#(id).jpg","sku":"SKU-\#(id)","vendor":"Acme"}"#
    }

    static func cart(_ token: String, lines: [(Int, Int)]) -> String {
        let items = lines.map { #"{"product_id":"\#($0.0)","variant_id":"\#($0.0)1","product_title":"Product \#($0.0)","quantity":\#($0.1),"price":2500,"final_price":2500,"url":"/products/p\#($0.0)","image":"//cdn.shopify.com/p\#($0.0).jpg","sku":"SKU-\#($0.0)"}"# }
        let total = lines.reduce(0) { $0 + $1.1 * 2_500 }
        return #"{"cart_token":"\#(token)","currency":"EUR","total_price":\#(total),"item_count":\#(lines.count),"items":[\#(items.joined(separator: ","))]}"#
    }

    /// `sandbox`: the Braze sandbox's configuration (e.g. a low rate limit); its keys are replaced by the pipeline's.
    static func with(_ braze: BrazeConfig = BrazeConfig(), domain: String = shop, shopify: ShopifyConfig = ShopifyConfig(),
                     abandonment: AbandonmentConfig = AbandonmentConfig(), appProxy: AppProxyConfig? = nil,
                     sandbox sandboxConfiguration: BrazeSandboxConfiguration = BrazeSandboxConfiguration(),
                     _ body: @escaping @Sendable (Pipeline) async throws -> Void) async throws {
        let writeKey = domain == Self.shop ? "pk_a_1" : "pk_other_1"
        let shop = ShopConfig(domain: domain, writeKey: writeKey, allowedOrigins: ["https://\(domain)"],
                              snippetSecret: secret, shopify: shopify, braze: braze, appProxy: appProxy, abandonment: abandonment)
        let temp = try TempStore()
        let config = ShopTrailConfig(server: ServerConfig(publicURL: "http://127.0.0.1:8080", dataDir: temp.dir.path), shops: [shop], origin: "tests")
        let httpClient = HTTPClient(eventLoopGroupProvider: .singleton)
        var sandboxConfiguration = sandboxConfiguration
        sandboxConfiguration.apiKeys = [BrazeAPIKey(brazeKey)]
        let sandboxApp = buildBrazeSandboxApplication(configuration: sandboxConfiguration, host: "127.0.0.1", port: 0)
        let app = buildApplication(AppDependencies(config: config, store: temp.store, logger: Fixtures.logger()), host: "127.0.0.1", port: 0)
        do {
            try await sandboxApp.test(.live) { sandbox in
                let port = try #require(sandbox.port)
                // A generous timeout: on a loaded machine a late answer would be sent again (at least once), which the tests count.
                let client = BrazeClient(httpClient: httpClient, restEndpoint: "http://127.0.0.1:\(port)", apiKey: Secret(brazeKey), timeout: .seconds(120))
                var settings = ForwarderSettings(shops: config.shops)
                settings.lingerMillis = 0
                // The stages as `serve` assembles them; the tests drive them round by round.
                let stages = BackgroundStages(config: config, store: temp.store, senders: [domain: client], forwarder: settings,
                                              logger: Fixtures.logger())
                try await app.test(.live) { collector in
                    try await body(Pipeline(collector: collector, sandbox: sandbox, processor: stages.processor, forwarder: stages.forwarder,
                                            outbox: stages.outbox, temp: temp, config: config, shopDomain: domain, writeKey: writeKey))
                }
            }
        } catch {
            try await httpClient.shutdown()
            throw error
        }
        try await httpClient.shutdown()
    }

    // MARK: hold mode

    @Test func holdModeSendsNothingAnonymousThenReplaysViewsAndCartOnLogin() async throws {
        try await Self.with { p in
            try await p.send("v_anon_0001", [
                ("e1", "product_viewed", 1, Self.product(1)), ("e2", "product_viewed", 2, Self.product(2)),
                ("e3", "product_viewed", 3, Self.product(1)),  // a reload: not twice
                ("e4", "cart_updated", 4, Self.cart("tok1", lines: [(1, 2)])),
                ("e5", "page_viewed", 5, #"{"url":"https://a-shop.myshopify.com/"}"#),
            ])
            try await p.flush()
            #expect(try await p.users().isEmpty, "hold mode sends nothing for an anonymous visitor")

            try await p.send("v_anon_0001", [("e6", "customer_identified", 10, #"{"customer_id":"1001"}"#)], customer: Self.signedCustomer("1001", email: "Ada@Example.com"))
            try await p.flush()
            let user = try #require(try await p.user("1001"))
            #expect(try await p.eventNames("1001") == ["ecommerce.product_viewed", "ecommerce.product_viewed", "ecommerce.cart_updated", "shopify_account_login"])
            let events = user["events"] as? [[String: Any]] ?? []
            // Original times are kept: the first view's minute 2, not the login's minute 10. The margin covers
            // the clock-skew correction, which moves with the delay between sending and receiving on a loaded machine.
            let firstTime = try #require(Timestamp.parse(events.first?["time"] as? String ?? ""))
            #expect(abs(firstTime - (p.t0 + 2 * 60_000)) < 60_000, "\(events.first ?? [:]) vs \(p.at(2))")
            // The signed email names the customer, but browser data never writes a profile attribute.
            let attributes = user["attributes"] as? [String: Any] ?? [:]
            #expect(attributes["email"] == nil && attributes["first_name"] == nil, "\(attributes)")
            let cart = try #require(events.first { $0["name"] as? String == "ecommerce.cart_updated" }?["properties"] as? [String: Any])
            #expect(cart["cart_id"] as? String == "tok1")
            #expect((cart["total_value"] as? Double) == 50.0)
            #expect(try await p.users().count == 1)
        }
    }

    @Test func returningVisitorStaysKnownWhileLoggedOutAndLogoutStartsAnonymous() async throws {
        try await Self.with { p in
            try await p.send("v_dev1_0001", [("e1", "customer_identified", 1, "{}")], customer: Self.signedCustomer("2002", email: "b@example.com"))
            // Later visits without the customer on the page (logged out, same browser): still recognised.
            try await p.send("v_dev1_0001", [("e2", "product_viewed", 5, Self.product(7))])
            try await p.flush()
            #expect(try await p.eventNames("2002") == ["shopify_account_login", "ecommerce.product_viewed"])
            // After an explicit logout the snippet starts a new visitor id: nothing of it reaches 2002.
            try await p.send("v_dev1_0001", [("e3", "customer_logged_out", 6, #"{"customer_id":"2002"}"#)])
            try await p.send("v_dev1_0002", [("e4", "product_viewed", 7, Self.product(8))])
            try await p.flush()
            #expect(try await p.eventNames("2002") == ["shopify_account_login", "ecommerce.product_viewed"])
            #expect(try await p.users().count == 1)
        }
    }

    @Test func twoCustomersOnOneDeviceAreNeverMerged() async throws {
        try await Self.with { p in
            try await p.send("v_shared_001", [("e1", "product_viewed", 1, Self.product(1))], customer: Self.signedCustomer("3001", email: "x@example.com"))
            try await p.send("v_shared_001", [("e2", "product_viewed", 2, Self.product(2))], customer: Self.signedCustomer("3002", email: "y@example.com"))
            try await p.send("v_shared_001", [("e3", "product_viewed", 3, Self.product(3))])  // logged out, same browser: the latest customer
            try await p.flush()
            #expect(try await p.eventNames("3001") == ["shopify_account_login", "ecommerce.product_viewed"])
            #expect(try await p.eventNames("3002") == ["shopify_account_login", "ecommerce.product_viewed", "ecommerce.product_viewed"])
            #expect(try await p.trackedPaths().contains("/users/merge") == false)
            #expect(try await p.trackedPaths().contains("/users/identify") == false)
        }
    }

    @Test func loginOnTwoDevicesFeedsOneProfile() async throws {
        try await Self.with { p in
            try await p.send("v_phone_0001", [("e1", "product_viewed", 1, Self.product(1))], customer: Self.signedCustomer("4001", email: "c@example.com"))
            try await p.send("v_laptop_001", [("e2", "product_viewed", 2, Self.product(2))], customer: Self.signedCustomer("4001", email: "c@example.com"))
            try await p.flush()
            #expect(try await p.users().count == 1)
            let names = try await p.eventNames("4001")
            #expect(names.filter { $0 == "ecommerce.product_viewed" }.count == 2)
            #expect(names.filter { $0 == "shopify_account_login" }.count == 2)
            // Logins write no attributes (they come from webhooks only).
            let text = try await p.sandbox.execute(uri: "/_sandbox/requests?path=/users/track", method: .get) { String(buffer: $0.body) }
            #expect(text.contains("/users/track") && text.components(separatedBy: "\"attributes\":[{").count - 1 == 0)
        }
    }

    @Test func forgedAndUnsignedCustomerClaimsAreRefusedAndRecorded() async throws {
        try await Self.with { p in
            try await p.send("v_forger_001", [("e1", "product_viewed", 1, Self.product(1))],
                             customer: Self.signedCustomer("5001", email: "victim@example.com", secret: Secret("guessed")))
            try await p.send("v_forger_002", [("e2", "product_viewed", 1, Self.product(1))], customer: #"{"id":"5001","email":"victim@example.com"}"#)
            let old = SystemClock().now() - 5 * 86_400_000
            try await p.send("v_forger_003", [("e3", "product_viewed", 1, Self.product(1))], customer: Self.signedCustomer("5001", email: "victim@example.com", ts: old))
            try await p.flush()
            #expect(try await p.users().isEmpty)
            #expect(try await p.securityEvents() == ["bad_signature", "unsigned", "expired_signature"])
        }
    }

    @Test func pixelCheckoutIsNoEvidenceUntilTheOrderWebhookConfirmsIt() async throws {
        try await Self.with { p in
            try await p.send("v_buyer_0001", [("e1", "cart_updated", 1, Self.cart("tokB", lines: [(3, 1)]))])
            // The pixel's checkout_completed (stored as the pixel collector stores it), naming a customer: unsigned browser data.
            try await p.temp.store.append([NewEvent(shop: Self.shop, source: .pixel, eventId: "px1", name: "checkout_completed", visitorId: "v_buyer_0001", sessionId: nil,
                                                    clientTime: nil, time: p.t0 + 5 * 60_000, receivedAt: SystemClock().now(), context: nil,
                                                    properties: #"{"checkout":{"token":"ck1","cart_token":"tokB"},"customer":{"id":"6001","email":"buyer@example.com"}}"#)])
            try await p.flush()
            #expect(try await p.users().isEmpty, "the pixel's customer identifies nobody")
            // Shopify's signed order for that checkout token does: the visitor is linked, attributes come from the webhook.
            try await p.temp.store.append([NewEvent(shop: Self.shop, source: .webhook, eventId: "wh-b", name: "orders/create", visitorId: nil, sessionId: nil,
                                                    clientTime: nil, time: p.t0 + 5 * 60_000 + 1, receivedAt: SystemClock().now(), context: nil,
                                                    properties: #"{"id":5501,"checkout_token":"ck1","customer":{"id":6001,"email":"real@example.com"}}"#)])
            // A cart update after checkout is refused by Braze's rules: not sent.
            try await p.send("v_buyer_0001", [("e2", "cart_updated", 6, Self.cart("tokB", lines: [(3, 2)]))])
            // Later browsing of that visitor goes to the customer.
            try await p.send("v_buyer_0001", [("e3", "product_viewed", 7, Self.product(4))])
            try await p.flush()
            let user = try #require(try await p.user("6001"))
            #expect((user["attributes"] as? [String: Any])?["email"] as? String == "real@example.com")
            // The bought cart is not replayed, the post-checkout update not sent, and a checkout is no login.
            #expect(try await p.eventNames("6001") == ["ecommerce.order_placed", "ecommerce.product_viewed"])
        }
    }

    @Test func aWebhookOrderWithTheVisitorsCheckoutTokenIdentifiesTheVisitor() async throws {
        try await Self.with { p in
            try await p.send("v_webhook_01", [("e1", "product_viewed", 1, Self.product(5)), ("e2", "cart_updated", 2, Self.cart("tokW", lines: [(5, 1)]))])
            // The pixel saw the checkout of that cart (checkout token ckW) …
            try await p.temp.store.append([NewEvent(shop: Self.shop, source: .pixel, eventId: "px-w", name: "checkout_started", visitorId: "v_webhook_01", sessionId: nil,
                                                    clientTime: nil, time: p.t0 + 3 * 60_000, receivedAt: SystemClock().now(), context: nil,
                                                    properties: #"{"checkout":{"token":"ckW","cart_token":"tokW"}}"#)])
            // … and Shopify's order names that checkout token and the customer (ids beyond 2^53 stay exact).
            try await p.temp.store.append([NewEvent(shop: Self.shop, source: .webhook, eventId: "wh-1", name: "orders/create", visitorId: nil, sessionId: nil,
                                                    clientTime: nil, time: p.t0 + 4 * 60_000, receivedAt: SystemClock().now(), context: nil,
                                                    properties: #"{"id":820982911946154508,"checkout_token":"ckW","customer":{"id":9007199254740993,"email":"w@example.com","first_name":"Wen"}}"#)])
            try await p.flush()
            let user = try #require(try await p.user("9007199254740993"))
            #expect((user["attributes"] as? [String: Any])?["first_name"] as? String == "Wen")
            // The held product view is replayed; the bought cart is not.
            let names = try await p.eventNames("9007199254740993")
            #expect(names == ["ecommerce.product_viewed", "ecommerce.order_placed"], "\(names)")
        }
    }

    // MARK: forward mode

    @Test func forwardModeSendsUnderTheAliasThenIdentifiesBeforeAnythingUnderTheExternalId() async throws {
        var braze = BrazeConfig()
        braze.anonymous = .forward
        try await Self.with(braze) { p in
            try await p.send("v_fwd_000001", [("e1", "product_viewed", 1, Self.product(1)), ("e2", "cart_updated", 2, Self.cart("tokF", lines: [(1, 1)]))])
            try await p.flush()
            let dead = try await p.outbox.deadLetters(shop: Self.shop, limit: 5).map(\.reason)
            #expect(dead.isEmpty, "\(dead)")
            #expect(try await p.trackedPaths() == ["/users/track"])
            let alias = try #require(try await p.users().first)
            #expect(alias["external_id"] is NSNull)
            #expect((alias["user_aliases"] as? [[String: Any]])?.first?["alias_label"] as? String == "shoptrail_visitor")

            try await p.send("v_fwd_000001", [("e3", "customer_identified", 3, "{}"), ("e4", "product_viewed", 4, Self.product(2))],
                             customer: Self.signedCustomer("7001", email: "f@example.com"))
            try await p.flush()
            let users = try await p.users()
            #expect(users.count == 1, "the alias profile was merged into the customer")
            let names = try await p.eventNames("7001")
            #expect(names.first == "ecommerce.product_viewed" && names.contains("ecommerce.cart_updated") && names.last == "ecommerce.product_viewed")
            let user = try #require(try await p.user("7001"))
            let labels = (user["user_aliases"] as? [[String: Any]] ?? []).compactMap { $0["alias_label"] as? String }
            #expect(labels.contains("shoptrail_visitor") && labels.contains("shopify_cart_tokF"))
            let paths = try await p.trackedPaths()
            let identify = try #require(paths.firstIndex(of: "/users/identify"))
            #expect(paths[..<identify].filter { $0 == "/users/track" }.count == 1, "only the anonymous request came before identify: \(paths)")
        }
    }

    // MARK: external ids and naming

    @Test(arguments: [ExternalIdStrategy.customerId, .email, .emailSHA256])
    func externalIdStrategies(_ strategy: ExternalIdStrategy) async throws {
        var braze = BrazeConfig()
        braze.externalId = strategy
        try await Self.with(braze) { p in
            try await p.send("v_ext_000001", [("e1", "product_viewed", 1, Self.product(1))], customer: Self.signedCustomer("8001", email: " Mixed.Case@Example.COM"))
            try await p.flush()
            let expected: String = switch strategy {
            case .customerId: "8001"
            case .email: "mixed.case@example.com"
            case .emailSHA256: "0b9ac9c31e4f5a1a3b0ec26458a71a5e3d88d29dae9e7e5bb3e0b1a83ee70e83"
            }
            let id = try #require(try await p.users().first?["external_id"] as? String)
            if strategy == .emailSHA256 {
                #expect(id.count == 64 && id != expected.uppercased() && id.allSatisfy(\.isHexDigit))
                #expect(id == ExternalId.of({ var c = Customer(shop: "", id: "x"); c.email = "mixed.case@example.com"; return c }(), strategy: .emailSHA256))
            } else {
                #expect(id == expected)
            }
        }
    }

    @Test func legacyNamingSendsTheOldConnectorsProductEvent() async throws {
        var braze = BrazeConfig()
        braze.events = .legacy
        try await Self.with(braze) { p in
            try await p.send("v_legacy_001", [("e1", "product_viewed", 1, Self.product(1, price: 1999)), ("e2", "cart_updated", 2, Self.cart("tokL", lines: [(1, 1)]))],
                             customer: Self.signedCustomer("9001", email: "l@example.com"))
            try await p.flush()
            let user = try #require(try await p.user("9001"))
            let events = user["events"] as? [[String: Any]] ?? []
            #expect(events.compactMap { $0["name"] as? String } == ["shopify_product_viewed"])
            let properties = events.first?["properties"] as? [String: Any] ?? [:]
            #expect(properties["price"] as? Int == 1999 && properties["title"] as? String == "Product 1")
        }
    }

    @Test func cartRulesSkipEmptyRepeatedAndOlderCarts() async throws {
        try await Self.with { p in
            let customer = Self.signedCustomer("9101", email: "r@example.com")
            try await p.send("v_carts_0001", [
                ("c1", "cart_updated", 1, Self.cart("tokR", lines: [(1, 1)])),
                ("c2", "cart_updated", 2, Self.cart("tokR", lines: [(1, 1)])),  // same state
                ("c3", "cart_updated", 3, Self.cart("tokR", lines: [])),  // emptied: Braze refuses empty carts
                ("c4", "cart_updated", 4, Self.cart("tokR", lines: [(1, 2)])),
            ], customer: customer)
            try await p.send("v_carts_0001", [("c5", "cart_updated", 2, Self.cart("tokR", lines: [(1, 5)]))], customer: customer)  // older than the last sent
            try await p.flush()
            let events = (try await p.user("9101"))?["events"] as? [[String: Any]] ?? []
            let carts = events.filter { $0["name"] as? String == "ecommerce.cart_updated" }
            #expect(carts.count == 2)
            let quantities = carts.compactMap { (($0["properties"] as? [String: Any])?["products"] as? [[String: Any]])?.first?["quantity"] as? Int }
            #expect(quantities == [1, 2])
        }
    }

    @Test func reprocessingAfterACrashAddsNoOperation() async throws {
        try await Self.with { p in
            try await p.send("v_crash_0001", [("e1", "product_viewed", 1, Self.product(1))], customer: Self.signedCustomer("9201", email: "k@example.com"))
            try await p.processor.drain()
            let before = try await p.outbox.status(shop: Self.shop, now: SystemClock().now()).pending
            // Rewind the position as if the commit of the position had been lost with the chunk (it cannot
            // be: they commit together) and process again: the operation ids make it a no-op.
            try await p.temp.store.database.pool.write { db in try db.execute(sql: "UPDATE processor_position SET position = 0") }
            try await p.processor.drain()
            #expect(try await p.outbox.status(shop: Self.shop, now: SystemClock().now()).pending == before)
        }
    }
}

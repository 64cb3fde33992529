import Foundation
import GRDB
import Testing
@testable import ShopTrail

/// The abandonment engine end to end with an injected clock: beacons and webhooks over HTTP arm and
/// cancel durable timers, the scheduler fires them, the forwarder delivers to the Braze sandbox.
@Suite struct AbandonmentTests {
    typealias Scenario = IdentityScenarioTests
    static let shop = Scenario.shop

    /// Every kind on, 10-minute windows (the injected clock makes them instant).
    static func config(cooldownMinutes: Int = 24 * 60, minimum: Double = 0) -> AbandonmentConfig {
        var config = AbandonmentConfig()
        for kind in AbandonmentKind.allCases {
            config[kind].enabled = true
            config[kind].windowMillis = 10 * 60_000
        }
        config.cooldownMillis = EpochMillis(cooldownMinutes) * 60_000
        config.minimumCartValue = minimum
        return config
    }

    static func login(_ id: String) -> String { Scenario.signedCustomer(id, email: "\(id)@example.com") }

    /// The customer's events with this name, as (time, properties).
    static func events(_ p: Scenario.Pipeline, _ externalId: String, _ name: String) async throws -> [[String: Any]] {
        (try await p.user(externalId)?["events"] as? [[String: Any]] ?? []).filter { $0["name"] as? String == name }
            .map { $0["properties"] as? [String: Any] ?? [:] }
    }

    /// Timer states by kind, e.g. ["browse": ["cancelled"], "cart": ["fired"]].
    static func states(_ p: Scenario.Pipeline) async throws -> [String: [String]] {
        try await p.temp.store.database.pool.read { db in
            var out: [String: [String]] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT kind, state FROM abandonment_timers ORDER BY kind, subject") {
                out[row["kind"], default: []].append(row["state"])
            }
            return out
        }
    }

    static func reasons(_ p: Scenario.Pipeline) async throws -> [String] {
        try await p.temp.store.database.pool.read { db in
            try String.fetchAll(db, sql: "SELECT COALESCE(reason, '') FROM abandonment_timers ORDER BY kind, subject")
        }
    }

    // MARK: each kind fires once with its payload

    @Test func browseFiresOnceWithTheViewedProductsMostRecentFirst() async throws {
        try await Scenario.with(abandonment: Self.config()) { p in
            try await p.send("v_browse_0001", [("b1", "product_viewed", 1, Scenario.product(1)), ("b2", "product_viewed", 2, Scenario.product(2)),
                                               ("b3", "product_viewed", 3, Scenario.product(1))], customer: Self.login("2001"))
            #expect(try await p.fireAbandonment(at: 12).fired == 0, "due 10 minutes after the last view (minute 13)")
            #expect(try await p.fireAbandonment(at: 13).fired == 1)
            #expect(try await p.fireAbandonment(at: 90).fired == 0, "once")
            let events = try await Self.events(p, "2001", "shoptrail_browse_abandoned")
            try #require(events.count == 1)
            let event = events[0]
            let products = try #require(event["products"] as? [[String: Any]])
            #expect(products.map { $0["product_id"] as? String } == ["1", "2"], "most recent first, de-duplicated")
            #expect(products[0]["product_name"] as? String == "Product 1")
            #expect(products[0]["variant_id"] as? String == "11")
            #expect((products[0]["price"] as? NSNumber)?.doubleValue == 25.0)
            #expect(products[0]["currency"] as? String == "EUR")
            #expect(products[0]["image_url"] as? String == "https://cdn.shopify.com/p1.jpg")
            #expect(products[0]["product_url"] as? String == "https://a-shop.myshopify.com/products/p1")
            #expect(event["product_name"] as? String == "Product 1" && event["product_count"] as? Int == 2)
        }
    }

    @Test func cartFiresWithLinesTotalAndARestoreURL() async throws {
        try await Scenario.with(abandonment: Self.config()) { p in
            try await p.send("v_cart_0001", [("c0", "product_viewed", 1, Scenario.product(1)),
                                             ("c1", "cart_updated", 2, Scenario.cart("tokA", lines: [(1, 1)])),
                                             ("c2", "cart_updated", 5, Scenario.cart("tokA?key=abc", lines: [(1, 2), (2, 1)]))],
                         customer: Self.login("2002"))
            #expect(try await p.fireAbandonment(at: 14).fired == 0, "the second change re-armed it to minute 15")
            #expect(try await p.fireAbandonment(at: 15).fired == 1)
            let events = try await Self.events(p, "2002", "shoptrail_cart_abandoned")
            try #require(events.count == 1)
            let event = events[0]
            #expect(event["cart_id"] as? String == "tokA")
            #expect(event["restore_url"] as? String == "https://a-shop.myshopify.com/cart/11:2,21:1")
            #expect((event["total_value"] as? NSNumber)?.doubleValue == 75.0 && event["currency"] as? String == "EUR")
            let products = try #require(event["products"] as? [[String: Any]])
            #expect(products.count == 2 && products[0]["quantity"] as? Int == 2 && products[0]["product_name"] as? String == "Product 1")
            #expect(products[0]["image_url"] as? String == "https://cdn.shopify.com/p1.jpg")
            #expect(try await Self.events(p, "2002", "shoptrail_browse_abandoned").isEmpty, "adding to cart cancelled browse")
            #expect(try await Self.states(p) == ["browse": ["cancelled"], "cart": ["fired"]])
        }
    }

    @Test func checkoutFiresWithTheRecoveryURLAndLines() async throws {
        try await WebhookTests.with(abandonmentConfig: Self.config()) { p in
            let started = p.at(1)
            let body = try WebhookTests.fixture("checkouts/create").replacingOccurrences(of: #""updated_at": "2026-11-20T10:02:05-05:00""#, with: #""updated_at": "\#(started)""#)
            #expect(body.contains(started), "the fixture's updated_at was replaced")
            try await WebhookTests.post(p, "checkouts/create", body: body)
            #expect(try await p.fireAbandonment(at: 10).fired == 0)
            #expect(try await p.fireAbandonment(at: 11).fired == 1)
            let events = try await Self.events(p, WebhookTests.customer, "shoptrail_checkout_abandoned")
            try #require(events.count == 1)
            let event = events[0]
            #expect(event["checkout_id"] as? String == "d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9")
            #expect((event["checkout_url"] as? String)?.contains("/checkouts/ac/d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9/recover") == true)
            #expect(event["cart_id"] as? String == WebhookTests.cartToken)
            #expect((event["total_value"] as? NSNumber)?.doubleValue == 99.8)
            let products = try #require(event["products"] as? [[String: Any]])
            #expect(products.first?["variant_id"] as? String == "9007199254741777", "ids beyond 2^53 stay exact")
            #expect(products.first?["variant_title"] as? String == "Navy / M")
        }
    }

    @Test func legacyNamingUsesTheConnectorsNamesAndProperties() async throws {
        var braze = BrazeConfig()
        braze.events = .legacy
        var config = AbandonmentConfig.defaults(naming: .legacy)
        config.cart.enabled = true
        config.cart.windowMillis = 10 * 60_000
        try await Scenario.with(braze, abandonment: config) { p in
            try await p.send("v_legacy_0001", [("l1", "cart_updated", 1, Scenario.cart("tokL", lines: [(3, 1)]))], customer: Self.login("2003"))
            // Due at minute 11; asked at 12, as the clock-skew correction can move the event by seconds on a loaded machine.
            #expect(try await p.fireAbandonment(at: 12).fired == 1)
            let events = try await Self.events(p, "2003", "shopify_abandoned_cart")
            try #require(events.count == 1)
            let lines = try #require(events[0]["line_items"] as? [[String: Any]])
            #expect(events[0]["cart_id"] as? String == "tokL")
            #expect(lines.first?["variant_id"] as? String == "31" && lines.first?["price"] as? Int == 2500 && lines.first?["title"] as? String == "Product 3")
            #expect(events[0]["restore_url"] as? String == "https://a-shop.myshopify.com/cart/31:1")
        }
    }

    // MARK: cancellations

    @Test func eachCancellationPathCancels() async throws {
        try await WebhookTests.with(abandonmentConfig: Self.config()) { p in
            // Emptied cart.
            try await p.send("v_cancel_0001", [("x1", "cart_updated", 1, Scenario.cart("tokE", lines: [(1, 1)])),
                                               ("x2", "cart_updated", 2, Scenario.cart("tokE", lines: []))], customer: Self.login("3001"))
            // Checkout from the pixel cancels the cart (and arms the checkout); the pixel's completion cancels that.
            try await p.send("v_cancel_0002", [("y1", "cart_updated", 1, Scenario.cart("tokP", lines: [(1, 1)])),
                                               ("y2", "checkout_started", 2, #"{"checkout":{"token":"chkP","cart_token":"tokP","currencyCode":"EUR","lineItems":[{"quantity":1,"variant":{"id":"11","price":{"amount":25.0},"product":{"id":"1","title":"Product 1"}}}],"totalPrice":{"amount":25.0}}}"#),
                                               ("y3", "checkout_completed", 3, #"{"checkout":{"token":"chkP","cart_token":"tokP","order":{"id":"555"}}}"#)],
                         customer: Self.login("3002"))
            // An order webhook with the cart token cancels browse, cart and checkout of that visitor.
            try await p.send("v_cancel_0003", [("z1", "product_viewed", 1, Scenario.product(4)),
                                               ("z2", "cart_updated", 2, Scenario.cart(WebhookTests.cartToken, lines: [(4, 1)])),
                                               ("z3", "product_viewed", 3, Scenario.product(5))])
            try await WebhookTests.post(p, "orders/create")
            #expect(try await p.fireAbandonment(at: 600).total == 0, "nothing left to fire")
            let states = try await Self.states(p)
            #expect(states["cart"] == ["cancelled", "cancelled", "cancelled"], "\(states)")
            #expect(states["checkout"] == ["cancelled"] && states["browse"] == ["cancelled"], "\(states)")
            let reasons = try await Self.reasons(p)
            for reason in ["cart emptied", "checkout started", "ordered", "added to cart"] {
                #expect(reasons.contains(reason), "\(reasons)")
            }
            #expect(try await p.users().allSatisfy { user in
                (user["events"] as? [[String: Any]] ?? []).allSatisfy { !(($0["name"] as? String) ?? "").hasPrefix("shoptrail_") }
            })
        }
    }

    @Test func coolDownHoldsPerCustomerAndKind() async throws {
        try await Scenario.with(abandonment: Self.config(cooldownMinutes: 60)) { p in
            try await p.send("v_cool_0001", [("k1", "cart_updated", 1, Scenario.cart("tokC", lines: [(1, 1)]))], customer: Self.login("4001"))
            #expect(try await p.fireAbandonment(at: 11).fired == 1)
            // The cart changes again: re-armed, due at 30, inside the hour of cool-down.
            try await p.send("v_cool_0001", [("k2", "cart_updated", 20, Scenario.cart("tokC", lines: [(1, 3)]))], customer: Self.login("4001"))
            let held = try await p.fireAbandonment(at: 30)
            #expect(held.fired == 0 && held.suppressed == 1)
            // After the cool-down it fires again.
            try await p.send("v_cool_0001", [("k3", "cart_updated", 80, Scenario.cart("tokC", lines: [(1, 4)]))], customer: Self.login("4001"))
            #expect(try await p.fireAbandonment(at: 90).fired == 1)
            #expect(try await Self.events(p, "4001", "shoptrail_cart_abandoned").count == 2)
        }
    }

    @Test func minimumCartValueHoldsSmallCartsBack() async throws {
        try await Scenario.with(abandonment: Self.config(minimum: 30)) { p in
            try await p.send("v_min_0001", [("m1", "cart_updated", 1, Scenario.cart("tokM", lines: [(1, 1)]))], customer: Self.login("4501"))
            let pass = try await p.fireAbandonment(at: 11)
            #expect(pass.fired == 0 && pass.suppressed == 1)
            #expect(try await Self.reasons(p) == ["below minimum cart value"])
        }
    }

    // MARK: identity

    @Test func nothingFiresForAVisitorWhoStaysAnonymousButAVisitorKnownBeforeTheDueTimeGetsIt() async throws {
        try await Scenario.with(abandonment: Self.config()) { p in
            try await p.send("v_anon_0009", [("a1", "cart_updated", 1, Scenario.cart("tokAnon", lines: [(1, 1)]))])
            try await p.send("v_late_0009", [("a2", "cart_updated", 1, Scenario.cart("tokLate", lines: [(2, 1)]))])
            // The second visitor logs in before its cart is due.
            try await p.send("v_late_0009", [("a3", "customer_identified", 5, #"{"customer_id":"5001"}"#)], customer: Self.login("5001"))
            let pass = try await p.fireAbandonment(at: 30)
            #expect(pass.fired == 1 && pass.expired == 1)
            #expect(try await Self.events(p, "5001", "shoptrail_cart_abandoned").first?["cart_id"] as? String == "tokLate")
            #expect(try await p.users().map { $0["external_id"] as? String } == ["5001"], "no profile for the anonymous visitor")
        }
    }

    @Test func twoCartsOfOneCustomerOnTwoDevicesSendTheNewerOne() async throws {
        try await Scenario.with(abandonment: Self.config()) { p in
            try await p.send("v_phone_0001", [("d1", "cart_updated", 1, Scenario.cart("tokPhone", lines: [(1, 1)]))], customer: Self.login("6001"))
            try await p.send("v_laptop_0001", [("d2", "cart_updated", 4, Scenario.cart("tokLaptop", lines: [(2, 2)]))], customer: Self.login("6001"))
            let pass = try await p.fireAbandonment(at: 30)
            #expect(pass.fired == 1)
            let events = try await Self.events(p, "6001", "shoptrail_cart_abandoned")
            #expect(events.map { $0["cart_id"] as? String } == ["tokLaptop"])
            #expect(try await Self.reasons(p).contains("newer cart of the customer"))
        }
    }

    // MARK: restarts

    @Test func timersDueWhileDownFireOnceAtStartUp() async throws {
        try await Scenario.with(abandonment: Self.config()) { p in
            for i in 0..<20 {
                try await p.send("v_down_\(1000 + i)", [("r\(i)", "cart_updated", 1 + i % 3, Scenario.cart("tokR\(i)", lines: [(i + 1, 1)]))],
                                 customer: Self.login("\(7000 + i)"))
            }
            try await p.processor.drain()
            // Half come due while running; the server stops; the clock moves on; two schedulers start in turn.
            let first = try await p.fireAbandonment(at: 12)
            #expect(first.fired > 0 && first.fired < 20)
            // (t0 is an hour ago: operations are created at the scheduler's "now", which must not be in the forwarder's future.)
            let afterRestart = try await p.fireAbandonment(at: 59)
            #expect(first.fired + afterRestart.fired == 20)
            #expect(try await p.fireAbandonment(at: 59).fired == 0)
            for i in 0..<20 {
                #expect(try await Self.events(p, "\(7000 + i)", "shoptrail_cart_abandoned").count == 1)
            }
            let counts = try await AbandonmentStatus.load(database: p.temp.store.database, config: p.config)
            let cart = try #require(counts.first?.kinds.first { $0.kind == .cart })
            #expect(cart.counts[.fired] == 20 && cart.counts[.armed] == 20 && cart.armedNow == 0)
        }
    }

    @Test func aTimerWaitsForEventsThatAreStillInTheLog() async throws {
        try await Scenario.with(abandonment: Self.config()) { p in
            try await p.send("v_lag_0001", [("g1", "cart_updated", 1, Scenario.cart("tokG", lines: [(1, 1)]))], customer: Self.login("8001"))
            try await p.processor.drain()
            // The checkout arrives but the processor has not read it yet.
            try await p.send("v_lag_0001", [("g2", "checkout_started", 3, #"{"checkout":{"token":"chkG","cart_token":"tokG","currencyCode":"EUR","lineItems":[{"quantity":1,"variant":{"id":"11","price":{"amount":25.0},"product":{"id":"1","title":"Product 1"}}}]}}"#)],
                         customer: Self.login("8001"))
            let scheduler = AbandonmentScheduler(database: p.temp.store.database, config: p.config, clock: ManualClock(p.t0 + 30 * 60_000), logger: Fixtures.logger())
            #expect(try await scheduler.fireDue().total == 0, "the checkout waiting in the log happened before the cart was due: nothing fires yet")
            try await p.processor.drain()
            try await scheduler.fireDue()
            #expect(try await Self.states(p)["cart"] == ["cancelled"])
        }
    }
}

/// The `abandonment:` section and the operator's view of the timers.
@Suite struct AbandonmentConfigAndStatusTests {
    static let base = """
        shops:
          - domain: a-shop.myshopify.com
            write_key: pk_a_1

        """

    static func parse(_ section: String, legacy: Bool = false) throws -> AbandonmentConfig {
        let braze = legacy ? "    braze:\n      events: legacy\n" : ""
        let config = try ConfigLoader.parse(yaml: base + braze + section, origin: "test.yml", environment: [:])
        return try #require(config.shops.first).abandonment
    }

    @Test func sectionDefaultsRangesAndErrors() throws {
        let off = try Self.parse("")
        #expect(!off.anyEnabled && off.cart.windowMillis == 3_600_000 && off.cooldownMillis == 86_400_000)
        let on = try Self.parse("    abandonment:\n      cart: { window: 30m }\n      browse: {}\n      cooldown: 2h\n      minimum_cart_value: 20\n")
        #expect(on.cart.enabled && on.cart.windowMillis == 1_800_000 && on.browse.enabled && !on.checkout.enabled)
        #expect(on.cooldownMillis == 7_200_000 && on.minimumCartValue == 20 && on.cart.eventName == "shoptrail_cart_abandoned")
        let legacy = try Self.parse("    abandonment:\n      cart: {}\n      checkout: { event_name: my_checkout }\n", legacy: true)
        #expect(legacy.cart.eventName == "shopify_abandoned_cart" && legacy.checkout.eventName == "my_checkout")
        #expect(throws: ConfigError.self) { try Self.parse("    abandonment:\n      cart: { window: 2m }\n") }
        #expect(throws: ConfigError.self) { try Self.parse("    abandonment:\n      cart: { window: 25h }\n") }
        #expect(throws: ConfigError.self) { try Self.parse("    abandonment:\n      cart: { window: soon }\n") }
        #expect(throws: ConfigError.self) { try Self.parse("    abandonment:\n      basket: {}\n") }
        let short = try Self.parse("    abandonment:\n      allow_short_windows: true\n      cart: { window: 3s }\n")
        #expect(short.cart.windowMillis == 3_000)
        do {
            _ = try Self.parse("    abandonment:\n      cart: { window: 2m }\n")
        } catch let error as ConfigError {
            #expect(error.description.contains("shops[0].abandonment.cart.window") && error.description.contains("5m to 24h"))
        }
    }

    @Test func dashboardAndStatusShowTimersPerKindBehindTheAdminToken() async throws {
        try await IdentityScenarioTests.with(abandonment: AbandonmentTests.config()) { p in
            try await p.send("v_dash_0001", [("s1", "cart_updated", 1, IdentityScenarioTests.cart("tokS", lines: [(1, 1)]))], customer: AbandonmentTests.login("9001"))
            try await p.send("v_dash_0002", [("s2", "cart_updated", 1, IdentityScenarioTests.cart("tokT", lines: [(1, 1)]))])
            try await p.processor.drain()
            let token = Secret("dashboard-admin-token-0123456789")
            let app = buildApplication(AppDependencies(config: p.config, store: p.temp.store, logger: Fixtures.logger(), adminToken: token), host: "127.0.0.1", port: 0)
            try await app.test(.router) { client in
                try await client.execute(uri: "/dashboard", method: .get) { response in
                    #expect(response.status == .unauthorized)
                    #expect(response.headers[.wwwAuthenticate]?.hasPrefix("Basic") == true)
                }
                try await client.execute(uri: "/v1/admin/status", method: .get, headers: [.authorization: "Bearer wrong-token-wrong-token"]) { response in
                    #expect(response.status == .unauthorized)
                }
                try await client.execute(uri: "/v1/admin/status", method: .get, headers: [.authorization: "Bearer \(token.value)"]) { response in
                    #expect(response.status == .ok)
                    let body = String(buffer: response.body)
                    #expect(body.contains(#""kind":"cart","enabled":true"#) && body.contains(#""armed_now":2"#), "\(body)")
                }
                let basic = Data("admin:\(token.value)".utf8).base64EncodedString()
                try await client.execute(uri: "/dashboard", method: .get, headers: [.authorization: "Basic \(basic)"]) { response in
                    #expect(response.status == .ok)
                    let html = String(buffer: response.body)
                    #expect(html.contains(#"<tr class="cart"><td>cart</td><td>yes</td>"#) && html.contains(#"<td class="armed_now">2</td>"#), "\(html)")
                    #expect(!html.contains(token.value))
                }
            }
            let pass = try await p.fireAbandonment(at: 30)
            #expect(pass.fired == 1 && pass.expired == 1)
            let status = try await AbandonmentStatus.load(database: p.temp.store.database, config: p.config)
            let cart = try #require(status.first?.kinds.first { $0.kind == .cart })
            #expect(cart.armedNow == 0 && cart.counts[.armed] == 2 && cart.counts[.fired] == 1 && cart.counts[.expired] == 1)
        }
    }
}

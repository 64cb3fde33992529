import Foundation
import GRDB
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
@testable import ShopTrail

/// Shopify webhooks over HTTP: verification, de-duplication, every fixture topic to Braze profiles,
/// out-of-order deliveries, compliance, and the browse → checkout → order story.
@Suite struct WebhookTests {
    static let domain = "fixture-shop.myshopify.com"
    static let secret = Secret("shpss_fixture_secret")
    static let previous = Secret("shpss_previous_secret")
    static let customer = "7364562091234567890"
    static let order = "9007199254740993"
    static let cartToken = "c1-7a5b3c9d0e1f2a3b4c5d6e7f8a9b0c1d"

    static func fixture(_ topic: String) throws -> String {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/shopify/\(topic.replacingOccurrences(of: "/", with: "__")).json")
        return try String(contentsOf: url, encoding: .utf8)
    }

    static func braze() -> BrazeConfig {
        var braze = BrazeConfig()
        braze.emailSubscriptionGroupId = "grp-email-1"
        braze.smsSubscriptionGroupId = "grp-sms-1"
        return braze
    }

    static func with(_ braze: BrazeConfig = braze(), abandonmentConfig: AbandonmentConfig = AbandonmentConfig(),
                     _ body: @escaping @Sendable (IdentityScenarioTests.Pipeline) async throws -> Void) async throws {
        try await IdentityScenarioTests.with(braze, domain: domain, shopify: ShopifyConfig(apiSecret: secret, previousApiSecret: previous),
                                             abandonment: abandonmentConfig, body)
    }

    /// Posts a delivery; returns status and body.
    @discardableResult
    static func post(_ p: IdentityScenarioTests.Pipeline, _ topic: String, body: String? = nil, id: String? = nil, secret: Secret? = secret,
                     shop: String = domain, omit: String? = nil) async throws -> (HTTPResponse.Status, String) {
        let text = try body ?? fixture(topic)
        var headers: HTTPFields = [.contentType: "application/json"]
        let values: [(String, String?)] = [
            ("X-Shopify-Topic", topic), ("X-Shopify-Shop-Domain", shop), ("X-Shopify-Webhook-Id", id ?? "wh-\(topic)-\(UUID().uuidString)"),
            ("X-Shopify-API-Version", "2025-01"), ("X-Shopify-Hmac-Sha256", secret.map { WebhookSignature.sign(Array(text.utf8), secret: $0) }),
        ]
        for (name, value) in values where name != omit {
            if let value, let field = HTTPField.Name(name) { headers[field] = value }
        }
        return try await p.collector.execute(uri: "/webhooks/shopify", method: .post, headers: headers, body: ByteBuffer(string: text)) {
            ($0.status, String(buffer: $0.body))
        }
    }

    static func webhookCount(_ p: IdentityScenarioTests.Pipeline) async throws -> Int {
        try await p.temp.store.database.pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM events WHERE source = 'webhook'") ?? 0 }
    }

    // MARK: receiving

    @Test func signaturesHeadersShopsAndRedeliveries() async throws {
        try await Self.with { p in
            var (status, text) = try await Self.post(p, "orders/create", secret: Secret("forged"))
            #expect(status == .unauthorized && text.contains("invalid_signature"))
            (status, text) = try await Self.post(p, "orders/create", omit: "X-Shopify-Hmac-Sha256")
            #expect(status == .unauthorized && text.contains("missing_signature"))
            (status, text) = try await Self.post(p, "orders/create", shop: "other.myshopify.com")
            #expect(status == .notFound && text.contains("unknown_shop"))
            (status, text) = try await Self.post(p, "orders/create", omit: "X-Shopify-Topic")
            #expect(status == .badRequest && text.contains("X-Shopify-Topic"))
            (status, text) = try await Self.post(p, "orders/create", body: "not json")
            #expect(status == .badRequest && text.contains("invalid_json"))
            #expect(try await Self.webhookCount(p) == 0, "nothing refused is stored")

            (status, text) = try await Self.post(p, "orders/create", id: "delivery-1")
            #expect(status == .ok && text.contains(#""duplicate":false"#))
            (status, text) = try await Self.post(p, "orders/create", id: "delivery-1")  // Shopify's retry, days later
            #expect(status == .ok && text.contains(#""duplicate":true"#))
            // During a secret rotation the previous secret still verifies.
            (status, _) = try await Self.post(p, "orders/paid", secret: Self.previous)
            #expect(status == .ok)
            #expect(try await Self.webhookCount(p) == 2)
            try await p.flush()
            let names = try await p.eventNames(Self.customer)
            #expect(names.filter { $0 == "ecommerce.order_placed" }.count == 1)
        }
    }

    // MARK: every topic

    @Test func everyFixtureReachesBrazeAsTheConnectorWouldSendIt() async throws {
        try await Self.with { p in
            for topic in ["customers/create", "customers/update", "checkouts/create", "checkouts/update", "customers_email_marketing_consent/update",
                          "customers_marketing_consent/update", "products/create", "products/update", "orders/create", "orders/updated", "orders/paid",
                          "orders/partially_fulfilled", "orders/fulfilled", "refunds/create", "orders/cancelled", "products/delete"] {
                let (status, text) = try await Self.post(p, topic)
                #expect(status == .ok, "\(topic): \(text)")
            }
            try await p.flush()
            let user = try #require(try await p.user(Self.customer))
            let attributes = user["attributes"] as? [String: Any] ?? [:]
            #expect(attributes["email"] as? String == "Jane.Doe@Example.com")
            #expect(attributes["first_name"] as? String == "Jane" && attributes["last_name"] as? String == "Doe")
            #expect(attributes["phone"] as? String == "+4915112345678")
            #expect(attributes["home_city"] as? String == "Berlin")
            #expect(attributes["shopify_order_count"] as? String == "3")
            #expect(attributes["shopify_total_spent"] as? String == "249.70")
            let groups = (user["subscriptions"] as? [String: Any])?["subscription_groups"] as? [String: String] ?? [:]
            #expect(groups["grp-email-1"] == "subscribed", "\(user["subscriptions"] ?? "")")
            #expect(groups["grp-sms-1"] != nil)
            let events = user["events"] as? [[String: Any]] ?? []
            let names = events.compactMap { $0["name"] as? String }
            #expect(names == ["ecommerce.checkout_started", "ecommerce.order_placed", "shopify_paid_order", "shopify_partially_fulfilled_order",
                              "shopify_fulfilled_order", "ecommerce.order_refunded", "ecommerce.order_cancelled"], "\(names)")
            let placed = try #require(events.first { $0["name"] as? String == "ecommerce.order_placed" }?["properties"] as? [String: Any])
            #expect(placed["order_id"] as? String == Self.order)
            #expect(placed["total_value"] as? Double == 89.8 && placed["currency"] as? String == "EUR")
            #expect(placed["cart_id"] as? String == Self.cartToken)
            let products = placed["products"] as? [[String: Any]] ?? []
            #expect(products.first?["variant_id"] as? String == "9007199254741777", "ids beyond 2^53 stay exact")
            let metadata = placed["metadata"] as? [String: Any] ?? [:]
            #expect(metadata["tags"] as? [String] == ["vip", "repeat"] && metadata["order_number"] as? Int == 1042)
            let checkout = try #require(events.first?["properties"] as? [String: Any])
            #expect(((checkout["metadata"] as? [String: Any])?["checkout_url"] as? String)?.contains("recover") == true)
            let cancelled = events.last?["properties"] as? [String: Any] ?? [:]
            #expect(cancelled["cancel_reason"] as? String == "customer")
            // Products are kept for enrichment; the deleted one is marked.
            let products2 = try await p.temp.store.database.pool.read { db in
                try Row.fetchAll(db, sql: "SELECT id, deleted FROM shopify_resources WHERE kind = 'product' ORDER BY id").map { "\($0["id"] as String):\($0["deleted"] as Int)" }
            }
            #expect(products2.count == 2 && products2.contains { $0.hasSuffix(":1") })
            // customers/delete is recorded, and sends nothing.
            let before = try await p.trackedPaths().count
            #expect(try await Self.post(p, "customers/delete").0 == .ok)
            try await p.flush()
            #expect(try await p.trackedPaths().count == before)
            let deleted = try await p.temp.store.database.pool.read { db in
                try Int.fetchOne(db, sql: "SELECT deleted FROM shopify_resources WHERE kind = 'customer' AND id = ?", arguments: [Self.customer])
            }
            #expect(deleted == 1)
        }
    }

    @Test func outOfOrderDeliveriesNeverRegressAndNeverDuplicate() async throws {
        try await Self.with { p in
            // The refund and an update arrive before the order; an old customer update after a new one.
            try await Self.post(p, "refunds/create")
            try await Self.post(p, "orders/updated")
            try await Self.post(p, "customers/update")
            try await Self.post(p, "customers/create")  // older: must not bring back 0 orders
            try await Self.post(p, "orders/create")
            try await p.flush()
            let names = try await p.eventNames(Self.customer)
            #expect(names.filter { $0 == "ecommerce.order_placed" }.count == 1)
            #expect(names.filter { $0 == "ecommerce.order_refunded" }.count == 1, "\(names)")
            let attributes = (try await p.user(Self.customer))?["attributes"] as? [String: Any] ?? [:]
            #expect(attributes["shopify_order_count"] as? String == "3")
        }
    }

    // MARK: the whole story

    @Test func browsingThenCheckoutThenOrderMakeOneProfile() async throws {
        try await Self.with { p in
            let visitor = "v_story_00001"
            try await p.send(visitor, [
                ("e1", "product_viewed", 1, IdentityScenarioTests.product(9007199254741015)),
                ("e2", "cart_updated", 2, IdentityScenarioTests.cart(Self.cartToken, lines: [(9007199254741015, 1)])),
            ])
            try await p.flush()
            #expect(try await p.users().isEmpty, "anonymous browsing is held")
            try await Self.post(p, "checkouts/create")
            try await Self.post(p, "orders/create")
            try await p.flush()
            #expect(try await p.users().count == 1)
            let names = try await p.eventNames(Self.customer)
            #expect(names.contains("ecommerce.product_viewed") && names.contains("ecommerce.checkout_started") && names.contains("ecommerce.order_placed"), "\(names)")
            #expect(!names.contains { $0.contains("abandon") })
            let link = try await p.temp.store.database.pool.read { db in
                try String.fetchOne(db, sql: "SELECT evidence FROM visitors WHERE visitor_id = ?", arguments: [visitor])
            }
            #expect(link == "cart_token")
        }
    }

    // MARK: compliance

    @Test func complianceTopicsExportRedactAndStop() async throws {
        try await Self.with { p in
            try await p.send("v_jane_000001", [("e1", "product_viewed", 1, IdentityScenarioTests.product(1))],
                             customer: IdentityScenarioTests.signedCustomer(Self.customer, email: "jane.doe@example.com", shop: Self.domain))
            try await Self.post(p, "customers/data_request")
            try await p.flush()
            let exports = try FileManager.default.contentsOfDirectory(atPath: p.temp.dir.appendingPathComponent("exports").path)
            let export = try String(contentsOf: p.temp.dir.appendingPathComponent("exports/\(exports.first ?? "")"), encoding: .utf8)
            #expect(export.contains("v_jane_000001") && export.contains(Self.customer))

            try await Self.post(p, "customers/redact")
            try await p.flush()
            #expect(try await p.user(Self.customer) == nil, "Braze was asked to delete the user")
            let left = try await p.temp.store.database.pool.read { db in
                try Int.fetchOne(db, sql: "SELECT (SELECT COUNT(*) FROM events WHERE visitor_id = 'v_jane_000001') + (SELECT COUNT(*) FROM customers) + (SELECT COUNT(*) FROM visitors)") ?? -1
            }
            #expect(left == 0)
            let audit = try await p.temp.store.database.pool.read { db in try String.fetchAll(db, sql: "SELECT action || ' ' || detail FROM audit_log ORDER BY id") }
            #expect(audit.count == 2 && !audit.joined().contains("jane"), "\(audit)")

            try await Self.post(p, "app/uninstalled")
            try await Self.post(p, "orders/create")
            try await p.flush()
            #expect(try await p.users().isEmpty, "nothing is forwarded after app/uninstalled")
            try await Self.post(p, "shop/redact")
            try await p.processor.drain()
            let rows = try await p.temp.store.database.pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM events") ?? -1 }
            #expect(rows == 0)
        }
    }
}

import Foundation
import GRDB
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
@testable import ShopTrail

/// Issue 13, written as attacks that must fail: nothing a browser sends can take over a customer's
/// Braze profile, no parser differential forges identity evidence, and one customer's browsing on a
/// shared device never reaches another customer.
@Suite struct IdentityAttackTests {
    typealias Scenario = IdentityScenarioTests
    static let shop = Scenario.shop
    static var nowSeconds: Int64 { SystemClock().now() / 1000 }

    /// A victim whom Braze knows from Shopify's signed `customers/create`.
    static func victimExists(_ p: Scenario.Pipeline, id: String = "7001", email: String = "victim@example.com") async throws {
        try await p.temp.store.append([NewEvent(shop: shop, source: .webhook, eventId: "wh-victim-\(id)", name: "customers/create", visitorId: nil, sessionId: nil,
                                                clientTime: nil, time: p.t0, receivedAt: SystemClock().now(), context: nil,
                                                properties: #"{"id":\#(id),"email":"\#(email)","first_name":"Vic","phone":"+4915112345678","updated_at":"\#(p.at(0))"}"#)])
        try await p.flush()
    }

    static func post(_ client: any TestClientProtocol, _ uri: String, _ body: String, origin: String? = nil) async throws -> (HTTPResponse.Status, String) {
        var headers: HTTPFields = [.contentType: "text/plain;charset=UTF-8"]
        if let origin { headers[.origin] = origin }
        return try await client.execute(uri: uri, method: .post, headers: headers, body: ByteBuffer(string: body)) { ($0.status, String(buffer: $0.body)) }
    }

    static func visitorLink(_ p: Scenario.Pipeline, _ visitor: String) async throws -> String? {
        try await p.temp.store.database.pool.read { db in
            try String.fetchOne(db, sql: "SELECT customer_id FROM visitors WHERE visitor_id = ?", arguments: [visitor])
        }
    }

    // MARK: 1. Profile takeover through the pixel collector

    @Test(arguments: [ExternalIdStrategy.customerId, .email])
    func pixelCheckoutCustomerCannotRewriteAVictimsProfile(_ strategy: ExternalIdStrategy) async throws {
        var braze = BrazeConfig()
        braze.externalId = strategy
        braze.anonymous = .forward
        try await Scenario.with(braze) { p in
            try await Self.victimExists(p)
            let victim = strategy == .email ? "victim@example.com" : "7001"
            #expect(try await p.user(victim) != nil)
            // The attack of the finding: only the public write key, any Origin, a fresh visitor id.
            let forged = #"""
                {"write_key":"pk_a_1","visitor_id":"v_attacker_01","context":{"source":"custom_pixel","customer":{"id":"7001","email":"victim@example.com"}},
                 "events":[{"id":"px-a1","name":"checkout_completed","properties":{"checkout_token":"ck-attacker","customer":{"id":"7001","email":"attacker@evil.example","first_name":"Mallory","phone":"+10000000000"},"email":"attacker@evil.example"}},
                           {"id":"px-a2","name":"cart_updated","properties":{"cart_token":"tok-evil","currency":"EUR","total_price":100,"items":[{"product_id":"1","variant_id":"11","product_title":"Your account is locked: log in at evil.example","quantity":1,"price":100,"url":"https://evil.example/login"}]}}]}
                """#
            let (status, text) = try await Self.post(p.collector, "/v1/pixel/batch", forged, origin: "https://evil.example")
            #expect(status == .ok, "\(text)")
            try await p.flush()
            let user = try #require(try await p.user(victim))
            let attributes = user["attributes"] as? [String: Any] ?? [:]
            #expect(attributes["email"] as? String == "victim@example.com", "\(attributes)")
            #expect(attributes["first_name"] as? String == "Vic" && attributes["phone"] as? String == "+4915112345678")
            #expect(try await p.eventNames(victim).isEmpty, "nothing of the attacker's reached the victim")
            #expect(try await Self.visitorLink(p, "v_attacker_01") == nil)
        }
    }

    @Test func appProxyPageEmailNeverDecidesTheExternalId() async throws {
        var braze = BrazeConfig()
        braze.externalId = .email
        try await Scenario.with(braze, shopify: ShopifyConfig(apiSecret: Secret("api-secret-a")), appProxy: AppProxyConfig()) { p in
            try await Self.victimExists(p)
            // A logged-in attacker (Shopify vouches for customer 555) puts the victim's email on the page, unsigned.
            let query = KitFixtures.proxyQuery(customer: "555", timestamp: Self.nowSeconds)
            let body = #"{"write_key":"pk_a_1","visitor_id":"v_attacker_02","context":{"customer":{"id":"555","email":"victim@example.com","first_name":"Mallory"}},"events":[{"id":"ap1","name":"product_viewed","properties":\#(Scenario.product(1))}]}"#
            let (status, text) = try await Self.post(p.collector, "/proxy/v1/batch?\(query)", body)
            #expect(status == .ok, "\(text)")
            try await p.flush()
            #expect(try await Self.visitorLink(p, "v_attacker_02") == "555", "Shopify's customer is linked")
            #expect(try await p.eventNames("victim@example.com").isEmpty)
            let attributes = try #require(try await p.user("victim@example.com"))["attributes"] as? [String: Any] ?? [:]
            #expect(attributes["first_name"] as? String == "Vic")
            // The attacker's own external id is unknown until a webhook gives 555's email: nothing is sent for it.
            #expect(try await p.users().count == 1)
        }
    }

    // MARK: 2. No parser differentials

    @Test func escapedReservedKeysAndDuplicatesAreRefusedOnEveryBeaconRoute() async throws {
        try await Scenario.with(shopify: ShopifyConfig(apiSecret: Secret("api-secret-a")), appProxy: AppProxyConfig()) { p in
            let contexts = [
                #"{"\u0024app_proxy":{"logged_in_customer_id":"4242"}}"#,
                #"{"\u0024app_pro\u0078y":{"logged_in_customer_id":"4242"}}"#,
                #"{"\u0024":1}"#,
                #"{"$app_proxy":{"logged_in_customer_id":"4242"}}"#,
            ]
            let routes = ["/v1/batch", "/v1/pixel/batch", "/proxy/v1/batch?" + KitFixtures.proxyQuery(timestamp: Self.nowSeconds)]
            for route in routes {
                for (i, context) in contexts.enumerated() {
                    let body = #"{"write_key":"pk_a_1","visitor_id":"v_escape_0001","context":\#(context),"events":[{"id":"x\#(i)","name":"page_viewed"}]}"#
                    let (status, text) = try await Self.post(p.collector, route, body)
                    #expect(status == .badRequest && text.contains(#""error":"reserved_field""#), "\(route) \(context): \(text)")
                }
                let malformed = [
                    // Duplicate names: at the top level, in context, inside a kept-verbatim object, spelled with an escape.
                    #"{"write_key":"pk_a_1","visitor_id":"v_escape_0001","visitor_id":"v_other_00001","events":[{"id":"d1","name":"page_viewed"}]}"#,
                    #"{"write_key":"pk_a_1","visitor_id":"v_escape_0001","context":{"customer":{"id":"1"},"customer":{"id":"2"}},"events":[{"id":"d2","name":"page_viewed"}]}"#,
                    #"{"write_key":"pk_a_1","visitor_id":"v_escape_0001","context":{"a":1,"\u0061":2},"events":[{"id":"d3","name":"page_viewed"}]}"#,
                    #"{"write_key":"pk_a_1","visitor_id":"v_escape_0001","events":[{"id":"d4","name":"product_viewed","properties":{"price":1,"price":2}}]}"#,
                    // NUL and lone surrogates in names.
                    #"{"write_key":"pk_a_1","visitor_id":"v_escape_0001","context":{"$app_proxy\u0000":1},"events":[{"id":"d5","name":"page_viewed"}]}"#,
                    #"{"write_key":"pk_a_1","visitor_id":"v_escape_0001","context":{"\ud800app_proxy":1},"events":[{"id":"d6","name":"page_viewed"}]}"#,
                    #"{"write_key":"pk_a_1","visitor_id":"v_escape_0001","context":{"\udc00":1},"events":[{"id":"d7","name":"page_viewed"}]}"#,
                ]
                for body in malformed {
                    let (status, text) = try await Self.post(p.collector, route, body)
                    #expect(status == .badRequest && text.contains(#""error":"malformed_json""#), "\(route) \(body): \(text)")
                }
            }
            #expect(try await p.temp.store.eventCount() == 0)
        }
    }

    @Test func aForgedServerKeyInsideStoredContextIsNeverEvidence() async throws {
        try await Scenario.with { p in
            // Even if a `$app_proxy` key reached the stored context (a row from before the verified
            // column, or any future slip of the validator), the processor reads identity only from the column.
            try await p.temp.store.append([NewEvent(shop: Self.shop, source: .storefront, eventId: "forged-1", name: "product_viewed", visitorId: "v_forged_0001",
                                                    sessionId: nil, clientTime: nil, time: p.t0 + 60_000, receivedAt: SystemClock().now(),
                                                    context: #"{"$app_proxy":{"shop":"a-shop.myshopify.com","logged_in_customer_id":"4242","timestamp":1}}"#,
                                                    properties: Scenario.product(1))])
            try await p.flush()
            #expect(try await Self.visitorLink(p, "v_forged_0001") == nil)
            #expect(try await p.users().isEmpty)
        }
    }

    @Test func appProxyRefusesRepeatedIdentityAndRoutingParameters() throws {
        let secret = Secret("api-secret-a")
        let now = Self.nowSeconds
        func signed(_ params: [(name: String, value: String)]) -> String {
            let signature = AppProxySignature.sign(params, secret: secret)
            return (params.map { "\($0.name)=\($0.value)" } + ["signature=\(signature)"]).joined(separator: "&")
        }
        let base: [(name: String, value: String)] = [("shop", "a-shop.myshopify.com"), ("path_prefix", "/apps/shoptrail"), ("timestamp", String(now))]
        // Shopify signs `logged_in_customer_id=999,555` for the repeated name: the signature is valid, the request is not.
        for repeated in ["logged_in_customer_id", "path_prefix", "shop", "timestamp"] {
            let query = signed(base + [(repeated, "999"), (repeated, "555")])
            #expect(throws: APIError.self, "\(repeated)") { try AppProxySignature.verify(query: query, secrets: [secret], now: now) }
        }
        // A correctly signed extreme timestamp is refused, not an overflow trap.
        for extreme in [Int64.min, Int64.max] {
            let query = signed([("shop", "a-shop.myshopify.com"), ("logged_in_customer_id", "1"), ("timestamp", String(extreme))])
            do {
                _ = try AppProxySignature.verify(query: query, secrets: [secret], now: now)
                Issue.record("timestamp \(extreme) accepted")
            } catch {
                #expect(error.code == "signature_expired")
            }
        }
        // The honest request still verifies.
        let ok = try AppProxySignature.verify(query: signed(base + [("logged_in_customer_id", "555")]), secrets: [secret], now: now)
        #expect(ok.loggedInCustomerId == "555")
    }

    @Test func aSignatureRenderedForOneShopIsVoidOnAnother() async throws {
        // Two shops sharing a snippet secret (one agency, one secret): shop A's signed customer replayed on shop B.
        let other = "other-shop.myshopify.com"
        try await Scenario.with(domain: other) { p in
            try await p.send("v_crossshop_1", [("e1", "product_viewed", 1, Scenario.product(1))],
                             customer: Scenario.signedCustomer("7001", email: "victim@example.com", shop: Self.shop))
            try await p.flush()
            #expect(try await p.users().isEmpty)
            #expect(try await p.securityEvents() == ["bad_signature"])
        }
        let secret = Secret("shared")
        let ts = String(Self.nowSeconds)
        let sig = CustomerClaims.signature(shop: Self.shop, customerId: "1", email: "a@b.c", timestamp: ts, secret: secret)
        let context = try #require(try JSONParser.parse(Array(#"{"customer":{"id":"1","email":"a@b.c","ts":"\#(ts)","sig":"\#(sig)"}}"#.utf8)).objectValue)
        let onA = CustomerClaims.read(verified: nil, context: context, receivedAt: SystemClock().now(), shop: Self.shop, snippetSecret: secret)
        let onB = CustomerClaims.read(verified: nil, context: context, receivedAt: SystemClock().now(), shop: other, snippetSecret: secret)
        #expect(onA.claim?.customerId == "1" && onB.claim == nil && onB.refused == .badSignature)
        // A signed timestamp far outside Int64 milliseconds is refused, not a trap.
        let huge = String(Int64.max)
        let hugeSig = CustomerClaims.signature(shop: Self.shop, customerId: "1", email: "", timestamp: huge, secret: secret)
        let hugeContext = try #require(try JSONParser.parse(Array(#"{"customer":{"id":"1","ts":"\#(huge)","sig":"\#(hugeSig)"}}"#.utf8)).objectValue)
        #expect(CustomerClaims.read(verified: nil, context: hugeContext, receivedAt: SystemClock().now(), shop: Self.shop, snippetSecret: secret).refused == .expiredSignature)
    }

    // MARK: 3. One customer's browsing never reaches another customer

    @Test func browseAndCartOfOneCustomerAreNeverHandedToTheNextOnASharedBrowser() async throws {
        try await Scenario.with(abandonment: AbandonmentTests.config()) { p in
            let device = "v_shared_dev1"
            // Customer A logs in, views two products and fills a cart.
            try await p.send(device, [("a1", "product_viewed", 1, Scenario.product(1)), ("a2", "product_viewed", 2, Scenario.product(2))],
                             customer: AbandonmentTests.login("8101"))
            try await p.send(device, [("a3", "cart_updated", 3, Scenario.cart("tokShared", lines: [(2, 1)]))], customer: AbandonmentTests.login("8101"))
            try await p.send(device, [("a4", "product_viewed", 4, Scenario.product(4))], customer: AbandonmentTests.login("8101"))
            // Customer B logs in on the same browser without A logging out, and views a product A viewed and a third.
            try await p.send(device, [("b1", "product_viewed", 5, Scenario.product(1)), ("b2", "product_viewed", 6, Scenario.product(3))],
                             customer: AbandonmentTests.login("8102"))
            try await p.fireAbandonment(at: 60)
            let browseB = try await AbandonmentTests.events(p, "8102", "shoptrail_browse_abandoned")
            let productsB = (browseB.first?["products"] as? [[String: Any]] ?? []).compactMap { $0["product_id"] as? String }
            #expect(browseB.count == 1 && Set(productsB) == ["1", "3"], "B's browse event holds B's views only: \(productsB)")
            // B viewed product 1 minutes after A: it is B's view and reaches B (no de-duplication across customers).
            let viewsB = (try await p.user("8102")?["events"] as? [[String: Any]] ?? []).filter { $0["name"] as? String == "ecommerce.product_viewed" }
            #expect(viewsB.count == 2)
            // A's cart was not handed to B, and nothing of A's reached B.
            #expect(try await AbandonmentTests.events(p, "8102", "shoptrail_cart_abandoned").isEmpty)
            let namesA = try await p.eventNames("8101")
            #expect(!namesA.contains("shoptrail_browse_abandoned") && !namesA.contains("shoptrail_cart_abandoned"), "\(namesA)")
            let everythingB = try await p.user("8102").map { String(describing: $0) } ?? ""
            #expect(!everythingB.contains("Product 2") && !everythingB.contains("tokShared") && !everythingB.contains("Product 4"), "\(everythingB)")
            // An order for A's cart token no longer links the device (now B's) to anyone through that cart.
            try await p.temp.store.append([NewEvent(shop: Self.shop, source: .webhook, eventId: "wh-shared", name: "orders/create", visitorId: nil, sessionId: nil,
                                                    clientTime: nil, time: p.t0 + 61 * 60_000, receivedAt: SystemClock().now(), context: nil,
                                                    properties: #"{"id":9901,"cart_token":"tokShared","customer":{"id":8101,"email":"8101@example.com"}}"#)])
            try await p.flush()
            #expect(try await Self.visitorLink(p, device) == "8102")
        }
    }

    @Test func aCartBLeavesAfterTakingOverTheDeviceIsBs() async throws {
        try await Scenario.with(abandonment: AbandonmentTests.config()) { p in
            let device = "v_shared_dev2"
            try await p.send(device, [("a1", "cart_updated", 1, Scenario.cart("tokS2", lines: [(1, 1)]))], customer: AbandonmentTests.login("8201"))
            // B takes over and changes the cart: from then on it is B's cart and B's timer.
            try await p.send(device, [("b1", "cart_updated", 5, Scenario.cart("tokS2", lines: [(1, 1), (5, 2)]))], customer: AbandonmentTests.login("8202"))
            try await p.fireAbandonment(at: 60)
            let cartB = try await AbandonmentTests.events(p, "8202", "shoptrail_cart_abandoned")
            #expect(cartB.count == 1)
            #expect(try await AbandonmentTests.events(p, "8201", "shoptrail_cart_abandoned").isEmpty)
        }
    }
}

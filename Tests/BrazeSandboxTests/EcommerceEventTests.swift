import Foundation
import HummingbirdTesting
import Testing
@testable import BrazeSandbox

@Suite struct EcommerceEventTests {
    static let base: [String: JSONValue] = ["total_value": 10, "currency": "USD", "products": [Make.product()], "source": "shop.myshopify.com"]

    static let valid: [String: [String: JSONValue]] = [
        "ecommerce.product_viewed": ["product_id": "p1", "product_name": "Shirt", "variant_id": "v1", "price": 10, "currency": "USD", "source": "shop"],
        "ecommerce.cart_updated": base.merging(["cart_id": "c1"]) { $1 },
        "ecommerce.checkout_started": base.merging(["checkout_id": "k1"]) { $1 },
        "ecommerce.order_placed": base.merging(["order_id": "o1"]) { $1 },
        "ecommerce.order_refunded": base.merging(["order_id": "o1"]) { $1 },
        "ecommerce.order_cancelled": base.merging(["order_id": "o1", "cancel_reason": "customer"]) { $1 },
    ]

    @Test(arguments: valid.keys.sorted())
    func validRecommendedEventIsAccepted(name: String) async throws {
        try await withSandbox { client in
            let answer = try await client.track(["events": [Make.event(name, properties: .object(Self.valid[name] ?? [:]))]])
            #expect(answer.status == 201)
            #expect(answer.errors.isEmpty)
            #expect(try await client.user("u1")?["events"]?.arrayValue?.first?["name"]?.stringValue == name)
        }
    }

    /// Every required property of every recommended event, removed one at a time.
    static let removals: [(String, String)] = valid.keys.sorted().flatMap { name in
        (EcommerceEvents.required[name] ?? []).map { (name, $0.0) }
    }

    @Test(arguments: removals)
    func missingRequiredPropertyIsRejected(name: String, property: String) async throws {
        var properties = Self.valid[name] ?? [:]
        properties[property] = nil
        let frozen = properties
        try await withSandbox { client in
            let answer = try await client.track(["events": [Make.event(name, properties: .object(frozen))]])
            // The request's only object is invalid: a fatal 400 still naming it (see DocsRulesTests, rule 6).
            #expect(answer.status == 400)
            #expect(answer.message == UsersTrackEndpoint.noData)
            #expect(answer.errors.first?["type"]?.stringValue == "'\(name)' requires property '\(property)'")
            #expect(try await client.user("u1") == nil)
        }
    }

    @Test func wrongPropertyTypeIsRejected() async throws {
        var properties = Self.valid["ecommerce.order_placed"] ?? [:]
        properties["total_value"] = "10.00"
        let frozen = properties
        try await withSandbox { client in
            let answer = try await client.track(["events": [Make.event("ecommerce.order_placed", properties: .object(frozen))]])
            #expect(answer.errors.first?["type"]?.stringValue == "'ecommerce.order_placed' property 'total_value' must be of type number")
        }
    }

    @Test(arguments: ["product_id", "product_name", "variant_id", "quantity", "price"])
    func productMissingFieldIsRejected(field: String) async throws {
        var product = Make.product().objectValue ?? [:]
        product[field] = nil
        let frozen = product
        try await withSandbox { client in
            let answer = try await client.track(["events": [Make.event("ecommerce.cart_updated", properties: Make.cart(products: [.object(frozen)]))]])
            #expect(answer.errors.first?["type"]?.stringValue == "'ecommerce.cart_updated' products[0] requires '\(field)'")
        }
    }

    @Test func nonIntegerQuantityIsRejected() async throws {
        var product = Make.product().objectValue ?? [:]
        product["quantity"] = 1.5
        let frozen = product
        try await withSandbox { client in
            let answer = try await client.track(["events": [Make.event("ecommerce.cart_updated", properties: Make.cart(products: [.object(frozen)]))]])
            #expect(answer.errors.first?["type"]?.stringValue == "'ecommerce.cart_updated' products[0].quantity must be of type integer")
        }
    }

    @Test func cartUpdatedWithEmptyProductsIsRejected() async throws {
        try await withSandbox { client in
            let answer = try await client.track(["events": [Make.event("ecommerce.cart_updated", properties: Make.cart(products: []))]])
            #expect(answer.status == 400, "its only object is invalid")
            #expect(answer.errors.first?["type"]?.stringValue == "'ecommerce.cart_updated' rejected: 'products' is empty")
        }
    }

    @Test func cartUpdatedMustBeLaterThanTheCartsLastUpdate() async throws {
        try await withSandbox { client in
            let first = try await client.track(["events": [Make.event("ecommerce.cart_updated", time: "2025-03-01T10:00:00Z", properties: Make.cart())]])
            #expect(first.errors.isEmpty)
            // Same time and earlier: rejected. Later: accepted. Another cart: independent.
            let answer = try await client.track(["events": [
                Make.event("ecommerce.cart_updated", time: "2025-03-01T10:00:00Z", properties: Make.cart()),
                Make.event("ecommerce.cart_updated", time: "2025-03-01T11:00:00+02:00", properties: Make.cart()),
                Make.event("ecommerce.cart_updated", time: "2025-03-01T10:00:01Z", properties: Make.cart()),
                Make.event("ecommerce.cart_updated", time: "2025-03-01T09:00:00Z", properties: Make.cart("c2")),
            ]])
            #expect(answer.body["events_processed"] == 2)
            #expect(answer.errors.compactMap { $0["index"]?.intValue } == [0, 1])
            #expect(answer.errors.allSatisfy { $0["type"]?.stringValue?.contains("not later than the cart's updated_at") == true })
            #expect(try await client.user("u1")?["events"]?.arrayValue?.count == 3)
        }
    }

    @Test func cartUpdatedAfterCheckoutIsRejected() async throws {
        var checkout = Self.valid["ecommerce.checkout_started"] ?? [:]
        checkout["cart_id"] = "c1"
        let frozen = checkout
        try await withSandbox { client in
            _ = try await client.track(["events": [Make.event("ecommerce.cart_updated", time: "2025-03-01T10:00:00Z", properties: Make.cart())]])
            _ = try await client.track(["events": [Make.event("ecommerce.checkout_started", time: "2025-03-01T10:05:00Z", properties: .object(frozen))]])
            let answer = try await client.track(["events": [Make.event("ecommerce.cart_updated", time: "2025-03-01T10:10:00Z", properties: Make.cart())]])
            #expect(answer.status == 400, "its only object is invalid")
            #expect(answer.errors.first?["type"]?.stringValue == "'ecommerce.cart_updated' rejected: cart 'c1' has already gone to checkout")
            // Another user's cart with the same id is theirs alone.
            let other = try await client.track(["events": [Make.event("ecommerce.cart_updated", id: "u9", time: "2025-03-01T10:10:00Z", properties: Make.cart())]])
            #expect(other.errors.isEmpty)
        }
    }

    @Test func nonEcommerceEventsAreNotCheckedAgainstTheSchemas() async throws {
        try await withSandbox { client in
            let answer = try await client.track(["events": [Make.event("cart_updated", properties: ["anything": true])]])
            #expect(answer.errors.isEmpty)
        }
    }
}

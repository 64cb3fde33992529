import Foundation

/// Braze's recommended `ecommerce.*` events: required properties and the `ecommerce.cart_updated` acceptance rules
/// (braze-shopify.md §1a, from Braze's `ecommerce_events.md`).
enum EcommerceEvents {
    enum Kind: Sendable { case string, number, integer, array, object }

    static let productFields: [(String, Kind)] = [
        ("product_id", .string), ("product_name", .string), ("variant_id", .string), ("quantity", .integer), ("price", .number),
    ]

    static let required: [String: [(String, Kind)]] = [
        "ecommerce.product_viewed": [
            ("product_id", .string), ("product_name", .string), ("variant_id", .string), ("price", .number),
            ("currency", .string), ("source", .string),
        ],
        "ecommerce.cart_updated": [("cart_id", .string), ("total_value", .number), ("currency", .string), ("products", .array), ("source", .string)],
        "ecommerce.checkout_started": [("checkout_id", .string), ("total_value", .number), ("currency", .string), ("products", .array), ("source", .string)],
        "ecommerce.order_placed": [("order_id", .string), ("total_value", .number), ("currency", .string), ("products", .array), ("source", .string)],
        "ecommerce.order_refunded": [("order_id", .string), ("total_value", .number), ("currency", .string), ("products", .array), ("source", .string)],
        "ecommerce.order_cancelled": [
            ("order_id", .string), ("total_value", .number), ("currency", .string), ("products", .array), ("source", .string),
            ("cancel_reason", .string),
        ],
    ]

    static func matches(_ value: JSONValue, _ kind: Kind) -> Bool {
        switch kind {
        case .string: value.stringValue != nil
        case .number: value.isNumber
        case .integer: value.intValue != nil
        case .array: value.arrayValue != nil
        case .object: value.objectValue != nil
        }
    }

    static func describe(_ kind: Kind) -> String {
        switch kind {
        case .string: "string"
        case .number: "number"
        case .integer: "integer"
        case .array: "array"
        case .object: "object"
        }
    }

    /// Checks an `ecommerce.*` event's properties; other names pass untouched.
    static func validate(name: String, properties: [String: JSONValue]) throws(ValidationFailure) {
        guard let fields = required[name] else { return }
        for (field, kind) in fields {
            guard let value = properties[field], value != .null else {
                throw ValidationFailure("'\(name)' requires property '\(field)'")
            }
            guard matches(value, kind) else {
                throw ValidationFailure("'\(name)' property '\(field)' must be of type \(describe(kind))")
            }
        }
        if let currency = properties["currency"]?.stringValue, !Validator.isCurrencyCode(currency) {
            throw ValidationFailure("'\(name)' property 'currency' must be an ISO-4217 code")
        }
        guard let products = properties["products"]?.arrayValue else { return }
        for (index, product) in products.enumerated() {
            guard let object = product.objectValue else {
                throw ValidationFailure("'\(name)' products[\(index)] must be an object")
            }
            for (field, kind) in productFields {
                guard let value = object[field], value != .null else {
                    throw ValidationFailure("'\(name)' products[\(index)] requires '\(field)'")
                }
                guard matches(value, kind) else {
                    throw ValidationFailure("'\(name)' products[\(index)].\(field) must be of type \(describe(kind))")
                }
            }
        }
    }

    /// Braze accepts a cart_updated only if products is not empty, the cart has not gone to checkout,
    /// and the event is later than the cart's last update.
    static func checkCartUpdate(properties: [String: JSONValue], date: Date, profile: Profile?) throws(ValidationFailure) {
        if properties["products"]?.arrayValue?.isEmpty ?? true {
            throw ValidationFailure("'ecommerce.cart_updated' rejected: 'products' is empty")
        }
        guard let cartId = properties["cart_id"]?.stringValue, let cart = profile?.carts[cartId] else { return }
        if cart.checkedOut {
            throw ValidationFailure("'ecommerce.cart_updated' rejected: cart '\(cartId)' has already gone to checkout")
        }
        if date <= cart.updatedAt {
            throw ValidationFailure("'ecommerce.cart_updated' rejected: event time is not later than the cart's updated_at (\(ISO8601Time.format(cart.updatedAt)))")
        }
    }

    /// Updates the profile's carts mapping after an accepted event.
    static func recordCart(event name: String, properties: [String: JSONValue], date: Date, profile: inout Profile) {
        guard let cartId = properties["cart_id"]?.stringValue else { return }
        switch name {
        case "ecommerce.cart_updated":
            profile.carts[cartId] = CartState(updatedAt: date, checkedOut: false)
        case "ecommerce.checkout_started", "ecommerce.order_placed":
            let updated = max(profile.carts[cartId]?.updatedAt ?? date, date)
            profile.carts[cartId] = CartState(updatedAt: updated, checkedOut: true)
        default:
            break
        }
    }
}

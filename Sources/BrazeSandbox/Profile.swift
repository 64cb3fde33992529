import Foundation

/// A Braze user alias: `alias_name` is the value, `alias_label` its kind (one name per label per profile).
public struct UserAlias: Sendable, Hashable {
    public var name: String
    public var label: String

    public init(name: String, label: String) {
        self.name = name
        self.label = label
    }

    var json: JSONValue { ["alias_name": .string(name), "alias_label": .string(label)] }
}

/// A custom event as stored on a profile; `time` is kept exactly as sent.
struct TrackedEvent: Sendable {
    var name: String
    var time: String
    var date: Date
    var properties: [String: JSONValue]

    var json: JSONValue { ["name": .string(name), "time": .string(time), "properties": .object(properties)] }
}

/// A purchase as stored on a profile.
struct TrackedPurchase: Sendable {
    var productId: String
    var currency: String
    var price: JSONValue
    var quantity: Int64
    var time: String
    var date: Date
    var properties: [String: JSONValue]

    var json: JSONValue {
        ["product_id": .string(productId), "currency": .string(currency), "price": price, "quantity": .int(quantity),
         "time": .string(time), "properties": .object(properties)]
    }
}

/// Braze's per-user "carts mapping": when each cart was last updated and whether it went to checkout.
struct CartState: Sendable {
    var updatedAt: Date
    var checkedOut: Bool
}

/// One Braze user profile.
struct Profile: Sendable {
    let brazeId: String
    var externalId: String?
    var aliases: [UserAlias] = []
    /// Keyed by Braze attribute name: standard (`email`, `first_name`, ...) and custom.
    var attributes: [String: JSONValue] = [:]
    var events: [TrackedEvent] = []
    var purchases: [TrackedPurchase] = []
    var emailSubscribe: String?
    var pushSubscribe: String?
    var subscriptionGroups: [String: String] = [:]
    var carts: [String: CartState] = [:]
    let createdAt: Date
    var updatedAt: Date

    var email: String? { attributes["email"]?.stringValue }
    var phone: String? { attributes["phone"]?.stringValue }

    /// The `/_sandbox/users` shape: exactly these six keys.
    var inspectionJSON: JSONValue {
        [
            "external_id": .from(externalId),
            "user_aliases": .array(aliases.map(\.json)),
            "attributes": .object(attributes),
            "events": .array(events.map(\.json)),
            "purchases": .array(purchases.map(\.json)),
            "subscriptions": subscriptionsJSON,
        ]
    }

    var subscriptionsJSON: JSONValue {
        [
            "email_subscribe": .from(emailSubscribe),
            "push_subscribe": .from(pushSubscribe),
            "subscription_groups": .object(subscriptionGroups.mapValues(JSONValue.string)),
        ]
    }

    /// Folds `other` into self the way Braze merges profiles: fields self lacks are copied,
    /// events and purchases are combined, both carts are kept.
    mutating func absorb(_ other: Profile, carryAliases: Bool, now: Date) {
        for (key, value) in other.attributes where attributes[key] == nil {
            attributes[key] = value
        }
        events.append(contentsOf: other.events)
        events.sort { $0.date < $1.date }
        purchases.append(contentsOf: other.purchases)
        purchases.sort { $0.date < $1.date }
        if emailSubscribe == nil { emailSubscribe = other.emailSubscribe }
        if pushSubscribe == nil { pushSubscribe = other.pushSubscribe }
        for (group, state) in other.subscriptionGroups where subscriptionGroups[group] == nil {
            subscriptionGroups[group] = state
        }
        for (cart, state) in other.carts {
            if let mine = carts[cart] {
                carts[cart] = CartState(updatedAt: max(mine.updatedAt, state.updatedAt), checkedOut: mine.checkedOut || state.checkedOut)
            } else {
                carts[cart] = state
            }
        }
        if carryAliases {
            for alias in other.aliases where !aliases.contains(where: { $0.label == alias.label }) {
                aliases.append(alias)
            }
        }
        updatedAt = now
    }
}

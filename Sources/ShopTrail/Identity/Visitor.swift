/// A browser as ShopTrail knows it: its tracker id and, once learned, the customer it belongs to.
public struct Visitor: Sendable, Equatable {
    public var shop: String
    public var id: String
    /// The Shopify customer this visitor is linked to now (nil while anonymous).
    public var customerId: String?
    public var linkedAt: EpochMillis?
    public var evidence: LinkEvidence?
    /// In `forward` mode: something was sent under this visitor's user alias, so an alias profile exists in Braze.
    public var hasAliasProfile = false
    /// The alias profile was merged into this external id (`/users/identify`); it happens once per visitor.
    public var aliasIdentifiedAs: String?
    public var firstSeen: EpochMillis
    public var lastSeen: EpochMillis

    public init(shop: String, id: String, firstSeen: EpochMillis) {
        self.shop = shop
        self.id = id
        self.firstSeen = firstSeen
        self.lastSeen = firstSeen
    }
}

/// Why ShopTrail believes a visitor is a customer, strongest first.
public enum LinkEvidence: String, Sendable, CaseIterable, Comparable {
    /// Shopify's App Proxy `logged_in_customer_id`, signature verified.
    case appProxy = "app_proxy"
    /// The customer the Liquid snippet signed with the shop's snippet secret.
    case signedCustomer = "signed_customer"
    /// A checkout or order whose cart or checkout token this visitor was seen with.
    case cartToken = "cart_token"
    /// No longer produced: the pixel's checkout customer is unsigned browser data. Kept so that links
    /// recorded by earlier versions still read back.
    case pixelCheckout = "pixel_checkout"

    /// Lower is stronger.
    var rank: Int { Self.allCases.firstIndex(of: self) ?? Self.allCases.count }
    public static func < (lhs: LinkEvidence, rhs: LinkEvidence) -> Bool { lhs.rank < rhs.rank }

    /// The claim was read from an HMAC-verified Shopify payload, so its names and phone may be written to Braze.
    var isShopifyVerifiedPayload: Bool { self == .cartToken }
}

/// A Shopify customer and the attributes last written to Braze (so only changes are sent).
public struct Customer: Sendable, Equatable {
    public var shop: String
    public var id: String
    public var email: String?
    public var firstName: String?
    public var lastName: String?
    public var phone: String?
    /// JSON object text of the Braze attributes last enqueued, to send only what changed (Braze
    /// charges a data point per attribute written, changed or not).
    public var sentAttributes: String?

    public init(shop: String, id: String) {
        self.shop = shop
        self.id = id
    }

    /// Braze's standard attributes the customer record knows.
    var standardAttributes: [(String, JSONValue)] {
        [("email", email), ("first_name", firstName), ("last_name", lastName), ("phone", phone)].compactMap { key, value in value.map { (key, .string($0)) } }
    }

    /// The attributes whose values differ from what was last sent, recording them as sent.
    mutating func changedAttributes(_ attributes: [(String, JSONValue)]) -> [(key: String, value: JSONValue)] {
        var sent = sentAttributes.flatMap { try? JSONParser.parse(Array($0.utf8)) }?.objectValue ?? JSONObject()
        var changed: [(key: String, value: JSONValue)] = []
        for (key, value) in attributes where sent[key] != value {
            changed.append((key, value))
            sent.members.removeAll { $0.key == key }
            sent.members.append((key, value))
        }
        if !changed.isEmpty { sentAttributes = JSONValue.object(sent).serialized }
        return changed
    }
}

/// What the storefront last told about a cart, and what was sent for it.
public struct CartSnapshot: Sendable, Equatable {
    public var shop: String
    /// Shopify's cart token without the `?key=` part.
    public var token: String
    public var visitorId: String?
    /// Lines and quantities of the last `cart_updated` sent, to skip repeats.
    public var sentSignature: String?
    /// Time of the last `cart_updated` sent: Braze refuses older ones.
    public var sentTime: EpochMillis?
    /// The cart went to checkout: Braze refuses further `cart_updated` for it.
    public var checkedOut = false
    /// The external id the cart-token alias was added to (forward mode).
    public var aliasedTo: String?
    public var checkoutToken: String?

    public init(shop: String, token: String) {
        self.shop = shop
        self.token = token
    }

    /// A cart token as the tracker, the pixel and Shopify's payloads join on it: everything from
    /// `?` on dropped (the Ajax API appends `?key=…` since 2024-06); nil when empty or not a string.
    static func token(_ value: JSONValue?) -> String? {
        guard let text = value?.stringValue, let token = text.split(separator: "?").first, !token.isEmpty else { return nil }
        return String(token)
    }
}

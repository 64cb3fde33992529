/// The kinds of abandonment ShopTrail decides itself.
public enum AbandonmentKind: String, Sendable, CaseIterable, Codable {
    case browse
    case cart
    case checkout
}

/// One kind's settings under `abandonment:`.
public struct AbandonmentKindConfig: Sendable, Equatable {
    public var enabled: Bool
    /// Quiet time after the last activity before the kind fires.
    public var windowMillis: EpochMillis
    /// The Braze custom event name.
    public var eventName: String

    public init(enabled: Bool, windowMillis: EpochMillis, eventName: String) {
        self.enabled = enabled
        self.windowMillis = windowMillis
        self.eventName = eventName
    }
}

/// The `abandonment:` section of a shop: durable timers that send one ready-to-message event.
public struct AbandonmentConfig: Sendable, Equatable {
    public static let hour: EpochMillis = 3_600_000
    /// Braze's legacy connector allowed 5 minutes to 24 hours for the cart delay; so do we.
    public static let cartWindowRange: ClosedRange<EpochMillis> = 300_000...86_400_000

    public var browse = AbandonmentKindConfig(enabled: false, windowMillis: hour, eventName: "shoptrail_browse_abandoned")
    public var cart = AbandonmentKindConfig(enabled: false, windowMillis: hour, eventName: "shoptrail_cart_abandoned")
    public var checkout = AbandonmentKindConfig(enabled: false, windowMillis: hour, eventName: "shoptrail_checkout_abandoned")
    /// After a kind fired for a visitor (or customer), it does not fire again for them within this time.
    public var cooldownMillis: EpochMillis = 24 * hour
    /// Carts worth less than this (in the cart's currency) never fire.
    public var minimumCartValue: Double = 0
    /// Viewed products carried by the browse event, most recent first.
    public var browseProductLimit = 10

    public init() {}

    /// The defaults for a naming scheme: legacy naming uses the names of Braze's ScriptTag connector.
    public static func defaults(naming: EventNaming) -> AbandonmentConfig {
        var config = AbandonmentConfig()
        if naming == .legacy {
            config.cart.eventName = "shopify_abandoned_cart"
            config.checkout.eventName = "shopify_abandoned_checkout"
        }
        return config
    }

    public subscript(kind: AbandonmentKind) -> AbandonmentKindConfig {
        get {
            switch kind {
            case .browse: browse
            case .cart: cart
            case .checkout: checkout
            }
        }
        set {
            switch kind {
            case .browse: browse = newValue
            case .cart: cart = newValue
            case .checkout: checkout = newValue
            }
        }
    }

    public var anyEnabled: Bool { browse.enabled || cart.enabled || checkout.enabled }
}

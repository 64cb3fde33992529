import Foundation

/// A generated order line: the variant and product it refers to and the unit price paid.
public struct ShopifyLineItem: Sendable, Hashable, Codable {
    public var id: Int64
    public var title: String
    /// nil for a product's only ("Default Title") variant, as Shopify returns it.
    public var variantTitle: String?
    public var sku: String?
    public var quantity: Int
    public var variantId: Int64?
    public var productId: Int64?
    public var unitPrice: ShopifyMoney
    public var vendor: String?
    /// What each of the order's discount applications took off this line (`LineItem.discountAllocations`).
    public var discountAllocations: [ShopifyDiscountAllocation] = []

    public var gid: String { "gid://shopify/LineItem/\(id)" }
    /// `unitPrice × quantity`.
    public var total: ShopifyMoney { ShopifyMoney(cents: unitPrice.cents * Int64(quantity), currencyCode: unitPrice.currencyCode) }
}

/// A generated Shopify order with its money totals (taxes included in prices, as in EU shops).
public struct ShopifyOrder: Sendable, Hashable, Codable {
    public var id: Int64
    /// "#1001", "#1002", … in creation order.
    public var name: String
    public var createdAt: Date
    public var processedAt: Date
    public var updatedAt: Date
    public var cancelledAt: Date?
    public var cancelReason: String?
    public var email: String?
    public var phone: String?
    /// nil for guest checkouts (about 3%).
    public var customerId: Int64?
    public var currencyCode: String
    /// Line totals minus discounts.
    public var subtotalPrice: ShopifyMoney
    public var totalDiscounts: ShopifyMoney
    /// Included in the prices (19/119 of subtotal + shipping).
    public var totalTax: ShopifyMoney
    public var totalShippingPrice: ShopifyMoney
    /// Subtotal + shipping.
    public var totalPrice: ShopifyMoney
    public var lineItems: [ShopifyLineItem]
    public var test: Bool
    /// `OrderDisplayFinancialStatus`: PAID, PENDING, AUTHORIZED, PARTIALLY_REFUNDED, REFUNDED, VOIDED.
    public var displayFinancialStatus: String
    /// `OrderDisplayFulfillmentStatus`: FULFILLED, UNFULFILLED, PARTIALLY_FULFILLED.
    public var displayFulfillmentStatus: String
    public var statusPageUrl: String
    public var tags: [String]
    public var discountCodes: [String]
    public var sourceName: String
    /// `Order.discountApplications`, in `index` order (one `DiscountCodeApplication` per code of `discountCodes`).
    public var discountApplications: [ShopifyDiscountApplication] = []

    public var gid: String { "gid://shopify/Order/\(id)" }
}

/// A discount's intention as applied to an order (`DiscountApplication`; only `DiscountCodeApplication` is generated).
public struct ShopifyDiscountApplication: Sendable, Hashable, Codable {
    /// Which implementation of the `DiscountApplication` interface it is.
    public enum Kind: String, Sendable, Hashable, Codable {
        case discountCode = "DiscountCodeApplication"
        case automatic = "AutomaticDiscountApplication"
        case manual = "ManualDiscountApplication"
        case script = "ScriptDiscountApplication"
    }

    /// `PricingValue`: a `MoneyV2` or a `PricingPercentageValue`.
    public enum Value: Sendable, Hashable, Codable {
        case money(ShopifyMoney)
        case percentage(Double)
    }

    public var kind: Kind
    /// Precedence among the order's applications; `DiscountAllocation.discountApplication` refers to it.
    public var index: Int
    /// The code (`DiscountCodeApplication.code`); the title for the other kinds.
    public var code: String?
    public var title: String?
    public var value: Value
    /// `DiscountApplicationAllocationMethod`: ACROSS, EACH (ONE is deprecated).
    public var allocationMethod: String
    /// `DiscountApplicationTargetSelection`: ALL, ENTITLED, EXPLICIT.
    public var targetSelection: String
    /// `DiscountApplicationTargetType`: LINE_ITEM, SHIPPING_LINE.
    public var targetType: String

    public init(kind: Kind, index: Int, code: String?, title: String? = nil, value: Value, allocationMethod: String, targetSelection: String, targetType: String) {
        self.kind = kind
        self.index = index
        self.code = code
        self.title = title
        self.value = value
        self.allocationMethod = allocationMethod
        self.targetSelection = targetSelection
        self.targetType = targetType
    }
}

/// The amount one discount application took off one line (`DiscountAllocation`).
public struct ShopifyDiscountAllocation: Sendable, Hashable, Codable {
    /// `ShopifyDiscountApplication.index` of the order's application.
    public var applicationIndex: Int
    public var amount: ShopifyMoney

    public init(applicationIndex: Int, amount: ShopifyMoney) {
        self.applicationIndex = applicationIndex
        self.amount = amount
    }
}

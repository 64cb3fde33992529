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

    public var gid: String { "gid://shopify/Order/\(id)" }
}

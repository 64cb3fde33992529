import Foundation

/// An amount in minor units with its currency; printed the way Shopify's `MoneyV2.amount` / `Money` are ("12.50").
public struct ShopifyMoney: Sendable, Hashable, Codable {
    /// Minor units (cents); all generated currencies have two decimals.
    public var cents: Int64
    public var currencyCode: String

    public init(cents: Int64, currencyCode: String) {
        self.cents = cents
        self.currencyCode = currencyCode
    }

    /// Decimal string with two fraction digits, e.g. "12.50", "-3.05".
    public var amount: String {
        let sign = cents < 0 ? "-" : ""
        let magnitude = cents.magnitude
        let fraction = magnitude % 100
        return "\(sign)\(magnitude / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }

    /// The amount as a `Decimal`, for exact comparisons in tests.
    public var decimal: Decimal { Decimal(cents) / 100 }
}

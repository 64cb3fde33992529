import Foundation

/// Marketing consent states of `CustomerEmailMarketingState` / `CustomerSmsMarketingState`.
public enum ShopifyMarketingState: String, Sendable, Hashable, CaseIterable, Codable {
    case subscribed = "SUBSCRIBED"
    case notSubscribed = "NOT_SUBSCRIBED"
    case unsubscribed = "UNSUBSCRIBED"
    case pending = "PENDING"
    case invalid = "INVALID"
}

/// A `MailingAddress`, reduced to the fields Braze syncs (city, province, zip, country).
public struct ShopifyAddress: Sendable, Hashable, Codable {
    public var address1: String
    public var city: String
    public var province: String?
    public var provinceCode: String?
    public var zip: String
    public var country: String
    /// ISO 3166-1 alpha-2, as `countryCodeV2`.
    public var countryCodeV2: String

    public init(address1: String, city: String, province: String?, provinceCode: String?, zip: String, country: String, countryCodeV2: String) {
        self.address1 = address1
        self.city = city
        self.province = province
        self.provinceCode = provinceCode
        self.zip = zip
        self.country = country
        self.countryCodeV2 = countryCodeV2
    }
}

/// A generated Shopify customer, the source of truth tests compare imported profiles with.
public struct ShopifyCustomer: Sendable, Hashable, Codable {
    /// Numeric id (beyond 2^53, so clients must not round-trip it through a double).
    public var id: Int64
    public var firstName: String?
    public var lastName: String?
    /// As stored in Shopify: unique ignoring case, usually lower case, sometimes mixed case; nil for phone-only customers.
    public var email: String?
    /// E.164, nil for about a third of customers.
    public var phone: String?
    public var tags: [String]
    public var createdAt: Date
    public var updatedAt: Date
    public var defaultAddress: ShopifyAddress?
    /// nil exactly when `email` is nil.
    public var emailMarketingState: ShopifyMarketingState?
    /// nil when there is no phone, and for some customers with one.
    public var smsMarketingState: ShopifyMarketingState?
    /// All orders of this customer, including test and cancelled ones (and those older than the 60-day access window).
    public var numberOfOrders: Int
    /// Sum of `totalPriceSet` over the same orders.
    public var amountSpent: ShopifyMoney
    /// The most recent order, nil when there is none.
    public var lastOrderId: Int64?

    public var gid: String { "gid://shopify/Customer/\(id)" }

    public var displayName: String {
        let name = [firstName, lastName].compactMap { $0 }.joined(separator: " ")
        return name.isEmpty ? (email ?? phone ?? "") : name
    }
}

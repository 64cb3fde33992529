import Foundation

/// Leaky-bucket settings of the GraphQL Admin API rate limit (Shopify's defaults for a Standard plan are 2000/100;
/// older docs say 1000/50).
public struct ShopifyThrottleConfiguration: Sendable, Hashable {
    /// Bucket size, `throttleStatus.maximumAvailable`.
    public var maximumAvailable: Double
    /// Points restored per second, `throttleStatus.restoreRate`.
    public var restoreRate: Double
    /// A single query whose requested cost exceeds this fails with MAX_COST_EXCEEDED, whatever the bucket holds.
    public var maxSingleQueryCost: Int

    public init(maximumAvailable: Double = 2000, restoreRate: Double = 100, maxSingleQueryCost: Int = 1000) {
        self.maximumAvailable = maximumAvailable
        self.restoreRate = restoreRate
        self.maxSingleQueryCost = maxSingleQueryCost
    }
}

/// Everything the emulator needs: the shop, accepted tokens and scopes, limits, the data set and the clock.
public struct ShopifyEmulatorConfiguration: Sendable {
    /// The permanent `*.myshopify.com` domain; fixed, whatever Host the request used.
    public var shopDomain: String
    public var shopName: String
    public var shopEmail: String
    public var currencyCode: String
    public var ianaTimezone: String
    /// Accepted `X-Shopify-Access-Token` values.
    public var accessTokens: [String]
    /// Granted scopes. Without `read_all_orders`, orders older than 60 days are invisible.
    public var accessScopes: [String]
    public var throttle: ShopifyThrottleConfiguration
    public var maxPageSize: Int
    /// A bulk operation stays CREATED/RUNNING at least this long, so clients really have to poll.
    public var bulkMinimumDuration: Duration
    /// Base of bulk result URLs (e.g. "http://127.0.0.1:9091"); nil = the bound address, else the request's Host.
    public var publicBaseURL: String?
    /// Location id used in `inventory_levels/update` bodies.
    public var locationId: Int64
    /// Generation parameters, used when `dataSet` is nil.
    public var seed: UInt64
    public var customerCount: Int
    public var orderCount: Int
    public var productCount: Int
    /// An explicit data set (wins over the generation parameters).
    public var dataSet: ShopifyDataSet?
    /// Wall clock for the bucket, the 60-day window and timestamps; tests inject a stepping one.
    public var now: @Sendable () -> Date

    public static let defaultScopes = ["read_customers", "read_orders", "read_products", "read_inventory"]
    public static let defaultAccessToken = "shpat_emulator_token"

    public init(
        shopDomain: String = "fixture-shop.myshopify.com",
        shopName: String = "Fixture Shop",
        shopEmail: String = "owner@example.com",
        currencyCode: String = "EUR",
        ianaTimezone: String = "Europe/Berlin",
        accessTokens: [String] = [ShopifyEmulatorConfiguration.defaultAccessToken],
        accessScopes: [String] = ShopifyEmulatorConfiguration.defaultScopes,
        throttle: ShopifyThrottleConfiguration = .init(),
        maxPageSize: Int = 250,
        bulkMinimumDuration: Duration = .milliseconds(200),
        publicBaseURL: String? = nil,
        locationId: Int64 = 76_543_210_987,
        seed: UInt64 = 42,
        customerCount: Int = 5_000,
        orderCount: Int = 20_000,
        productCount: Int = 200,
        dataSet: ShopifyDataSet? = nil,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.shopDomain = shopDomain
        self.shopName = shopName
        self.shopEmail = shopEmail
        self.currencyCode = currencyCode
        self.ianaTimezone = ianaTimezone
        self.accessTokens = accessTokens
        self.accessScopes = accessScopes
        self.throttle = throttle
        self.maxPageSize = maxPageSize
        self.bulkMinimumDuration = bulkMinimumDuration
        self.publicBaseURL = publicBaseURL
        self.locationId = locationId
        self.seed = seed
        self.customerCount = customerCount
        self.orderCount = orderCount
        self.productCount = productCount
        self.dataSet = dataSet
        self.now = now
    }

    /// The data set this configuration describes (generated relative to `now()` unless given).
    public func makeDataSet() -> ShopifyDataSet {
        dataSet ?? ShopifyDataSet.generate(seed: seed, customers: customerCount, orders: orderCount, products: productCount,
                                           now: now(), shopDomain: shopDomain, currencyCode: currencyCode)
    }
}

import Foundation

/// The shop's customers, orders and products: generated deterministically from a seed, or built by hand.
public struct ShopifyDataSet: Sendable {
    public let seed: UInt64
    /// The instant the data was generated relative to (orders fall in the 180 days before it).
    public let now: Date
    public let shopDomain: String
    public let currencyCode: String
    /// Oldest first; ids ascend with `createdAt`, as Shopify's do.
    public private(set) var customers: [ShopifyCustomer]
    /// Oldest first; ids and names ascend with `createdAt`.
    public private(set) var orders: [ShopifyOrder]
    /// Oldest first.
    public private(set) var products: [ShopifyProduct]

    // Lookups by id, rebuilt in `init` (ids never change after that).
    private let customerIndex: [Int64: Int]
    private let orderIndex: [Int64: Int]
    private let productIndex: [Int64: Int]
    private let variantIndex: [Int64: VariantLocation]
    private let inventoryItemIndex: [Int64: VariantLocation]
    /// Order positions per customer id, oldest first.
    let ordersByCustomer: [Int64: [Int]]

    struct VariantLocation: Sendable, Hashable {
        var product: Int
        var variant: Int
    }

    /// A data set from explicit records (ids must be unique per type).
    public init(
        seed: UInt64 = 0, now: Date, shopDomain: String, currencyCode: String = "EUR",
        customers: [ShopifyCustomer], orders: [ShopifyOrder], products: [ShopifyProduct]
    ) {
        self.seed = seed
        self.now = now
        self.shopDomain = shopDomain
        self.currencyCode = currencyCode
        self.customers = customers
        self.orders = orders
        self.products = products
        customerIndex = Dictionary(customers.enumerated().map { ($1.id, $0) }, uniquingKeysWith: { first, _ in first })
        orderIndex = Dictionary(orders.enumerated().map { ($1.id, $0) }, uniquingKeysWith: { first, _ in first })
        productIndex = Dictionary(products.enumerated().map { ($1.id, $0) }, uniquingKeysWith: { first, _ in first })
        var variants: [Int64: VariantLocation] = [:]
        var items: [Int64: VariantLocation] = [:]
        for (p, product) in products.enumerated() {
            for (v, variant) in product.variants.enumerated() {
                variants[variant.id] = VariantLocation(product: p, variant: v)
                items[variant.inventoryItemId] = VariantLocation(product: p, variant: v)
            }
        }
        variantIndex = variants
        inventoryItemIndex = items
        var byCustomer: [Int64: [Int]] = [:]
        for (index, order) in orders.enumerated() {
            if let customerId = order.customerId { byCustomer[customerId, default: []].append(index) }
        }
        ordersByCustomer = byCustomer
    }

    /// The deterministic fixture: the same arguments give the same data on every machine.
    public static func generate(
        seed: UInt64 = 42,
        customers: Int = 5_000,
        orders: Int = 20_000,
        products: Int = 200,
        now: Date = Date(),
        shopDomain: String = "fixture-shop.myshopify.com",
        currencyCode: String = "EUR"
    ) -> ShopifyDataSet {
        var generator = ShopifyDataGenerator(seed: seed, now: now, shopDomain: shopDomain, currencyCode: currencyCode)
        let productList = generator.products(count: max(0, products))
        var customerList = generator.customers(count: max(0, customers))
        let orderList = generator.orders(count: max(0, orders), customers: &customerList, products: productList)
        return ShopifyDataSet(seed: seed, now: now, shopDomain: shopDomain, currencyCode: currencyCode,
                              customers: customerList, orders: orderList, products: productList)
    }

    // MARK: Lookups

    public func customer(id: Int64) -> ShopifyCustomer? { customerIndex[id].map { customers[$0] } }
    public func order(id: Int64) -> ShopifyOrder? { orderIndex[id].map { orders[$0] } }
    public func product(id: Int64) -> ShopifyProduct? { productIndex[id].map { products[$0] } }

    public func variant(id: Int64) -> ShopifyVariant? {
        variantIndex[id].map { products[$0.product].variants[$0.variant] }
    }

    public func variant(inventoryItemId: Int64) -> ShopifyVariant? {
        inventoryItemIndex[inventoryItemId].map { products[$0.product].variants[$0.variant] }
    }

    /// Every variant of every product, in product order.
    public var allVariants: [ShopifyVariant] { products.flatMap(\.variants) }

    /// Orders the app may read: all with `read_all_orders`, else those created within 60 days before `at`.
    public func accessibleOrders(readAllOrders: Bool, at date: Date) -> [ShopifyOrder] {
        guard !readAllOrders else { return orders }
        let cutoff = date.addingTimeInterval(-ShopifyAccess.defaultOrderWindow)
        return orders.filter { $0.createdAt >= cutoff }
    }

    func customerPosition(id: Int64) -> Int? { customerIndex[id] }
    func orderPosition(id: Int64) -> Int? { orderIndex[id] }
    func productPosition(id: Int64) -> Int? { productIndex[id] }
    func variantLocation(id: Int64) -> VariantLocation? { variantIndex[id] }
    func variantLocation(inventoryItemId: Int64) -> VariantLocation? { inventoryItemIndex[inventoryItemId] }

    // MARK: Mutation (through the state actor)

    mutating func updateVariant(at location: VariantLocation, _ change: (inout ShopifyVariant) -> Void) {
        change(&products[location.product].variants[location.variant])
    }

    mutating func updateProduct(at position: Int, _ change: (inout ShopifyProduct) -> Void) {
        change(&products[position])
    }
}

/// Shopify's access rules that depend on scopes.
public enum ShopifyAccess {
    /// Without `read_all_orders`, only orders created in the last 60 days are readable.
    public static let defaultOrderWindow: TimeInterval = 60 * 86_400
}

import Foundation

/// Sorted views over the data set, one per supported sort key, so a page is a binary search plus a short scan.
struct DataSetViews: Sendable {
    var customers: [String: SortedView]
    var orders: [String: SortedView]
    var products: [String: SortedView]
    /// `productVariants` pages over this flat list of variant locations.
    var variantLocations: [ShopifyDataSet.VariantLocation]
    var variants: SortedView
    /// Per-position timestamps in whole seconds: filters and the 60-day window read these instead of whole records.
    let customerTimes: RecordTimes
    let orderTimes: RecordTimes

    init(_ data: ShopifyDataSet) {
        let customers = data.customers, orders = data.orders, products = data.products
        let customerTimes = RecordTimes(customers.map { ($0.id, $0.createdAt, $0.updatedAt, $0.createdAt) })
        let orderTimes = RecordTimes(orders.map { ($0.id, $0.createdAt, $0.updatedAt, $0.processedAt) })
        self.customerTimes = customerTimes
        self.orderTimes = orderTimes
        self.customers = [
            "ID": SortedView(count: customers.count) { SortTuple(key: customerTimes.ids[$0], id: customerTimes.ids[$0]) },
            "CREATED_AT": SortedView(count: customers.count) { SortTuple(key: customerTimes.created[$0], id: customerTimes.ids[$0]) },
            "UPDATED_AT": SortedView(count: customers.count) { SortTuple(key: customerTimes.updated[$0], id: customerTimes.ids[$0]) },
        ]
        self.orders = [
            "ID": SortedView(count: orders.count) { SortTuple(key: orderTimes.ids[$0], id: orderTimes.ids[$0]) },
            "CREATED_AT": SortedView(count: orders.count) { SortTuple(key: orderTimes.created[$0], id: orderTimes.ids[$0]) },
            "PROCESSED_AT": SortedView(count: orders.count) { SortTuple(key: orderTimes.processed[$0], id: orderTimes.ids[$0]) },
            "UPDATED_AT": SortedView(count: orders.count) { SortTuple(key: orderTimes.updated[$0], id: orderTimes.ids[$0]) },
        ]
        self.products = Self.productViews(products)
        var locations: [ShopifyDataSet.VariantLocation] = []
        for (p, product) in products.enumerated() {
            for v in product.variants.indices { locations.append(ShopifyDataSet.VariantLocation(product: p, variant: v)) }
        }
        variantLocations = locations
        variants = SortedView(count: locations.count) {
            let id = products[locations[$0].product].variants[locations[$0].variant].id
            return SortTuple(key: id, id: id)
        }
    }

    /// Product sort orders change when a product's `updatedAt` does, so they are rebuilt after edits.
    static func productViews(_ products: [ShopifyProduct]) -> [String: SortedView] {
        func seconds(_ date: Date) -> Int64 { ShopifyTime.epochSeconds(date) }
        return [
            "ID": SortedView(count: products.count) { SortTuple(key: products[$0].id, id: products[$0].id) },
            "CREATED_AT": SortedView(count: products.count) { SortTuple(key: seconds(products[$0].createdAt), id: products[$0].id) },
            "UPDATED_AT": SortedView(count: products.count) { SortTuple(key: seconds(products[$0].updatedAt), id: products[$0].id) },
        ]
    }
}

/// Ids and timestamps (whole seconds) of a record list, as flat arrays: cheap to scan in a filter.
struct RecordTimes: Sendable {
    let ids: [Int64]
    let created: [Int64]
    let updated: [Int64]
    let processed: [Int64]

    init(_ records: [(Int64, Date, Date, Date)]) {
        ids = records.map(\.0)
        created = records.map { ShopifyTime.epochSeconds($0.1) }
        updated = records.map { ShopifyTime.epochSeconds($0.2) }
        processed = records.map { ShopifyTime.epochSeconds($0.3) }
    }
}

/// The shop facts and access rules a request runs with.
struct ShopContext: Sendable {
    var domain: String
    var name: String
    var email: String
    var currencyCode: String
    var ianaTimezone: String
    var scopes: Set<String>
    var maxPageSize: Int

    /// `write_x` implies `read_x`, as in Shopify.
    func hasScope(_ scope: String) -> Bool {
        if scopes.contains(scope) { return true }
        if scope.hasPrefix("read_") { return scopes.contains("write_" + scope.dropFirst(5)) }
        return false
    }

    var readAllOrders: Bool { hasScope("read_all_orders") }
}

/// Everything one execution reads: a snapshot, so bulk operations can run off the state actor.
struct ExecutionContext: Sendable {
    var data: ShopifyDataSet
    var views: DataSetViews
    var shop: ShopContext
    var now: Date
    var bulkOperations: [ShopifyEmulatorBulkOperation]
    /// Orders created before this instant (whole seconds) are hidden without `read_all_orders`.
    let orderCutoff: Int64?

    init(data: ShopifyDataSet, views: DataSetViews, shop: ShopContext, now: Date, bulkOperations: [ShopifyEmulatorBulkOperation]) {
        self.data = data
        self.views = views
        self.shop = shop
        self.now = now
        self.bulkOperations = bulkOperations
        orderCutoff = shop.readAllOrders ? nil : Int64((now.timeIntervalSince1970 - ShopifyAccess.defaultOrderWindow).rounded(.up))
    }

    func isOrderVisible(_ position: Int) -> Bool {
        guard let cutoff = orderCutoff else { return true }
        return views.orderTimes.created[position] >= cutoff
    }
}

/// A runtime value a field resolves on.
indirect enum GraphNode: Sendable {
    case queryRoot, mutationRoot
    case shop, domain, appInstallation
    case accessScope(String)
    case customer(Int)
    case order(Int)
    case lineItem(order: Int, line: Int)
    /// `Order.discountApplications[index]` and `LineItem.discountAllocations[index]` (positions in the records' arrays).
    case discountApplication(order: Int, index: Int)
    case discountAllocation(order: Int, line: Int, index: Int)
    case percentage(Double)
    case product(Int)
    case variant(ShopifyDataSet.VariantLocation)
    case inventoryItem(ShopifyDataSet.VariantLocation)
    case image(id: String, url: String, altText: String?)
    case productOption(product: Int, index: Int)
    case selectedOption(ShopifySelectedOption)
    case priceRange(product: Int)
    case money(ShopifyMoney)
    case moneyBag(ShopifyMoney)
    case address(customer: Int)
    case emailAddress(customer: Int)
    case phoneNumber(customer: Int)
    case emailConsent(customer: Int)
    case smsConsent(customer: Int)
    case count(Int, exact: Bool)
    case connection(ConnectionPage)
    case edge(cursor: String, node: GraphNode)
    case pageInfo(ConnectionPage)
    case bulkOperation(ShopifyEmulatorBulkOperation)
    case bulkPayload(ShopifyEmulatorBulkOperation?, [GraphNode])
    case userError(field: [String]?, message: String, code: String?)
}

/// A resolved page of a connection.
struct ConnectionPage: Sendable {
    var nodes: [GraphNode]
    var cursors: [String]
    var hasNextPage: Bool
    var hasPreviousPage: Bool
}

/// What a resolver produced, before the sub-selection is applied.
enum Resolved: Sendable {
    case leaf(ShopifyJSON)
    case node(GraphNode?)
    case nodes([GraphNode])
}

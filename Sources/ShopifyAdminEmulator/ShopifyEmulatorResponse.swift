/// An answer before it becomes an HTTP response: status, JSON body, extra headers.
public struct ShopifyEmulatorResponse: Sendable {
    public var status: Int
    public var body: ShopifyJSON
    public var headers: [(String, String)]

    public init(status: Int, body: ShopifyJSON, headers: [(String, String)] = []) {
        self.status = status
        self.body = body
        self.headers = headers
    }
}

/// Counters `GET /_emulator/stats` reports.
public struct ShopifyEmulatorStats: Sendable, Hashable {
    /// GraphQL requests received (any outcome, including 401s).
    public var requests: Int
    /// Refused with THROTTLED.
    public var throttled: Int
    /// Refused with MAX_COST_EXCEEDED.
    public var maxCostExceeded: Int
    /// Bulk operations started.
    public var bulkOperations: Int
    /// Points charged after refunds (sum of actual costs).
    public var pointsSpent: Int
    /// Bucket level now.
    public var currentlyAvailable: Int

    public var json: ShopifyJSON {
        ["requests": .int(Int64(requests)), "throttled": .int(Int64(throttled)), "maxCostExceeded": .int(Int64(maxCostExceeded)),
         "bulkOperations": .int(Int64(bulkOperations)), "pointsSpent": .int(Int64(pointsSpent)),
         "currentlyAvailable": .int(Int64(currentlyAvailable))]
    }
}

/// The `inventory_levels/update` webhook body Shopify would send after a stock change.
public struct ShopifyInventoryLevelUpdate: Sendable, Hashable {
    public var inventoryItemId: Int64
    public var locationId: Int64
    public var available: Int
    public var updatedAt: String
    /// `gid://shopify/InventoryLevel/{location}?inventory_item_id={item}`.
    public var adminGraphqlApiId: String

    /// REST-style body: ids as JSON numbers (beyond 2^53, as Shopify sends them).
    public var json: ShopifyJSON {
        ["inventory_item_id": .int(inventoryItemId), "location_id": .int(locationId), "available": .int(Int64(available)),
         "updated_at": .string(updatedAt), "admin_graphql_api_id": .string(adminGraphqlApiId)]
    }
}

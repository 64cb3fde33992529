/// A successful Admin GraphQL answer: `data` (numbers kept as their exact text) and what the query cost.
public struct GraphQLResponse: Sendable, Equatable {
    /// The `data` member; `.null` when absent.
    public var data: JSONValue
    /// Errors that came together with data (a partial answer, e.g. one field denied); empty normally.
    public var errors: [GraphQLError]
    /// `extensions.cost`, when Shopify sent it.
    public var cost: ShopifyQueryCost?

    public init(data: JSONValue, errors: [GraphQLError] = [], cost: ShopifyQueryCost? = nil) {
        self.data = data
        self.errors = errors
        self.cost = cost
    }

    /// The value at a path of object keys below `data`, e.g. `["products", "pageInfo"]`.
    public func value(at path: [String]) -> JSONValue? {
        var current: JSONValue? = data
        for key in path { current = current?.objectValue?[key] }
        return current
    }
}

/// One entry of a GraphQL `errors` array.
public struct GraphQLError: Sendable, Equatable, CustomStringConvertible {
    public var message: String
    /// `extensions.code`, e.g. `THROTTLED`, `ACCESS_DENIED`, `MAX_COST_EXCEEDED`.
    public var code: String?
    /// `path`, joined by `.` (field names and indices).
    public var path: String?

    public init(message: String, code: String? = nil, path: String? = nil) {
        self.message = message
        self.code = code
        self.path = path
    }

    public var description: String {
        [code.map { "[\($0)]" }, path.map { "at \($0):" }, message].compactMap { $0 }.joined(separator: " ")
    }
}

/// Why an Admin API call failed for good. Texts name the shop, never the access token.
public enum ShopifyAdminError: Error, Equatable, CustomStringConvertible {
    /// The shop has no Admin API access token (or no usable URL).
    case notConfigured(shop: String, reason: String)
    /// 401/403: the token is wrong, revoked or lacks a scope.
    case unauthorized(shop: String, status: Int)
    /// Another HTTP status that retrying will not fix (400, 404, 422, …).
    case http(shop: String, status: Int, message: String)
    /// GraphQL errors without data (a bad query, a missing scope, a query over the cost limit).
    case graphQL(shop: String, errors: [GraphQLError])
    /// 5xx or transport failures on every attempt.
    case unavailable(shop: String, reason: String, attempts: Int)
    /// Still throttled after the configured number of waits.
    case throttled(shop: String, attempts: Int)
    /// The answer was not the JSON expected.
    case invalidResponse(shop: String, reason: String)
    /// A bulk operation was refused (`userErrors`, e.g. code `OPERATION_IN_PROGRESS`), failed, or took too long.
    case bulk(shop: String, code: String?, message: String)

    public var description: String {
        switch self {
        case .notConfigured(let shop, let reason): "Shopify Admin API not configured for \(shop): \(reason)"
        case .unauthorized(let shop, let status):
            "Shopify refused the Admin API access token of \(shop) (HTTP \(status)): check shopify.admin_access_token and the app's scopes (read_products, read_inventory)"
        case .http(let shop, let status, let message): "Shopify Admin API of \(shop) answered HTTP \(status): \(message)"
        case .graphQL(let shop, let errors): "Shopify Admin API of \(shop) refused the query: " + errors.map(\.description).joined(separator: "; ")
        case .unavailable(let shop, let reason, let attempts): "Shopify Admin API of \(shop) unavailable after \(attempts) attempts: \(reason)"
        case .throttled(let shop, let attempts): "Shopify Admin API of \(shop) still throttled after \(attempts) attempts"
        case .invalidResponse(let shop, let reason): "Shopify Admin API of \(shop) sent an unexpected answer: \(reason)"
        case .bulk(let shop, let code, let message): "Shopify bulk operation of \(shop) failed\(code.map { " (\($0))" } ?? ""): \(message)"
        }
    }
}

/// What a client has done so far (for progress output, summaries and tests).
public struct ShopifyAdminStats: Sendable, Equatable {
    /// HTTP requests sent, retries included.
    public var requests = 0
    /// Queries answered with data.
    public var queries = 0
    /// Answers that were THROTTLED (HTTP 200 with the error code, or HTTP 429).
    public var throttled = 0
    /// Retries after 5xx answers or transport failures.
    public var retries = 0
    /// Sum of `actualQueryCost` (of `requestedQueryCost` when the actual cost is missing).
    public var totalCost: Double = 0
    /// Time spent waiting for the bucket to refill before sending, in milliseconds.
    public var waitedMillis: EpochMillis = 0
    /// Bulk operations started, and result lines read.
    public var bulkOperations = 0
    public var bulkLines = 0

    public init() {}
}

/// One page of a connection read by `ShopifyAdminClient.paginate`.
public struct GraphQLPage: Sendable {
    /// 1 for the first page.
    public var number: Int
    /// The connection's `nodes` (or its `edges[].node`).
    public var nodes: [JSONValue]
    /// The whole connection object (pageInfo, nodes, anything else selected).
    public var connection: JSONObject
    /// The whole answer, for fields outside the connection.
    public var response: GraphQLResponse
}

import Foundation

/// A fixed Braze REST path ShopTrail calls (catalog item paths depend on the catalog: see `BrazeRequest.catalogItems`).
public enum BrazeEndpoint: String, Sendable, CaseIterable {
    case usersTrack = "/users/track"
    case usersIdentify = "/users/identify"
    case usersAliasNew = "/users/alias/new"
    case usersMerge = "/users/merge"
    case usersDelete = "/users/delete"
    case usersExportIds = "/users/export/ids"
    case subscriptionStatusSet = "/subscription/status/set"
    case subscriptionStatusSetV2 = "/v2/subscription/status/set"
    /// `POST /catalogs`: creates catalogs.
    case catalogs = "/catalogs"

    /// The path below the REST endpoint.
    public var path: String { rawValue }
}

/// The HTTP methods Braze's endpoints use (catalog items: POST create, PATCH edit, PUT replace, DELETE remove).
public enum BrazeHTTPMethod: String, Sendable, CaseIterable {
    case post = "POST"
    case patch = "PATCH"
    case put = "PUT"
    case delete = "DELETE"
}

/// One Braze call: method, path and the pre-serialized JSON body.
public struct BrazeRequest: Sendable, Equatable {
    public var method: BrazeHTTPMethod
    /// Path below the REST endpoint, starting with `/`, already percent-encoded.
    public var path: String
    public var body: [UInt8]

    public init(_ endpoint: BrazeEndpoint, method: BrazeHTTPMethod = .post, body: [UInt8]) {
        self.method = method
        self.path = endpoint.path
        self.body = body
    }

    /// `/catalogs/{name}/items` with the given method (POST create, PATCH edit, PUT replace, DELETE remove).
    public static func catalogItems(_ catalogName: String, method: BrazeHTTPMethod, body: [UInt8]) -> BrazeRequest {
        BrazeRequest(method: method, path: "/catalogs/\(encodePathSegment(catalogName))/items", body: body)
    }

    private init(method: BrazeHTTPMethod, path: String, body: [UInt8]) {
        self.method = method
        self.path = path
        self.body = body
    }

    /// Encodes everything but unreserved characters, so a name can never add path segments or a query.
    static func encodePathSegment(_ segment: String) -> String {
        let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
        return segment.addingPercentEncoding(withAllowedCharacters: unreserved) ?? segment
    }
}

/// One entry of a GraphQL `errors` array, in graphql-ruby's shape (which Shopify's Admin API uses).
struct GraphQLError: Error, Sendable {
    var message: String
    var locations: [SourceLocation] = []
    var path: [ShopifyJSON]? = nil
    var extensions: [(String, ShopifyJSON)] = []

    init(_ message: String, locations: [SourceLocation] = [], path: [ShopifyJSON]? = nil, extensions: [(String, ShopifyJSON)] = []) {
        self.message = message
        self.locations = locations
        self.path = path
        self.extensions = extensions
    }

    init(_ message: String, at location: SourceLocation?, path: [ShopifyJSON]? = nil, code: String? = nil, _ more: [(String, ShopifyJSON)] = []) {
        self.message = message
        self.locations = location.map { [$0] } ?? []
        self.path = path
        self.extensions = (code.map { [("code", ShopifyJSON.string($0))] } ?? []) + more
    }

    var json: ShopifyJSON {
        var pairs: [(String, ShopifyJSON)] = [("message", .string(message))]
        if !locations.isEmpty { pairs.append(("locations", .array(locations.map(\.json)))) }
        if let path { pairs.append(("path", .array(path))) }
        if !extensions.isEmpty { pairs.append(("extensions", .object(extensions))) }
        return .object(pairs)
    }

    var code: String? {
        extensions.first(where: { $0.0 == "code" })?.1.stringValue
    }
}

/// A problem found while resolving one field: the field becomes null and the error is reported with its path.
struct FieldError: Error, Sendable {
    var message: String
    var extensions: [(String, ShopifyJSON)] = []
}

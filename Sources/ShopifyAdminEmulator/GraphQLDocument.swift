/// Line and column (1-based) of a token in the query text, as GraphQL errors report them.
struct SourceLocation: Sendable, Hashable {
    var line: Int
    var column: Int

    var json: ShopifyJSON { ["line": .int(Int64(line)), "column": .int(Int64(column))] }
}

/// A parsed GraphQL document: operations and fragment definitions.
struct GraphQLDocument: Sendable {
    var operations: [GraphQLOperation]
    var fragments: [GraphQLFragment]
}

/// `query`, `mutation` or `subscription`.
enum GraphQLOperationKind: String, Sendable {
    case query, mutation, subscription
}

/// One operation definition.
struct GraphQLOperation: Sendable {
    var kind: GraphQLOperationKind
    var name: String?
    var variables: [GraphQLVariableDefinition]
    var directives: [GraphQLDirective]
    var selections: [GraphQLSelection]
    var location: SourceLocation

    /// graphql-ruby's name for the operation in messages and error paths: "query Name" or "anonymous query".
    var pathName: String { name.map { "\(kind.rawValue) \($0)" } ?? kind.rawValue }
    var messageName: String { name ?? "anonymous \(kind.rawValue)" }
}

/// `fragment Name on Type { … }`.
struct GraphQLFragment: Sendable {
    var name: String
    var typeCondition: String
    var selections: [GraphQLSelection]
    var location: SourceLocation
}

/// `$name: Type = default`.
struct GraphQLVariableDefinition: Sendable {
    var name: String
    var type: GraphQLTypeReference
    var defaultValue: GraphQLValue?
    var location: SourceLocation
}

/// A type in a variable definition: `String`, `[ID!]`, `Int!`.
indirect enum GraphQLTypeReference: Sendable, Equatable, CustomStringConvertible {
    case named(String)
    case list(GraphQLTypeReference)
    case nonNull(GraphQLTypeReference)

    var description: String {
        switch self {
        case .named(let name): return name
        case .list(let inner): return "[\(inner)]"
        case .nonNull(let inner): return "\(inner)!"
        }
    }

    var namedType: String {
        switch self {
        case .named(let name): return name
        case .list(let inner), .nonNull(let inner): return inner.namedType
        }
    }

    var isNonNull: Bool { if case .nonNull = self { return true } else { return false } }
}

/// A field, fragment spread or inline fragment.
indirect enum GraphQLSelection: Sendable {
    case field(GraphQLField)
    case fragmentSpread(name: String, directives: [GraphQLDirective], location: SourceLocation)
    case inlineFragment(typeCondition: String?, directives: [GraphQLDirective], selections: [GraphQLSelection], location: SourceLocation)
}

/// `alias: name(args) @directives { selections }`.
struct GraphQLField: Sendable {
    var alias: String?
    var name: String
    var arguments: [GraphQLArgument]
    var directives: [GraphQLDirective]
    var selections: [GraphQLSelection]
    var location: SourceLocation

    var responseKey: String { alias ?? name }
}

/// `name: value` in a field or directive.
struct GraphQLArgument: Sendable {
    var name: String
    var value: GraphQLValue
    var location: SourceLocation
}

/// `@name(args)`.
struct GraphQLDirective: Sendable {
    var name: String
    var arguments: [GraphQLArgument]
    var location: SourceLocation
}

/// An input value as written in the document.
indirect enum GraphQLValue: Sendable, Equatable {
    case variable(String)
    case int(Int64)
    case float(Double)
    case string(String)
    case boolean(Bool)
    case null
    case enumValue(String)
    case list([GraphQLValue])
    case object([GraphQLObjectField])

    /// How graphql-ruby prints a literal in messages: `300`, `"x"`, `FOO`, `$var`.
    var printed: String {
        switch self {
        case .variable(let name): return "$\(name)"
        case .int(let value): return String(value)
        case .float(let value): return String(value)
        case .string(let value): return ShopifyJSON.string(value).jsonString
        case .boolean(let value): return value ? "true" : "false"
        case .null: return "null"
        case .enumValue(let value): return value
        case .list(let items): return "[" + items.map(\.printed).joined(separator: ", ") + "]"
        case .object(let fields): return "{" + fields.map { "\($0.name): \($0.value.printed)" }.joined(separator: ", ") + "}"
        }
    }
}

/// One `name: value` pair of an input object literal.
struct GraphQLObjectField: Sendable, Equatable {
    var name: String
    var value: GraphQLValue
}

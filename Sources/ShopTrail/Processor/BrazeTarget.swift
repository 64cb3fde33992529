/// Whom a Braze object is about: an identified user, or a visitor's alias profile (forward mode).
public enum BrazeTarget: Sendable, Equatable {
    case externalId(String)
    case visitorAlias(String)

    /// The alias label of visitor alias profiles.
    public static let visitorAliasLabel = "shoptrail_visitor"

    /// The identifier members of a `/users/track` object. Braze creates an alias-only profile only
    /// when `_update_existing_only` is explicitly false.
    var identifierMembers: [(key: String, value: JSONValue)] {
        switch self {
        case .externalId(let id): [("external_id", .string(id))]
        case .visitorAlias(let visitor): [("user_alias", Self.alias(name: visitor, label: Self.visitorAliasLabel)), ("_update_existing_only", .bool(false))]
        }
    }

    static func alias(name: String, label: String) -> JSONValue {
        .object(JSONObject([("alias_name", .string(name)), ("alias_label", .string(label))]))
    }
}

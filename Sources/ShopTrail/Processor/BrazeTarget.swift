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

    /// The identified user of a customer, when the shop's external-id strategy can name it.
    static func of(_ customer: Customer, shop: ShopConfig) -> BrazeTarget? {
        ExternalId.of(customer, strategy: shop.braze.externalId).map(BrazeTarget.externalId)
    }

    /// Where a visitor's events go now: the external id when known, the alias in forward mode, else nowhere yet.
    static func of(_ visitor: Visitor, shop: ShopConfig, state: any ProcessorState) throws -> BrazeTarget? {
        if let customerId = visitor.customerId, let customer = try state.customer(shop: shop.domain, id: customerId),
           let target = of(customer, shop: shop) {
            return target
        }
        return shop.braze.anonymous == .forward ? .visitorAlias(visitor.id) : nil
    }

    static func alias(name: String, label: String) -> JSONValue {
        .object(JSONObject([("alias_name", .string(name)), ("alias_label", .string(label))]))
    }
}

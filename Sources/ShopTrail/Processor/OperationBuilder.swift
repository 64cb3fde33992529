/// Collects the Braze operations one logged event causes, with ids derived from the event so that
/// processing it again enqueues nothing new.
///
/// Every operation a visitor's events cause shares one ordering key, whatever Braze user it targets:
/// so the visitor's alias events are answered before the `/users/identify` that merges them, and
/// that before anything sent under the external id.
struct OperationBuilder {
    let shop: String
    let event: LoggedEvent
    let userKey: String
    private(set) var operations: [BrazeOperation] = []

    /// `userKey`: the ordering key (defaults to the event's visitor; a webhook names none).
    init(shop: String, event: LoggedEvent, userKey: String? = nil) {
        self.shop = shop
        self.event = event
        self.userKey = userKey ?? ("v:" + (event.event.visitorId ?? ""))
    }

    private var baseId: String { "\(event.event.source.rawValue):\(event.event.eventId)" }

    private mutating func add(_ kind: BrazeOperation.Kind, suffix: String, payload: JSONValue) {
        operations.append(BrazeOperation(id: "\(baseId):\(suffix)", shop: shop, userKey: userKey, kind: kind,
                                         payload: payload.serialized, createdAt: event.event.receivedAt))
    }

    mutating func append(_ more: [BrazeOperation]) { operations.append(contentsOf: more) }

    /// A `/users/track` event object.
    mutating func event(_ target: BrazeTarget, name: String, time: EpochMillis, properties: JSONObject, idSuffix: String? = nil) {
        let object = JSONValue.object(JSONObject(target.identifierMembers + [
            ("name", .string(name)), ("time", .string(Timestamp.format(time))), ("properties", .object(properties)),
        ]))
        note(target)
        add(.event, suffix: idSuffix.map { "\($0):\(name)" } ?? name, payload: object)
    }

    /// A `/users/track` attributes object.
    mutating func attributes(_ target: BrazeTarget, _ attributes: JSONObject) {
        note(target)
        add(.attributes, suffix: "attributes", payload: .object(JSONObject(target.identifierMembers + attributes.members)))
    }

    /// `/users/identify`: the visitor's alias profile becomes the external id's. Ordered with the external id's operations.
    mutating func identify(visitor: String, externalId: String) {
        let entry = JSONValue.object(JSONObject([
            ("external_id", .string(externalId)),
            ("user_alias", BrazeTarget.alias(name: visitor, label: BrazeTarget.visitorAliasLabel)),
        ]))
        add(.identify, suffix: "identify", payload: entry)
    }

    /// `/users/alias/new`: Braze's connector's cart-token alias on the identified user.
    mutating func cartAlias(token: String, externalId: String) {
        let entry = JSONValue.object(JSONObject([
            ("external_id", .string(externalId)), ("alias_name", .string("shopify_cart_token")), ("alias_label", .string("shopify_cart_\(token)")),
        ]))
        add(.aliasNew, suffix: "cart_alias:\(token)", payload: entry)
    }

    /// `/users/alias/new`: Braze's connector's customer-id alias on the identified user.
    mutating func customerIdAlias(customerId: String, externalId: String, label: String) {
        add(.aliasNew, suffix: "customer_alias:\(customerId)", payload: Self.customerIdAliasEntry(customerId: customerId, externalId: externalId, label: label))
    }

    /// The `user_aliases` entry of that alias (the webhook path and the backfill send the same).
    static func customerIdAliasEntry(customerId: String, externalId: String, label: String) -> JSONValue {
        .object(JSONObject([("external_id", .string(externalId)), ("alias_name", .string(customerId)), ("alias_label", .string(label))]))
    }

    /// A `/users/track` purchase object (legacy naming: one per order line).
    mutating func purchase(_ target: BrazeTarget, _ purchase: JSONObject, time: EpochMillis, idSuffix: String) {
        note(target)
        let object = JSONValue.object(JSONObject(target.identifierMembers + purchase.members + [("time", .string(Timestamp.format(time)))]))
        add(.purchase, suffix: "purchase:\(idSuffix)", payload: object)
    }

    /// `/users/delete` by external ids.
    mutating func delete(externalIds: [String]) {
        add(.delete, suffix: "delete", payload: .object(JSONObject([("external_ids", .array(externalIds.map(JSONValue.string)))])))
    }

    /// `/users/delete` of visitor alias profiles.
    mutating func delete(visitorAliases: [String]) {
        let aliases = visitorAliases.map { BrazeTarget.alias(name: $0, label: BrazeTarget.visitorAliasLabel) }
        add(.delete, suffix: "delete_aliases", payload: .object(JSONObject([("user_aliases", .array(aliases))])))
    }

    /// Something was sent under the visitor's alias (so an alias profile exists in Braze).
    private(set) var targetedAlias = false
    /// The external ids something was sent to (so their profiles exist once it is answered).
    private(set) var targetedExternalIds = Set<String>()

    private mutating func note(_ target: BrazeTarget) {
        switch target {
        case .visitorAlias: targetedAlias = true
        case .externalId(let id): targetedExternalIds.insert(id)
        }
    }
}

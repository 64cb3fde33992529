/// The ordering keys (`BrazeOperation.userKey`) of catalog operations.
///
/// - `catalog:{name}` creates the catalog;
/// - `catalog:{name}:{item id}` upserts or deletes one item, so one item's changes stay in order.
///
/// The outbox treats the first as a barrier for the second: while a create operation of a catalog
/// waits in the outbox, no item operation of that catalog queued after it is deliverable. So items
/// never reach Braze before their catalog exists, whoever enqueued them (a webhook or `catalog sync`).
/// Catalog names and item ids only hold `[A-Za-z0-9_-]`, so `:` splits the key unambiguously.
public enum CatalogKey {
    static let prefix = "catalog:"

    /// The create operation's key.
    public static func catalog(_ name: String) -> String { prefix + name }

    /// An item operation's key.
    public static func item(_ name: String, _ itemId: String) -> String { prefix + name + ":" + itemId }

    /// The catalog and item of an item key; nil for other keys (including a create key).
    public static func parseItem(_ userKey: String) -> (catalog: String, itemId: String)? {
        guard userKey.hasPrefix(prefix) else { return nil }
        let rest = userKey.dropFirst(prefix.count)
        guard let colon = rest.firstIndex(of: ":") else { return nil }
        let name = rest[..<colon], id = rest[rest.index(after: colon)...]
        guard !name.isEmpty, !id.isEmpty else { return nil }
        return (String(name), String(id))
    }

    /// The create key that gates an item key (`catalog:{name}` for `catalog:{name}:{id}`); nil otherwise.
    static func barrier(of userKey: String) -> String? {
        parseItem(userKey).map { catalog($0.catalog) }
    }
}

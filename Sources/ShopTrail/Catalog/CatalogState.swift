/// What ShopTrail remembers about a shop's Braze catalog, kept in the processor's resource table
/// (`ProcessorState.saveResource`), so it changes in the same transaction as the outbox operations:
///
/// - `catalog_item:{name}` / item id: the last item sent (enqueued) to Braze; an update sends only
///   items that differ from it. Deleted items stay as tombstones.
/// - `catalog_product:{name}` / product id: the product's `updated_at` last applied (or its deletion
///   time) and its item ids, to delete variants that disappear and to ignore late deliveries.
/// - `catalog_inventory:{name}` / inventory item id: its item, and the latest `available` per location
///   with its `updated_at`, for `inventory_levels/update`.
struct CatalogState {
    let state: any ProcessorState
    let shop: String
    let catalog: String

    private var itemKind: String { "catalog_item:\(catalog)" }
    private var productKind: String { "catalog_product:\(catalog)" }
    private var inventoryKind: String { "catalog_inventory:\(catalog)" }

    /// A product as last applied.
    struct ProductRecord: Equatable {
        var version: EpochMillis
        var itemIds: [String]
        var deleted: Bool
    }

    /// An inventory item's locations.
    struct InventoryRecord: Equatable {
        struct Level: Equatable {
            var available: Int64
            var updatedAt: EpochMillis
        }
        var itemId: String
        var productId: String
        var variantId: String
        var levels: [String: Level] = [:]

        /// When the newest level was reported (nil: never).
        var latestLevelAt: EpochMillis? { levels.values.map(\.updatedAt).max() }
    }

    // MARK: items

    func item(_ id: String) throws -> CatalogItem? {
        guard let body = try state.resourceBody(shop: shop, kind: itemKind, id: id) else { return nil }
        return Self.decodeItem(id: id, body)
    }

    func save(_ item: CatalogItem, at: EpochMillis) throws {
        var members: [(key: String, value: JSONValue)] = [("fields", .object(item.fields))]
        if let inventory = item.inventoryItemId { members.append(("inventory_item_id", .string(inventory))) }
        try state.saveResource(shop: shop, kind: itemKind, id: item.id, updatedAt: at, body: JSONValue.object(JSONObject(members)).serialized, deleted: false)
    }

    func deleteItem(_ id: String, at: EpochMillis) throws {
        try state.saveResource(shop: shop, kind: itemKind, id: id, updatedAt: at, body: nil, deleted: true)
    }

    /// Every item the catalog holds (as far as ShopTrail sent it).
    func liveItems() throws -> [CatalogItem] {
        try state.resources(shop: shop, kind: itemKind).compactMap { row in row.body.flatMap { Self.decodeItem(id: row.id, $0) } }
    }

    static func decodeItem(id: String, _ body: String) -> CatalogItem? {
        guard let object = (try? JSONParser.parse(Array(body.utf8), maxDepth: 32))?.objectValue,
              let fields = object["fields"]?.objectValue,
              let productId = fields["shopify_product_id"]?.stringValue, let variantId = fields["shopify_variant_id"]?.stringValue
        else { return nil }
        return CatalogItem(id: id, productId: productId, variantId: variantId, inventoryItemId: object["inventory_item_id"]?.stringValue, fields: fields)
    }

    // MARK: products

    func product(_ id: String) throws -> ProductRecord? {
        guard let version = try state.resourceVersion(shop: shop, kind: productKind, id: id) else { return nil }
        guard let body = try state.resourceBody(shop: shop, kind: productKind, id: id) else {
            return ProductRecord(version: version, itemIds: [], deleted: true)
        }
        let ids = (try? JSONParser.parse(Array(body.utf8)))?.objectValue?["items"]?.arrayValue?.compactMap(\.stringValue) ?? []
        return ProductRecord(version: version, itemIds: ids, deleted: false)
    }

    func saveProduct(_ id: String, version: EpochMillis, itemIds: [String]) throws {
        let body = JSONValue.object(JSONObject([("items", .array(itemIds.map(JSONValue.string)))])).serialized
        try state.saveResource(shop: shop, kind: productKind, id: id, updatedAt: version, body: body, deleted: false)
    }

    /// Keeps the deletion time, so deliveries older than the deletion are ignored.
    func deleteProduct(_ id: String, at: EpochMillis) throws {
        try state.saveResource(shop: shop, kind: productKind, id: id, updatedAt: at, body: nil, deleted: true)
    }

    /// Products not deleted, with their versions.
    func liveProducts() throws -> [(id: String, version: EpochMillis)] {
        try state.resources(shop: shop, kind: productKind).map { ($0.id, $0.updatedAt) }
    }

    // MARK: inventory

    func inventory(_ inventoryItemId: String) throws -> InventoryRecord? {
        guard let body = try state.resourceBody(shop: shop, kind: inventoryKind, id: inventoryItemId),
              let object = (try? JSONParser.parse(Array(body.utf8), maxDepth: 32))?.objectValue,
              let itemId = object["item"]?.stringValue, let productId = object["product"]?.stringValue, let variantId = object["variant"]?.stringValue
        else { return nil }
        var record = InventoryRecord(itemId: itemId, productId: productId, variantId: variantId)
        for member in object["levels"]?.objectValue?.members ?? [] {
            guard let level = member.value.objectValue, let available = level["available"]?.idString.flatMap({ Int64($0) }),
                  let at = level["updated_at"]?.idString.flatMap({ Int64($0) }) else { continue }
            record.levels[member.key] = .init(available: available, updatedAt: at)
        }
        return record
    }

    func save(_ record: InventoryRecord, inventoryItemId: String) throws {
        let levels = record.levels.sorted { $0.key < $1.key }.map { key, level in
            (key: key, value: JSONValue.object(JSONObject([("available", .number(String(level.available))), ("updated_at", .number(String(level.updatedAt)))])))
        }
        let body = JSONValue.object(JSONObject([
            ("item", .string(record.itemId)), ("product", .string(record.productId)), ("variant", .string(record.variantId)),
            ("levels", .object(JSONObject(levels))),
        ])).serialized
        try state.saveResource(shop: shop, kind: inventoryKind, id: inventoryItemId, updatedAt: record.latestLevelAt ?? 0, body: body, deleted: false)
    }
}

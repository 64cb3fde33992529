import Logging

/// What catalog changes did, for logs, the sync summary and tests.
public struct CatalogCounts: Sendable, Equatable {
    public var products = 0
    public var variants = 0
    /// Items enqueued for `PUT /catalogs/{name}/items` (new or changed).
    public var upserted = 0
    /// Items identical to what was last sent: nothing enqueued.
    public var unchanged = 0
    /// Items enqueued for `DELETE /catalogs/{name}/items`.
    public var deleted = 0
    /// Variants without an item (no SKU in SKU mode, an id too long, an id collision).
    public var skipped = 0
    /// Items marked back in stock.
    public var backInStock = 0
    /// Deliveries older than what was applied: ignored.
    public var stale = 0

    public init() {}

    public static func += (lhs: inout CatalogCounts, rhs: CatalogCounts) {
        lhs.products += rhs.products
        lhs.variants += rhs.variants
        lhs.upserted += rhs.upserted
        lhs.unchanged += rhs.unchanged
        lhs.deleted += rhs.deleted
        lhs.skipped += rhs.skipped
        lhs.backInStock += rhs.backInStock
        lhs.stale += rhs.stale
    }
}

/// Applies Shopify product and inventory changes to a shop's catalog state and collects the Braze
/// operations they need: only items that differ from what was last sent, deletes for variants that
/// disappeared, and the catalog's create operation before its first item.
///
/// Shared by the webhook processor and `catalog sync`; runs inside the caller's transaction.
struct CatalogUpdater {
    let shop: ShopConfig
    let store: CatalogState
    let logger: Logger
    /// Prefix of the operation ids: the webhook delivery or the sync run (re-processing enqueues nothing new).
    let opIdBase: String
    let createdAt: EpochMillis
    /// Send every item even when unchanged (`catalog sync --force`).
    var force = false
    private(set) var operations: [BrazeOperation] = []
    private(set) var counts = CatalogCounts()

    init(shop: ShopConfig, state: any ProcessorState, logger: Logger, opIdBase: String, createdAt: EpochMillis) {
        self.shop = shop
        self.store = CatalogState(state: state, shop: shop.domain, catalog: shop.braze.catalog.name)
        self.logger = logger
        self.opIdBase = opIdBase
        self.createdAt = createdAt
    }

    private var catalog: String { shop.braze.catalog.name }

    // MARK: catalog

    /// Enqueues the create operation: always (`sync`), or only the first time (webhooks).
    /// Its key blocks the catalog's later item operations until Braze has answered it (`CatalogKey`).
    mutating func ensureCatalog(always: Bool) throws {
        let first = try store.state.markOnce(shop: shop.domain, key: "catalog_create:\(catalog)")
        guard first || always else { return }
        let id = always ? "\(opIdBase):catalog_create" : "catalog_create:\(catalog)"
        operations.append(BrazeOperation(id: id, shop: shop.domain, userKey: CatalogKey.catalog(catalog), kind: .catalogCreate,
                                         payload: CatalogSchema.createBody(name: catalog, shop: shop.domain).serialized, createdAt: createdAt))
    }

    // MARK: products

    /// Applies a product (create/update webhook or sync). `inventoryAsOf`: the time its inventory
    /// quantities are known to be current at (the product's `updated_at` for a webhook, the fetch time
    /// for a sync); newer `inventory_levels/update` values win. `keepMissing`: keep previously sent
    /// values of fields the source cannot give (GraphQL has no `published_scope`).
    /// Returns the item ids the product has in the catalog afterwards (the stored ones when the delivery
    /// is older than what was applied).
    @discardableResult
    mutating func apply(_ product: CatalogProduct, version fallback: EpochMillis, inventoryAsOf: EpochMillis, keepMissing: Bool) throws -> [String] {
        try ensureCatalog(always: false)
        let version = product.updatedAt ?? fallback
        let record = try store.product(product.productId)
        if let record, record.version > version {
            counts.stale += 1
            logger.debug("catalog: product delivery older than applied, ignored", metadata: ["shop": .string(shop.domain), "product": .string(product.productId)])
            return record.deleted ? [] : record.itemIds
        }
        counts.products += 1
        counts.variants += product.items.count + product.skipped.count
        for skip in product.skipped {
            counts.skipped += 1
            logger.info("catalog: variant has no item", metadata: ["shop": .string(shop.domain), "variant": .string(skip.variantId), "reason": .string(skip.reason)])
        }
        let previousIds = record.map { $0.deleted ? [] : $0.itemIds } ?? []
        var ids: [String] = []
        for item in product.items {
            guard !ids.contains(item.id) else {
                collision(item, with: "another variant of the same product")
                continue
            }
            let existing = try store.item(item.id)
            if let existing, existing.productId != product.productId,
               let owner = try store.product(existing.productId), !owner.deleted, owner.itemIds.contains(item.id) {
                collision(item, with: "variant \(existing.variantId) of product \(existing.productId)")
                continue
            }
            ids.append(item.id)
            let previous = existing.flatMap { $0.variantId == item.variantId ? $0 : nil }
            var updated = item
            if keepMissing, let previous {
                for field in ["published_scope"] where updated[field] == .null { updated = updated.setting(field, previous[field] ?? .null) }
            }
            if let inventoryId = item.inventoryItemId {
                var inventory = try store.inventory(inventoryId)
                    ?? CatalogState.InventoryRecord(itemId: item.id, productId: product.productId, variantId: item.variantId)
                // Locations reported after this payload's inventory was read are newer: keep their total.
                if let latest = inventory.latestLevelAt, latest > inventoryAsOf, inventory.variantId == item.variantId, let previous {
                    updated = updated.setting("inventory_quantity", previous["inventory_quantity"] ?? .null)
                }
                inventory.itemId = item.id
                inventory.productId = product.productId
                inventory.variantId = item.variantId
                try store.save(inventory, inventoryItemId: inventoryId)
            }
            try put(updated, previous: previous, changedAt: inventoryAsOf)
        }
        for gone in previousIds where !ids.contains(gone) {
            // Only if the item is still this product's (a SKU may have moved to another product).
            if let item = try store.item(gone), item.productId == product.productId { try delete(gone) }
        }
        try store.saveProduct(product.productId, version: version, itemIds: ids)
        return ids
    }

    /// `products/delete`: deletes the product's items; deliveries older than `at` are ignored afterwards.
    mutating func deleteProduct(_ productId: String, at: EpochMillis) throws {
        let record = try store.product(productId)
        if let record, record.version > at {
            counts.stale += 1
            return
        }
        counts.products += 1
        for id in record.map({ $0.deleted ? [] : $0.itemIds }) ?? [] {
            if let item = try store.item(id), item.productId == productId { try delete(id) }
        }
        try store.deleteProduct(productId, at: at)
    }

    /// After a full read: deletes every item not in `keepItems` and forgets every product not in
    /// `keepProducts`, unless a webhook applied it at or after `since` (while the sync was reading).
    mutating func deleteAllBut(items keepItems: Set<String>, products keepProducts: Set<String>, since: EpochMillis) throws {
        var recentProducts: [String: Bool] = [:]
        func isRecent(_ productId: String) throws -> Bool {
            if let known = recentProducts[productId] { return known }
            let recent = try store.product(productId).map { !$0.deleted && $0.version >= since } ?? false
            recentProducts[productId] = recent
            return recent
        }
        for item in try store.liveItems() where !keepItems.contains(item.id) {
            if try isRecent(item.productId) { continue }
            try delete(item.id)
        }
        for product in try store.liveProducts() where !keepProducts.contains(product.id) && product.version < since {
            try store.deleteProduct(product.id, at: since)
        }
    }

    // MARK: inventory

    /// `inventory_levels/update`: the variant's `inventory_quantity` becomes the sum of the latest
    /// `available` of every location reported for its inventory item (exact for single-location shops;
    /// for several locations once each has reported, product payloads and syncs carry the total meanwhile).
    mutating func inventory(inventoryItemId: String, locationId: String, available: Int64, updatedAt: EpochMillis) throws {
        guard var record = try store.inventory(inventoryItemId) else {
            logger.debug("catalog: inventory of an unknown variant ignored", metadata: ["shop": .string(shop.domain), "inventory_item": .string(inventoryItemId)])
            return
        }
        if let level = record.levels[locationId], level.updatedAt > updatedAt {
            counts.stale += 1
            return
        }
        record.levels[locationId] = .init(available: available, updatedAt: updatedAt)
        try store.save(record, inventoryItemId: inventoryItemId)
        guard let item = try store.item(record.itemId), item.variantId == record.variantId else { return }
        try ensureCatalog(always: false)
        let total = record.levels.values.reduce(Int64(0)) { $0 &+ $1.available }
        try put(item.setting("inventory_quantity", .number(String(total))), previous: item, changedAt: updatedAt)
    }

    // MARK: operations

    /// Enqueues the item unless it equals the last one sent; carries or sets `back_in_stock_at`.
    private mutating func put(_ item: CatalogItem, previous: CatalogItem?, changedAt: EpochMillis) throws {
        var item = item
        let before = previous?.inventoryQuantity, after = item.inventoryQuantity
        if let before, let after, before <= 0, after > 0 {
            item = item.setting("back_in_stock_at", .string(Timestamp.format(changedAt)))
            counts.backInStock += 1
            logger.notice("catalog: variant back in stock", metadata: [
                "shop": .string(shop.domain), "item": .string(item.id), "variant": .string(item.variantId), "inventory_quantity": "\(after)",
            ])
        } else if let previous {
            item = item.setting("back_in_stock_at", previous["back_in_stock_at"] ?? .null)
        }
        if !force, let previous, previous.fields == item.fields {
            counts.unchanged += 1
            return
        }
        operations.append(BrazeOperation(id: "\(opIdBase):catalog_put:\(item.id)", shop: shop.domain, userKey: CatalogKey.item(catalog, item.id),
                                         kind: .catalogUpsert, payload: JSONValue.object(item.fields).serialized, createdAt: createdAt))
        try store.save(item, at: createdAt)
        counts.upserted += 1
    }

    private mutating func delete(_ id: String) throws {
        operations.append(BrazeOperation(id: "\(opIdBase):catalog_delete:\(id)", shop: shop.domain, userKey: CatalogKey.item(catalog, id),
                                         kind: .catalogDelete, payload: JSONValue.object(JSONObject([("id", .string(id))])).serialized, createdAt: createdAt))
        try store.deleteItem(id, at: createdAt)
        counts.deleted += 1
    }

    private mutating func collision(_ item: CatalogItem, with other: String) {
        counts.skipped += 1
        logger.warning("catalog: item id already used, variant skipped", metadata: [
            "shop": .string(shop.domain), "item": .string(item.id), "variant": .string(item.variantId), "used_by": .string(other),
        ])
    }
}

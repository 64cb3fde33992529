extension ShopifyWebhookProcessor {
    /// The catalog side of `products/create|update|delete` and `inventory_levels/update`, when the
    /// shop's `braze.catalog.enabled`: changed items are upserted, variants that disappeared and deleted
    /// products are deleted, inventory levels update `inventory_quantity` (and `back_in_stock_at`).
    /// Operation ids derive from the delivery, so processing it again enqueues nothing new.
    func catalog(_ topic: String, _ body: JSONObject, logged: LoggedEvent, shop: ShopConfig, state: any ProcessorState) throws {
        guard shop.braze.catalog.enabled else { return }
        let event = logged.event
        var updater = CatalogUpdater(shop: shop, state: state, logger: logger, opIdBase: "\(event.source.rawValue):\(event.eventId)", createdAt: event.receivedAt)
        switch topic {
        case "products/create", "products/update":
            guard let product = CatalogItemMapper(shopDomain: shop.domain, itemIdMode: shop.braze.catalog.itemId).fromWebhook(body) else { return }
            // A payload's inventory is at least as fresh as its updated_at.
            try updater.apply(product, version: event.time, inventoryAsOf: product.updatedAt ?? event.time, keepMissing: false)
        case "products/delete":
            guard let id = body["id"]?.idString else { return }
            try updater.deleteProduct(id, at: event.time)
        case "inventory_levels/update":
            guard let inventoryItem = body["inventory_item_id"]?.idString, let location = body["location_id"]?.idString else { return }
            // null: the item is no longer stocked at that location.
            let available: Int64
            switch body["available"] {
            case .null?: available = 0
            case let value?: guard let number = value.idString.flatMap({ Int64($0) }) else { return }; available = number
            case nil: return
            }
            let updated = body["updated_at"]?.stringValue.flatMap(Timestamp.parse) ?? event.time
            try updater.inventory(inventoryItemId: inventoryItem, locationId: location, available: available, updatedAt: updated)
        default:
            return
        }
        try state.enqueue(updater.operations)
    }
}

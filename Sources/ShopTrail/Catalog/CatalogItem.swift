/// One Braze catalog item: one Shopify variant with the fields of Braze's Shopify catalog.
///
/// Field types (decided here; Braze's docs list the names only):
/// - `id`, `store_name`, the two Shopify ids, titles, `status`, URLs, `vendor`, `product_type`,
///   `product_handle`, `published_scope`, `sku`: strings. The Shopify ids are strings because
///   Braze numbers are doubles and Shopify ids exceed 2^53.
/// - `price`, `compare_at_price`: numbers (Shopify's decimal text, digits kept as sent, e.g. `49.90`).
/// - `inventory_quantity`: a number (may be 0 or negative).
/// - `options`: array of the product's option names; `option_values`: array of this variant's values,
///   in option order.
/// - `back_in_stock_at`: time, set when the quantity goes from 0 or less to more than 0 (ShopTrail's
///   addition; not in Braze's list).
///
/// Missing values are JSON null (a `PUT` replaces the whole item, so a null clears a stale value).
public struct CatalogItem: Sendable, Equatable {
    /// The Braze item id: the variant id, or the SKU restricted to `[A-Za-z0-9_-]` (`CatalogItemIds`).
    public var id: String
    public var productId: String
    public var variantId: String
    /// Links `inventory_levels/update` deliveries to this item; nil when unknown.
    public var inventoryItemId: String?
    /// Every field in `CatalogSchema.fields` order, `id` first.
    public var fields: JSONObject

    public init(id: String, productId: String, variantId: String, inventoryItemId: String?, fields: JSONObject) {
        self.id = id
        self.productId = productId
        self.variantId = variantId
        self.inventoryItemId = inventoryItemId
        self.fields = fields
    }

    public subscript(field: String) -> JSONValue? { fields[field] }

    /// The inventory quantity as a number, nil when unknown.
    public var inventoryQuantity: Double? { fields["inventory_quantity"]?.doubleValue }

    /// This item with one field replaced (or added at the end when absent).
    public func setting(_ field: String, _ value: JSONValue) -> CatalogItem {
        var copy = self
        if let index = copy.fields.members.firstIndex(where: { $0.key == field }) {
            copy.fields.members[index].value = value
        } else {
            copy.fields.members.append((key: field, value: value))
        }
        return copy
    }
}

/// The catalog's fields and their Braze types, `id` first (as Braze requires).
public enum CatalogSchema {
    public static let fields: [(name: String, type: String)] = [
        ("id", "string"),
        ("store_name", "string"),
        ("shopify_product_id", "string"),
        ("shopify_variant_id", "string"),
        ("product_title", "string"),
        ("variant_title", "string"),
        ("status", "string"),
        ("product_image_url", "string"),
        ("variant_image_url", "string"),
        ("vendor", "string"),
        ("product_type", "string"),
        ("product_url", "string"),
        ("product_handle", "string"),
        ("published_scope", "string"),
        ("price", "number"),
        ("compare_at_price", "number"),
        ("inventory_quantity", "number"),
        ("options", "array"),
        ("option_values", "array"),
        ("sku", "string"),
        ("back_in_stock_at", "time"),
    ]

    /// The `POST /catalogs` body creating the catalog `name` for `shop`.
    public static func createBody(name: String, shop: String) -> JSONValue {
        .object(JSONObject([
            ("catalogs", .array([.object(JSONObject([
                ("name", .string(name)),
                ("description", .string(String("Shopify variants of \(shop), synced by ShopTrail".prefix(250)))),
                ("fields", .array(fields.map { .object(JSONObject([("name", .string($0.name)), ("type", .string($0.type))])) })),
            ]))])),
        ]))
    }
}

/// Braze catalog item ids: letters, digits, `_` and `-`, at most 250 characters.
public enum CatalogItemIds {
    public static let maxLength = 250

    /// Why a variant has no catalog item.
    public enum Skip: Error, Equatable, CustomStringConvertible {
        case noSKU
        case tooLong(Int)
        case invalidVariantId

        public var description: String {
            switch self {
            case .noSKU: "no SKU (catalog.item_id is sku)"
            case .tooLong(let count): "id of \(count) characters (Braze allows \(CatalogItemIds.maxLength))"
            case .invalidVariantId: "variant id is not usable as an item id"
            }
        }
    }

    public static func isAllowed(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A, 0x2D, 0x5F: true
        default: false
        }
    }

    /// The item id of a variant: its id, or its SKU with every other character replaced by `_`.
    ///
    /// Replacing rather than skipping keeps such variants in the catalog (a SKU like `AB/12.3` becomes
    /// `AB_12_3`, still recognisable); two SKUs that become the same id are a collision, which the
    /// updater detects and reports (the later variant is skipped). Surrounding spaces are trimmed; an empty
    /// SKU, or an id longer than 250 characters, gives no item.
    public static func itemId(variantId: String, sku: String?, mode: CatalogItemId) -> Result<String, Skip> {
        switch mode {
        case .variantId:
            guard !variantId.isEmpty, variantId.unicodeScalars.allSatisfy(isAllowed) else { return .failure(.invalidVariantId) }
            return variantId.count <= maxLength ? .success(variantId) : .failure(.tooLong(variantId.count))
        case .sku:
            let trimmed = (sku ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            guard !trimmed.isEmpty else { return .failure(.noSKU) }
            var id = String.UnicodeScalarView()
            for scalar in trimmed.unicodeScalars { id.append(isAllowed(scalar) ? scalar : "_") }
            let text = String(id)
            return text.count <= maxLength ? .success(text) : .failure(.tooLong(text.count))
        }
    }
}

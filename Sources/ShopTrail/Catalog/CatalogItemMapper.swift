import Foundation

/// A Shopify product mapped to catalog items, with the variants that got none.
public struct CatalogProduct: Sendable, Equatable {
    public var productId: String
    /// The product's `updated_at` (nil when the payload has none).
    public var updatedAt: EpochMillis?
    public var items: [CatalogItem]
    /// Variants without an item, and why.
    public var skipped: [(variantId: String, reason: String)]

    public static func == (lhs: CatalogProduct, rhs: CatalogProduct) -> Bool {
        lhs.productId == rhs.productId && lhs.updatedAt == rhs.updatedAt && lhs.items == rhs.items
            && lhs.skipped.map { "\($0.variantId):\($0.reason)" } == rhs.skipped.map { "\($0.variantId):\($0.reason)" }
    }
}

/// Maps Shopify products to Braze catalog items, one per variant, from either source:
/// the REST payload of `products/create|update` webhooks, or an Admin GraphQL `Product` node.
///
/// Both sources give the same item for the same product, so a sync after a webhook (or the reverse)
/// sends nothing when nothing changed. Where a source lacks a field the other has
/// (GraphQL has no `published_scope`), the caller keeps the last value sent (`CatalogUpdater`).
public struct CatalogItemMapper: Sendable {
    /// The shop's myshopify domain: `store_name` and the host of `product_url`.
    public var shopDomain: String
    public var itemIdMode: CatalogItemId

    public init(shopDomain: String, itemIdMode: CatalogItemId) {
        self.shopDomain = shopDomain
        self.itemIdMode = itemIdMode
    }

    /// The GraphQL selection `fromGraphQL` reads (a `Product` node); variants are a nested connection.
    public static let graphQLProductFields = """
        id title handle vendor productType status updatedAt
        featuredImage { url }
        options { name }
        variants(first: 100) { pageInfo { hasNextPage endCursor } nodes { \(graphQLVariantFields) } }
        """

    /// The GraphQL selection of a `ProductVariant` node.
    public static let graphQLVariantFields = "id title sku price compareAtPrice inventoryQuantity image { url } selectedOptions { name value } inventoryItem { id }"

    // MARK: REST webhook payload

    /// Items of a `products/create|update` payload; nil when it has no product id.
    public func fromWebhook(_ body: JSONObject) -> CatalogProduct? {
        guard let productId = body["id"]?.idString else { return nil }
        let images = body["images"]?.arrayValue?.compactMap(\.objectValue) ?? []
        let productImage = Self.text(body["image"]?.objectValue?["src"]) ?? images.first.flatMap { Self.text($0["src"]) }
        let optionNames = (body["options"]?.arrayValue ?? []).compactMap { $0.objectValue.flatMap { Self.text($0["name"]) } }
        let product = ProductFields(
            productId: productId, title: Self.text(body["title"]), handle: Self.text(body["handle"]), vendor: Self.text(body["vendor"]),
            productType: Self.text(body["product_type"]), status: Self.text(body["status"])?.lowercased(),
            publishedScope: Self.text(body["published_scope"]), imageURL: productImage, optionNames: optionNames)
        var items: [CatalogItem] = []
        var skipped: [(String, String)] = []
        for case .object(let variant) in body["variants"]?.arrayValue ?? [] {
            guard let variantId = variant["id"]?.idString else { continue }
            let imageId = variant["image_id"]?.idString
            let variantImage = imageId.flatMap { id in images.first { $0["id"]?.idString == id } }.flatMap { Self.text($0["src"]) }
            let values = ["option1", "option2", "option3"].compactMap { Self.text(variant[$0]) }
            let fields = VariantFields(
                variantId: variantId, title: Self.text(variant["title"]), sku: Self.text(variant["sku"]),
                price: Self.number(variant["price"]), compareAtPrice: Self.number(variant["compare_at_price"]),
                inventoryQuantity: Self.integer(variant["inventory_quantity"]), imageURL: variantImage, optionValues: values,
                inventoryItemId: variant["inventory_item_id"]?.idString)
            switch item(product, fields) {
            case .success(let item): items.append(item)
            case .failure(let skip): skipped.append((variantId, skip.description))
            }
        }
        let updated = Self.text(body["updated_at"]).flatMap(Timestamp.parse)
        return CatalogProduct(productId: productId, updatedAt: updated, items: items, skipped: skipped)
    }

    // MARK: GraphQL node

    /// Items of a GraphQL `Product` node selected with `graphQLProductFields` (plus any extra variant
    /// nodes read from later pages of its `variants` connection); nil when it has no id.
    public func fromGraphQL(_ node: JSONObject, extraVariants: [JSONValue] = []) -> CatalogProduct? {
        guard let productId = Self.legacyId(node["id"]) else { return nil }
        let optionNames = (node["options"]?.arrayValue ?? []).compactMap { $0.objectValue.flatMap { Self.text($0["name"]) } }
        let product = ProductFields(
            productId: productId, title: Self.text(node["title"]), handle: Self.text(node["handle"]), vendor: Self.text(node["vendor"]),
            productType: Self.text(node["productType"]), status: Self.text(node["status"])?.lowercased(),
            publishedScope: nil, imageURL: Self.text(node["featuredImage"]?.objectValue?["url"]), optionNames: optionNames)
        let connection = node["variants"]?.objectValue
        let variantNodes = (connection?["nodes"]?.arrayValue ?? connection?["edges"]?.arrayValue?.compactMap { $0.objectValue?["node"] } ?? []) + extraVariants
        var items: [CatalogItem] = []
        var skipped: [(String, String)] = []
        for case .object(let variant) in variantNodes {
            guard let variantId = Self.legacyId(variant["id"]) else { continue }
            // Values in the product's option order (selectedOptions follows it already; be explicit anyway).
            let selected = (variant["selectedOptions"]?.arrayValue ?? []).compactMap { $0.objectValue }
            var values: [String] = []
            for name in optionNames {
                if let value = selected.first(where: { Self.text($0["name"]) == name }).flatMap({ Self.text($0["value"]) }) { values.append(value) }
            }
            if values.isEmpty { values = selected.compactMap { Self.text($0["value"]) } }
            let fields = VariantFields(
                variantId: variantId, title: Self.text(variant["title"]), sku: Self.text(variant["sku"]),
                price: Self.number(Self.money(variant["price"])), compareAtPrice: Self.number(Self.money(variant["compareAtPrice"])),
                inventoryQuantity: Self.integer(variant["inventoryQuantity"]), imageURL: Self.text(variant["image"]?.objectValue?["url"]),
                optionValues: values, inventoryItemId: Self.legacyId(variant["inventoryItem"]?.objectValue?["id"]))
            switch item(product, fields) {
            case .success(let item): items.append(item)
            case .failure(let skip): skipped.append((variantId, skip.description))
            }
        }
        let updated = Self.text(node["updatedAt"]).flatMap(Timestamp.parse)
        return CatalogProduct(productId: productId, updatedAt: updated, items: items, skipped: skipped)
    }

    // MARK: common

    private struct ProductFields {
        var productId: String
        var title, handle, vendor, productType, status, publishedScope, imageURL: String?
        var optionNames: [String]
    }

    private struct VariantFields {
        var variantId: String
        var title, sku: String?
        var price, compareAtPrice, inventoryQuantity: JSONValue
        var imageURL: String?
        var optionValues: [String]
        var inventoryItemId: String?
    }

    private func item(_ product: ProductFields, _ variant: VariantFields) -> Result<CatalogItem, CatalogItemIds.Skip> {
        let id: String
        switch CatalogItemIds.itemId(variantId: variant.variantId, sku: variant.sku, mode: itemIdMode) {
        case .success(let value): id = value
        case .failure(let skip): return .failure(skip)
        }
        func string(_ value: String?) -> JSONValue { value.map(JSONValue.string) ?? .null }
        let fields = JSONObject([
            ("id", .string(id)),
            ("store_name", .string(shopDomain)),
            ("shopify_product_id", .string(product.productId)),
            ("shopify_variant_id", .string(variant.variantId)),
            ("product_title", string(product.title)),
            ("variant_title", string(variant.title)),
            ("status", string(product.status)),
            ("product_image_url", string(product.imageURL)),
            // A variant without its own image shows the product's.
            ("variant_image_url", string(variant.imageURL ?? product.imageURL)),
            ("vendor", string(product.vendor)),
            ("product_type", string(product.productType)),
            ("product_url", product.handle.map { .string("https://\(shopDomain)/products/\($0)") } ?? .null),
            ("product_handle", string(product.handle)),
            ("published_scope", string(product.publishedScope)),
            ("price", variant.price),
            ("compare_at_price", variant.compareAtPrice),
            ("inventory_quantity", variant.inventoryQuantity),
            ("options", .array(product.optionNames.map(JSONValue.string))),
            ("option_values", .array(variant.optionValues.map(JSONValue.string))),
            ("sku", string(variant.sku)),
            ("back_in_stock_at", .null),
        ])
        return .success(CatalogItem(id: id, productId: product.productId, variantId: variant.variantId, inventoryItemId: variant.inventoryItemId, fields: fields))
    }

    /// A non-empty string, else nil.
    static func text(_ value: JSONValue?) -> String? {
        guard case .string(let text)? = value, !text.isEmpty else { return nil }
        return text
    }

    /// The numeric id of a GraphQL global id (`gid://shopify/ProductVariant/123` → `123`), or a plain id.
    static func legacyId(_ value: JSONValue?) -> String? {
        guard let raw = value?.idString, !raw.isEmpty else { return nil }
        guard raw.hasPrefix("gid://") else { return raw }
        let path = raw.split(separator: "?", maxSplits: 1).first.map(String.init) ?? raw
        guard let last = path.split(separator: "/").last, !last.isEmpty else { return nil }
        return String(last)
    }

    /// A GraphQL money value: the `Money` scalar (a decimal string) or a `MoneyV2` object's `amount`.
    static func money(_ value: JSONValue?) -> JSONValue? {
        if case .object(let object)? = value { return object["amount"] }
        return value
    }

    /// A decimal given as a string or a number, as a JSON number with its digits kept; null otherwise.
    static func number(_ value: JSONValue?) -> JSONValue {
        let text: String
        switch value {
        case .number(let n)?: text = n
        case .string(let s)?: text = s.trimmingCharacters(in: .whitespaces)
        default: return .null
        }
        return isDecimal(text) ? .number(text) : .null
    }

    /// An integer given as a number or a string; null otherwise.
    static func integer(_ value: JSONValue?) -> JSONValue {
        switch value {
        case .number(let n)? where Int64(n) != nil: return .number(n)
        case .string(let s)? where Int64(s) != nil: return .number(String(Int64(s) ?? 0))
        default: return .null
        }
    }

    /// `-?digits(.digits)?` with no leading zeros: a valid JSON number Braze takes as is.
    static func isDecimal(_ text: String) -> Bool {
        var bytes = Substring(text).utf8[...]
        if bytes.first == UInt8(ascii: "-") { bytes = bytes.dropFirst() }
        let integer = bytes.prefix { $0 >= 48 && $0 <= 57 }
        guard !integer.isEmpty, integer.count == 1 || integer.first != 48 else { return false }
        let rest = bytes.dropFirst(integer.count)
        if rest.isEmpty { return true }
        guard rest.first == UInt8(ascii: ".") else { return false }
        let fraction = rest.dropFirst()
        return !fraction.isEmpty && fraction.allSatisfy { $0 >= 48 && $0 <= 57 }
    }
}

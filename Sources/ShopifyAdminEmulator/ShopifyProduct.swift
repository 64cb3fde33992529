import Foundation

/// `ProductStatus`.
public enum ShopifyProductStatus: String, Sendable, Hashable, CaseIterable, Codable {
    case active = "ACTIVE"
    case draft = "DRAFT"
    case archived = "ARCHIVED"
}

/// A product option and its values, e.g. Size: S, M, L.
public struct ShopifyProductOption: Sendable, Hashable, Codable {
    public var name: String
    public var values: [String]

    public init(name: String, values: [String]) {
        self.name = name
        self.values = values
    }
}

/// One `SelectedOption` of a variant.
public struct ShopifySelectedOption: Sendable, Hashable, Codable {
    public var name: String
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// A generated product variant: the unit a Braze catalog item is keyed by.
public struct ShopifyVariant: Sendable, Hashable, Codable {
    public var id: Int64
    public var productId: Int64
    /// "Default Title" for a product's only variant, else the option values joined by " / ".
    public var title: String
    /// nil for some variants; a few contain '/' or '.', which Braze does not accept as catalog item ids.
    public var sku: String?
    public var price: ShopifyMoney
    public var compareAtPrice: ShopifyMoney?
    /// Some are 0 and a few negative (oversold), as Shopify allows.
    public var inventoryQuantity: Int
    public var imageURL: String?
    public var selectedOptions: [ShopifySelectedOption]
    /// Distinct from every variant id; `inventory_levels/update` webhooks carry this id.
    public var inventoryItemId: Int64
    /// 1-based position within the product.
    public var position: Int
    public var createdAt: Date
    public var updatedAt: Date

    public var gid: String { "gid://shopify/ProductVariant/\(id)" }
    public var inventoryItemGid: String { "gid://shopify/InventoryItem/\(inventoryItemId)" }
}

/// A generated product with its variants.
public struct ShopifyProduct: Sendable, Hashable, Codable {
    public var id: Int64
    public var title: String
    /// Unique slug.
    public var handle: String
    public var vendor: String
    public var productType: String
    public var status: ShopifyProductStatus
    public var tags: [String]
    public var createdAt: Date
    public var updatedAt: Date
    /// Set for ACTIVE products.
    public var publishedAt: Date?
    /// `https://{shopDomain}/products/{handle}` for ACTIVE products, nil otherwise.
    public var onlineStoreUrl: String?
    public var featuredImageURL: String?
    public var options: [ShopifyProductOption]
    public var variants: [ShopifyVariant]

    public var gid: String { "gid://shopify/Product/\(id)" }
    /// Sum of the variants' inventory, as `totalInventory`.
    public var totalInventory: Int { variants.reduce(0) { $0 + $1.inventoryQuantity } }
}

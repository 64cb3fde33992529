import Foundation

/// Turns storefront event properties into the properties of Braze's events: the `ecommerce.*`
/// recommended events with exactly their required and optional fields and types, or the names and
/// shapes of Braze's legacy Shopify connector.
///
/// Storefront amounts are Shopify's integer minor units (`product.price`, `/cart.js`); Braze's
/// ecommerce events take decimals in the shop currency, the legacy ones the integers.
struct EcommerceMapper {
    var naming: EventNaming
    /// `https://{storefront}`: Braze's `source` property.
    var source: String
    var shopDomain: String

    /// `ecommerce.product_viewed` or `shopify_product_viewed` for a product page view.
    func productViewed(_ p: JSONObject) -> (name: String, properties: JSONObject)? {
        guard let productId = (p["product_id"] ?? p["id"])?.idString, let title = (p["product_name"] ?? p["title"])?.stringValue else { return nil }
        let cents = p["price"]?.doubleValue
        switch naming {
        case .ecommerce:
            guard let variantId = p["variant_id"]?.idString, let cents, let currency = p["currency"]?.stringValue else { return nil }
            var out: [(String, JSONValue)] = [
                ("product_id", .string(productId)), ("product_name", .string(title)), ("variant_id", .string(variantId)),
                ("price", Self.decimal(cents)), ("currency", .string(currency)), ("source", .string(source)),
            ]
            if let image = (p["image_url"] ?? p["image"])?.stringValue { out.append(("image_url", .string(absolute(image)))) }
            if let url = (p["product_url"] ?? p["url"])?.stringValue { out.append(("product_url", .string(absolute(url)))) }
            var metadata: [(String, JSONValue)] = []
            if let sku = p["sku"]?.stringValue, !sku.isEmpty { metadata.append(("sku", .string(sku))) }
            if let vendor = p["vendor"]?.stringValue, !vendor.isEmpty { metadata.append(("vendor", .string(vendor))) }
            if let type = p["type"]?.stringValue, !type.isEmpty { metadata.append(("product_type", .string(type))) }
            if !metadata.isEmpty { out.append(("metadata", .object(JSONObject(metadata.map { (key: $0.0, value: $0.1) })))) }
            return ("ecommerce.product_viewed", JSONObject(out.map { (key: $0.0, value: $0.1) }))
        case .legacy:
            var out: [(String, JSONValue)] = [("id", .string(productId)), ("title", .string(title))]
            if let cents = p["price"]?.minorUnits { out.append(("price", .number(String(cents)))) }
            if let vendor = p["vendor"]?.stringValue { out.append(("vendor", .string(vendor))) }
            if let image = (p["image_url"] ?? p["image"])?.stringValue { out.append(("images", .array([.string(absolute(image))]))) }
            out.append(("shopify_storefront", .string(shopDomain)))
            return ("shopify_product_viewed", JSONObject(out.map { (key: $0.0, value: $0.1) }))
        }
    }

    /// `ecommerce.cart_updated` for a whole-cart snapshot (nil for an empty cart: Braze refuses those; none in legacy naming).
    func cartUpdated(_ p: JSONObject) -> (name: String, properties: JSONObject, signature: String)? {
        // The token as every other path keys the cart (without Shopify's `?key=…`), so Braze's cart_id
        // matches the checkout's and the order's cart token whichever client sent the beacon.
        guard naming == .ecommerce, let token = CartSnapshot.token(p["cart_token"]),
              let currency = p["currency"]?.stringValue, let items = p["items"]?.arrayValue else { return nil }
        var products: [JSONValue] = []
        var signature: [String] = []
        for item in items {
            guard let line = item.objectValue, let productId = line["product_id"]?.idString, let variantId = line["variant_id"]?.idString,
                  let quantity = line["quantity"]?.quantityValue, quantity > 0 else { continue }
            let name = (line["product_title"] ?? line["title"] ?? line["product_name"])?.stringValue ?? productId
            let unit = (line["final_price"] ?? line["price"])?.doubleValue ?? 0
            var product: [(String, JSONValue)] = [
                ("product_id", .string(productId)), ("product_name", .string(name)), ("variant_id", .string(variantId)),
                ("quantity", .number(String(quantity))), ("price", Self.decimal(unit)),
            ]
            if let image = (line["image"] ?? line["image_url"])?.stringValue { product.append(("image_url", .string(absolute(image)))) }
            if let url = (line["url"] ?? line["product_url"])?.stringValue { product.append(("product_url", .string(absolute(url)))) }
            if let sku = line["sku"]?.stringValue, !sku.isEmpty { product.append(("metadata", .object(JSONObject([("sku", .string(sku))])))) }
            products.append(.object(JSONObject(product.map { (key: $0.0, value: $0.1) })))
            signature.append("\(variantId)*\(quantity)*\(Int64(unit.rounded()))")
        }
        guard !products.isEmpty else { return nil }
        let total = p["total_price"]?.doubleValue ?? 0
        let properties = JSONObject([
            ("cart_id", .string(token)), ("total_value", Self.decimal(total)), ("currency", .string(currency)),
            ("products", .array(products)), ("source", .string(source)),
            ("metadata", .object(JSONObject([("cart_url", .string("https://\(shopDomain)/cart"))]))),
        ])
        return ("ecommerce.cart_updated", properties, signature.sorted().joined(separator: ","))
    }

    /// Minor units to a decimal with two places, as Braze's examples give prices.
    static func decimal(_ minorUnits: Double) -> JSONValue {
        OrderMapper.decimal(minorUnits.rounded() / 100)
    }

    /// `//cdn…` and `/products/x` made absolute, as Braze messages need.
    func absolute(_ url: String) -> String { Self.absolute(url, source: source) }

    /// `url` made absolute against `source` (`https://{storefront}`).
    static func absolute(_ url: String, source: String) -> String {
        if url.hasPrefix("//") { return "https:" + url }
        if url.hasPrefix("/") { return source + url }
        return url
    }

    /// Lines of a checkout in either shape (`checkouts/*` REST payload, or the pixel's `checkout`), with decimal prices.
    static func checkoutLines(_ checkout: JSONObject, fallback: JSONObject) -> [JSONObject] {
        var lines: [JSONObject] = []
        for item in (checkout["line_items"] ?? checkout["lineItems"] ?? fallback["items"])?.arrayValue ?? [] {
            guard let line = item.objectValue else { continue }
            let variant = line["variant"]?.objectValue
            let product = variant?["product"]?.objectValue
            guard let variantId = (variant?["id"] ?? line["variant_id"])?.idString,
                  let quantity = JSONValue.quantity(line["quantity"], ifAbsent: 1) else { continue }
            var out: [(key: String, value: JSONValue)] = []
            if let productId = (product?["id"] ?? line["product_id"])?.idString { out.append(("product_id", .string(productId))) }
            if let name = (product?["title"] ?? line["title"])?.stringValue { out.append(("product_name", .string(name))) }
            out.append(("variant_id", .string(variantId)))
            if let title = (variant?["title"] ?? line["variant_title"])?.stringValue { out.append(("variant_title", .string(title))) }
            out.append(("quantity", .number(String(quantity))))
            if let price = (variant?["price"]?.objectValue?["amount"] ?? line["price"])?.doubleValue { out.append(("price", .number(String(price)))) }
            if let sku = (variant?["sku"] ?? line["sku"])?.stringValue, !sku.isEmpty { out.append(("sku", .string(sku))) }
            if let vendor = (product?["vendor"] ?? line["vendor"])?.stringValue { out.append(("vendor", .string(vendor))) }
            if let image = (variant?["image"]?.objectValue?["src"] ?? line["image_url"])?.stringValue { out.append(("image_url", .string(image))) }
            lines.append(JSONObject(out))
        }
        return lines
    }

    /// A checkout's total in either shape.
    static func checkoutTotal(_ body: JSONObject) -> Double? {
        let checkout = body["checkout"]?.objectValue ?? body
        return (checkout["total_price"]?.objectValue?["amount"] ?? checkout["totalPrice"]?.objectValue?["amount"] ?? checkout["total_price"] ?? body["total_price"])?.doubleValue
    }
}

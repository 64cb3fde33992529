import Foundation

/// Builds the one Braze event an abandonment sends: everything a message needs, so a Canvas is
/// "trigger → send". Prices are decimals in the shop currency, URLs absolute; in legacy naming the
/// cart and checkout events take the names and properties of Braze's ScriptTag connector (integer
/// minor units in cart lines, `total_price` as a string in checkouts) plus the restore URL.
struct AbandonmentEvent {
    var shop: ShopConfig
    var timer: AbandonmentTimer

    private var naming: EventNaming { shop.braze.events }
    private var storefront: String { "https://\(shop.domain)" }

    /// The event's properties, or nil when the stored detail holds nothing to send.
    func properties() -> JSONObject? {
        guard let detail = try? JSONParser.parse(Array(timer.detail.utf8)) else { return nil }
        switch timer.kind {
        case .browse: return detail.arrayValue.flatMap(browse)
        case .cart: return detail.objectValue.flatMap(cart)
        case .checkout: return detail.objectValue.flatMap(checkout)
        }
    }

    /// The cart's or checkout's value in the shop currency, for the minimum-value rule.
    func value() -> Double? {
        guard let detail = (try? JSONParser.parse(Array(timer.detail.utf8)))?.objectValue else { return nil }
        switch timer.kind {
        case .browse: return nil
        case .cart: return detail["total_price"]?.doubleValue.map { $0 / 100 }
        case .checkout: return EcommerceMapper.checkoutTotal(detail)
        }
    }

    /// `https://{shop}/cart/{variant_id}:{quantity},…`: Shopify's cart permalink re-creates the cart.
    static func restoreURL(shop: String, lines: [(variantId: String, quantity: Int)]) -> String? {
        var quantities: [(String, Int)] = []
        for line in lines where line.quantity > 0 {
            if let index = quantities.firstIndex(where: { $0.0 == line.variantId }) { quantities[index].1 += line.quantity } else {
                quantities.append((line.variantId, line.quantity))
            }
        }
        guard !quantities.isEmpty else { return nil }
        return "https://\(shop)/cart/" + quantities.map { "\($0.0):\($0.1)" }.joined(separator: ",")
    }

    // MARK: Kinds

    private func browse(_ viewed: [JSONValue]) -> JSONObject? {
        let products = viewed.compactMap(\.objectValue).prefix(shop.abandonment.browseProductLimit)
        guard let latest = products.first else { return nil }
        var out: [(key: String, value: JSONValue)] = [("products", .array(products.map(JSONValue.object))), ("product_count", .number(String(products.count)))]
        // The latest product at the top level too, for the simplest templates (`{{event_properties.${product_name}}}`).
        for key in ["product_id", "product_name", "variant_id", "price", "currency", "image_url", "product_url"] {
            if let value = latest[key] { out.append((key, value)) }
        }
        if let viewedAt = latest["viewed_at"] { out.append(("last_viewed_at", viewedAt)) }
        out.append(("source", .string(storefront)))
        return JSONObject(out)
    }

    private func cart(_ cart: JSONObject) -> JSONObject? {
        let items = (cart["items"]?.arrayValue ?? []).compactMap(\.objectValue).filter { ($0["quantity"]?.quantityValue ?? 0) > 0 }
        // The timer's subject is the token without Shopify's `?key=` suffix.
        guard !items.isEmpty else { return nil }
        let token = timer.subject
        let currency = cart["currency"]?.stringValue
        let lines = items.compactMap { item -> (variantId: String, quantity: Int)? in
            guard let variant = item["variant_id"]?.idString else { return nil }
            return (variant, item["quantity"]?.quantityValue ?? 0)
        }
        let restore = Self.restoreURL(shop: shop.domain, lines: lines)
        var out: [(key: String, value: JSONValue)] = [("cart_id", .string(token))]
        switch naming {
        case .ecommerce:
            let products = items.map { item -> JSONValue in
                var product: [(key: String, value: JSONValue)] = []
                add(&product, "product_id", item["product_id"]?.idString.map(JSONValue.string))
                add(&product, "product_name", (item["product_title"] ?? item["title"])?.stringValue.map(JSONValue.string))
                add(&product, "variant_id", item["variant_id"]?.idString.map(JSONValue.string))
                add(&product, "variant_title", item["variant_title"]?.stringValue.map(JSONValue.string))
                add(&product, "quantity", item["quantity"]?.quantityValue.map { .number(String($0)) })
                add(&product, "price", (item["final_price"] ?? item["price"])?.doubleValue.map(EcommerceMapper.decimal))
                add(&product, "image_url", (item["image"] ?? item["image_url"])?.stringValue.map { .string(absolute($0)) })
                add(&product, "product_url", (item["url"] ?? item["product_url"])?.stringValue.map { .string(absolute($0)) })
                add(&product, "sku", item["sku"]?.stringValue.flatMap { $0.isEmpty ? nil : .string($0) })
                return .object(JSONObject(product))
            }
            out.append(("products", .array(products)))
            add(&out, "total_value", cart["total_price"]?.doubleValue.map(EcommerceMapper.decimal))
            add(&out, "currency", currency.map(JSONValue.string))
            out.append(("item_count", .number(String(lines.reduce(0) { $0 + $1.quantity }))))
        case .legacy:
            let lineItems = items.map { item -> JSONValue in
                var line: [(key: String, value: JSONValue)] = []
                add(&line, "product_id", item["product_id"]?.idString.map(JSONValue.string))
                add(&line, "variant_id", item["variant_id"]?.idString.map(JSONValue.string))
                add(&line, "quantity", item["quantity"]?.quantityValue.map { .number(String($0)) })
                add(&line, "sku", item["sku"]?.stringValue.map(JSONValue.string))
                add(&line, "title", (item["product_title"] ?? item["title"])?.stringValue.map(JSONValue.string))
                add(&line, "vendor", item["vendor"]?.stringValue.map(JSONValue.string))
                line.append(("properties", item["properties"] ?? .object(JSONObject())))
                add(&line, "price", (item["final_price"] ?? item["price"])?.minorUnits.map { .number(String($0)) })
                return .object(JSONObject(line))
            }
            out.append(("line_items", .array(lineItems)))
            add(&out, "total_price", cart["total_price"]?.minorUnits.map { .number(String($0)) })
            add(&out, "currency", currency.map(JSONValue.string))
        }
        add(&out, "restore_url", restore.map(JSONValue.string))
        out.append(("cart_url", .string("\(storefront)/cart")))
        out.append(("source", .string(storefront)))
        return JSONObject(out)
    }

    /// A checkout from the `checkouts/*` webhook (REST shape) or from the pixel's `checkout_started`.
    private func checkout(_ body: JSONObject) -> JSONObject? {
        let checkout = body["checkout"]?.objectValue ?? body
        let lines = EcommerceMapper.checkoutLines(checkout, fallback: body)
        guard !lines.isEmpty else { return nil }
        let restore = Self.restoreURL(shop: shop.domain, lines: lines.compactMap { line in
            line["variant_id"]?.idString.map { ($0, line["quantity"]?.quantityValue ?? 0) }
        })
        let recovery = (checkout["abandoned_checkout_url"] ?? body["checkout_url"])?.stringValue ?? restore
        let currency = (checkout["presentment_currency"] ?? checkout["currency"] ?? checkout["currency_code"] ?? checkout["currencyCode"])?.stringValue
        let total = EcommerceMapper.checkoutTotal(body)
        var out: [(key: String, value: JSONValue)] = [("checkout_id", .string(timer.subject))]
        switch naming {
        case .ecommerce:
            add(&out, "checkout_url", recovery.map(JSONValue.string))
            add(&out, "cart_id", CartSnapshot.token(checkout["cart_token"] ?? body["cart_token"]).map(JSONValue.string))
            out.append(("products", .array(lines.map { line in
                .object(JSONObject(line.members.compactMap { member in
                    guard member.key != "vendor" else { return nil }
                    if member.key == "price", let price = member.value.doubleValue { return (member.key, OrderMapper.decimal(price)) }
                    return member
                }))
            })))
            add(&out, "total_value", total.map(OrderMapper.decimal))
            add(&out, "currency", currency.map(JSONValue.string))
        case .legacy:
            add(&out, "abandoned_checkout_url", recovery.map(JSONValue.string))
            let codes = (checkout["discount_codes"]?.arrayValue ?? []).compactMap(\.objectValue)
            add(&out, "discount_code", codes.first?["code"]?.stringValue.map(JSONValue.string))
            add(&out, "total_price", total.map { .string(String(format: "%.2f", $0)) })
            if let discount = checkout["applied_discount"]?.objectValue {
                out.append(("applied_discount", .object(JSONObject(["amount", "title", "description"].compactMap { key in discount[key].map { (key, $0) } }))))
            }
            out.append(("line_items", .array(lines.map { line in
                .object(JSONObject(line.members.map { member in
                    member.key == "product_name" ? (key: "title", value: member.value) : member
                }))
            })))
            add(&out, "currency", currency.map(JSONValue.string))
        }
        add(&out, "restore_url", restore.map(JSONValue.string))
        out.append(("source", .string(storefront)))
        return JSONObject(out)
    }

    private func add(_ out: inout [(key: String, value: JSONValue)], _ key: String, _ value: JSONValue?) {
        if let value { out.append((key, value)) }
    }

    private func absolute(_ url: String) -> String { EcommerceMapper.absolute(url, source: storefront) }
}

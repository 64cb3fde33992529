import Foundation

/// Shopify REST order, refund and checkout payloads as Braze events: `ecommerce.*` with the
/// reference's required and optional properties (decimal amounts, string ids, `source`), or the
/// `shopify_*` names and shapes of Braze's legacy connector.
struct OrderMapper {
    var naming: EventNaming
    var shopDomain: String
    var source: String { "https://\(shopDomain)" }

    typealias Properties = JSONObject

    /// An amount as a JSON number with two places, as every Braze amount ShopTrail sends.
    static func decimal(_ amount: Double) -> JSONValue {
        .number(String(format: "%.2f", amount))
    }

    /// Shopify's decimal strings ("29.99") as JSON numbers with two places (0 when absent).
    static func money(_ value: JSONValue?) -> JSONValue {
        knownMoney(value) ?? decimal(0)
    }

    /// A decimal amount when the payload has one; nil (the property left out) when it has none, never a made-up 0.
    static func knownMoney(_ value: JSONValue?) -> JSONValue? {
        value?.doubleValue.map(decimal)
    }

    /// Shipping as Shopify states it: the order's `total_shipping_price_set`, else the sum of its shipping lines.
    /// nil when neither is there (a checkout before a shipping method is chosen).
    static func shipping(_ payload: JSONObject) -> JSONValue? {
        if let total = knownMoney(payload["total_shipping_price_set"]?.objectValue?["shop_money"]?.objectValue?["amount"]) { return total }
        let prices = (payload["shipping_lines"]?.arrayValue ?? []).compactMap { $0.objectValue?["price"]?.doubleValue }
        return prices.isEmpty ? nil : decimal(prices.reduce(0, +))
    }

    /// The optional amounts of Braze's newer recommended-event revision: `subtotal_value`, `tax`, `shipping`.
    static func amounts(_ payload: JSONObject) -> [(String, JSONValue?)] {
        [("subtotal_value", knownMoney(payload["subtotal_price"])), ("tax", knownMoney(payload["total_tax"])), ("shipping", shipping(payload))]
    }

    private static func object(_ members: [(String, JSONValue?)]) -> JSONObject {
        JSONObject(members.compactMap { key, value in value.map { (key: key, value: $0) } })
    }

    /// Shopify's `order_number` as a JSON number; nil unless it is a whole number. `idString` also
    /// passes strings ("abc", "1,5"), which as `.number` would make the whole Braze request invalid JSON.
    static func orderNumber(_ v: JSONValue?) -> JSONValue? {
        guard let text = v?.idString, !text.contains("."), CatalogItemMapper.isDecimal(text) else { return nil }
        return .number(text)
    }

    private static func string(_ v: JSONValue?) -> JSONValue? { v?.stringValue.flatMap { $0.isEmpty ? nil : .string($0) } }

    /// Line items as Braze's `products[]`.
    static func products(_ lines: JSONValue?) -> JSONValue {
        .array((lines?.arrayValue ?? []).compactMap { item in
            guard let line = item.objectValue, let quantity = JSONValue.quantity(line["quantity"], ifAbsent: 1) else { return nil }
            let productId = line["product_id"]?.idString ?? line["id"]?.idString ?? ""
            let sku = string(line["sku"])
            return .object(object([
                ("product_id", .string(productId)),
                ("product_name", .string(line["title"]?.stringValue ?? line["name"]?.stringValue ?? productId)),
                ("variant_id", .string(line["variant_id"]?.idString ?? productId)),
                ("quantity", .number(String(quantity))),
                ("price", money(line["price"])),
                ("metadata", sku.map { .object(JSONObject([("sku", $0)])) }),
            ]))
        })
    }

    private func tags(_ order: JSONObject) -> JSONValue {
        .array((order["tags"]?.stringValue ?? "").split(separator: ",").map { .string($0.trimmingCharacters(in: .whitespaces)) }.filter { $0 != .string("") })
    }

    /// `ecommerce.order_placed` (or `shopify_created_order`).
    func placed(_ order: JSONObject) -> [(String, Properties)] {
        let orderId = order["id"]?.idString ?? ""
        switch naming {
        case .ecommerce:
            let discounts: [JSONValue] = (order["discount_codes"]?.arrayValue ?? []).compactMap { item in
                guard let d = item.objectValue else { return nil }
                return .object(Self.object([("code", Self.string(d["code"])), ("amount", Self.knownMoney(d["amount"]))]))
            }
            let metadata = Self.object([
                ("order_status_url", Self.string(order["order_status_url"])), ("order_number", Self.orderNumber(order["order_number"])),
                ("tags", tags(order)), ("referring_site", Self.string(order["referring_site"])),
                ("payment_gateway_names", order["payment_gateway_names"]),
            ])
            return [("ecommerce.order_placed", Self.object([
                ("order_id", .string(orderId)), ("total_value", Self.money(order["total_price"])), ("currency", Self.string(order["currency"]) ?? .string("USD")),
                ("products", Self.products(order["line_items"])), ("source", .string(source)),
                ("cart_id", CartSnapshot.token(order["cart_token"]).map(JSONValue.string)),
                ("total_discounts", Self.money(order["total_discounts"])), ("discounts", .array(discounts)), ("metadata", .object(metadata)),
            ] + Self.amounts(order)))]
        case .legacy:
            return [("shopify_created_order", Self.object([
                ("order_id", .string(orderId)), ("confirmed", order["confirmed"]), ("order_status_url", Self.string(order["order_status_url"])),
                ("order_number", order["order_number"]), ("cancelled_at", order["cancelled_at"]), ("total_discounts", order["total_discounts"]),
                ("total_price", order["total_price"]), ("tags", order["tags"]), ("discount_codes", order["discount_codes"]),
                ("line_items", legacyLines(order["line_items"])), ("shopify_storefront", .string(shopDomain)),
                ("fulfillment_status", order["fulfillment_status"]), ("referring_site", order["referring_site"]),
                ("payment_gateway_names", order["payment_gateway_names"]), ("shipping", legacyShipping(order["shipping_lines"])),
            ]))]
        }
    }

    /// The legacy connector's `shipping[]{title, price}`.
    private func legacyShipping(_ lines: JSONValue?) -> JSONValue? {
        guard let lines = lines?.arrayValue else { return nil }
        return .array(lines.compactMap { $0.objectValue.map { line in .object(Self.object([("title", line["title"]), ("price", line["price"])])) } })
    }

    private func legacyLines(_ lines: JSONValue?) -> JSONValue {
        .array((lines?.arrayValue ?? []).compactMap { item in
            guard let line = item.objectValue else { return nil }
            return .object(Self.object([
                ("product_id", line["product_id"]?.idString.map(JSONValue.string)), ("variant_id", line["variant_id"]?.idString.map(JSONValue.string)),
                ("quantity", line["quantity"]), ("sku", line["sku"]), ("title", line["title"]), ("variant_title", line["variant_title"]),
                ("vendor", line["vendor"]), ("price", line["price"]),
            ]))
        })
    }

    /// Legacy naming: one Braze purchase per line item.
    func purchases(_ order: JSONObject) -> [JSONObject] {
        (order["line_items"]?.arrayValue ?? []).compactMap { item in
            guard let line = item.objectValue, let productId = line["product_id"]?.idString,
                  let quantity = JSONValue.quantity(line["quantity"], ifAbsent: 1) else { return nil }
            return Self.object([
                ("product_id", .string(productId)), ("currency", Self.string(order["currency"]) ?? .string("USD")),
                ("price", Self.money(line["price"])), ("quantity", .number(String(quantity))),
                ("properties", .object(Self.object([
                    ("name", Self.string(line["title"])), ("sku", Self.string(line["sku"])), ("variant_id", line["variant_id"]?.idString.map(JSONValue.string)),
                    ("variant_title", Self.string(line["variant_title"])), ("vendor", Self.string(line["vendor"])), ("source", .string("shopify")),
                ]))),
            ])
        }
    }

    /// Paid, fulfilled and partially fulfilled orders (names unchanged between the connectors).
    func orderStatus(_ order: JSONObject) -> Properties {
        let fulfillments: [JSONValue] = (order["fulfillments"]?.arrayValue ?? []).compactMap { item in
            guard let f = item.objectValue else { return nil }
            return .object(Self.object([
                ("status", f["status"]), ("tracking_company", f["tracking_company"]), ("tracking_numbers", f["tracking_numbers"]),
                ("tracking_urls", f["tracking_urls"]),
            ]))
        }
        return Self.object([
            ("order_id", .string(order["id"]?.idString ?? "")), ("order_number", order["order_number"]), ("total_price", order["total_price"]),
            ("currency", order["currency"]), ("financial_status", order["financial_status"]), ("fulfillment_status", order["fulfillment_status"]),
            ("fulfillments", .array(fulfillments)), ("order_status_url", order["order_status_url"]), ("shopify_storefront", .string(shopDomain)),
        ])
    }

    func fulfillmentCount(_ order: JSONObject) -> Int { order["fulfillments"]?.arrayValue?.count ?? 0 }

    /// `ecommerce.order_cancelled` (or `shopify_cancelled_order`).
    func cancelled(_ order: JSONObject) -> (String, Properties) {
        switch naming {
        case .ecommerce:
            return ("ecommerce.order_cancelled", Self.object([
                ("order_id", .string(order["id"]?.idString ?? "")), ("total_value", Self.money(order["total_price"])),
                ("currency", Self.string(order["currency"]) ?? .string("USD")), ("products", Self.products(order["line_items"])),
                ("source", .string(source)), ("cancel_reason", .string(order["cancel_reason"]?.stringValue ?? "other")),
                ("metadata", .object(Self.object([
                    ("order_status_url", Self.string(order["order_status_url"])), ("order_number", Self.orderNumber(order["order_number"])),
                    ("tags", tags(order)),
                ]))),
            ]))
        case .legacy:
            return ("shopify_cancelled_order", orderStatus(order).merging([("cancel_reason", order["cancel_reason"]), ("cancelled_at", order["cancelled_at"])]))
        }
    }

    /// `ecommerce.order_refunded` (or `shopify_created_refund`); the order, when seen, gives currency and number.
    func refunded(_ refund: JSONObject, order: JSONObject?) -> (String, Properties) {
        let lines = (refund["refund_line_items"]?.arrayValue ?? []).compactMap { item -> JSONValue? in
            guard let r = item.objectValue, var line = r["line_item"]?.objectValue else { return nil }
            if let q = r["quantity"] { line.members.removeAll { $0.key == "quantity" }; line.members.append((key: "quantity", value: q)) }
            return .object(line)
        }
        let transactions = (refund["transactions"]?.arrayValue ?? []).compactMap { $0.objectValue }.filter { ($0["kind"]?.stringValue ?? "refund") == "refund" }
        let total = transactions.isEmpty
            ? (refund["refund_line_items"]?.arrayValue ?? []).compactMap { $0.objectValue?["subtotal"]?.doubleValue }.reduce(0, +)
            : transactions.compactMap { $0["amount"]?.doubleValue }.reduce(0, +)
        let currency = Self.string(transactions.first?["currency"]) ?? Self.string(order?["currency"]) ?? .string("USD")
        switch naming {
        case .ecommerce:
            return ("ecommerce.order_refunded", Self.object([
                ("order_id", .string(refund["order_id"]?.idString ?? "")), ("total_value", Self.decimal(total)),
                ("currency", currency), ("products", Self.products(.array(lines))), ("source", .string(source)),
                ("metadata", .object(Self.object([
                    ("order_note", Self.string(refund["note"])), ("order_status_url", Self.string(order?["order_status_url"])),
                    ("order_number", Self.orderNumber(order?["order_number"])), ("tags", order.map(tags)),
                ]))),
            ]))
        case .legacy:
            return ("shopify_created_refund", Self.object([
                ("order_id", .string(refund["order_id"]?.idString ?? "")), ("note", refund["note"]), ("line_items", legacyLines(.array(lines))),
            ]))
        }
    }

    /// `ecommerce.checkout_started` from a checkout webhook (nil without lines).
    func checkoutStarted(_ checkout: JSONObject) -> Properties? {
        let products = Self.products(checkout["line_items"])
        guard case .array(let items) = products, !items.isEmpty, let token = checkout["token"]?.stringValue else { return nil }
        return Self.object([
            ("checkout_id", .string(token)), ("total_value", Self.money(checkout["total_price"])),
            ("currency", Self.string(checkout["currency"] ?? checkout["presentment_currency"]) ?? .string("USD")),
            ("products", products), ("source", .string(source)),
            ("cart_id", Self.string(checkout["cart_token"])),
            ("metadata", Self.string(checkout["abandoned_checkout_url"]).map { .object(JSONObject([("checkout_url", $0)])) }),
        ] + Self.amounts(checkout))
    }
}

extension JSONObject {
    /// This object with members added (nil values skipped) or replaced.
    func merging(_ more: [(String, JSONValue?)]) -> JSONObject {
        var copy = self
        for (key, value) in more {
            guard let value else { continue }
            copy.members.removeAll { $0.key == key }
            copy.members.append((key: key, value: value))
        }
        return copy
    }
}

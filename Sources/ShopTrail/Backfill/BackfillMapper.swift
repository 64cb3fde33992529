/// Admin GraphQL customer and order nodes as the Braze attributes and the REST-shaped order `OrderMapper` expects.
enum BackfillMapper {
    /// The number at the end of a gid (`gid://shopify/Order/123` → `123`); nil when there is none.
    static func numericId(_ value: JSONValue?) -> String? {
        guard let text = value?.idString else { return nil }
        let last = text.split(separator: "/").last.map { String($0.prefix { $0 != "?" }) } ?? text
        // ASCII digits only: `isNumber` also passes "½" or "٣", which are no JSON number.
        return !last.isEmpty && last.allSatisfy(\.isASCIIDigit) ? last : nil
    }

    private static func text(_ value: JSONValue?) -> String? {
        value?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
    }

    private static func amount(_ value: JSONValue?, _ path: [String]) -> JSONValue? {
        var current = value
        for key in path { current = current?.objectValue?[key] }
        return current?.stringValue.map(JSONValue.string) ?? current.flatMap { if case .number = $0 { $0 } else { nil } }
    }

    /// The local customer record a node describes (contact fields only).
    static func customer(_ node: JSONObject, shop: String) -> Customer? {
        guard let id = numericId(node["id"]) else { return nil }
        var customer = Customer(shop: shop, id: id)
        customer.email = text(node["defaultEmailAddress"]?.objectValue?["emailAddress"]) ?? text(node["email"])
        customer.phone = text(node["defaultPhoneNumber"]?.objectValue?["phoneNumber"]) ?? text(node["phone"])
        customer.firstName = text(node["firstName"])
        customer.lastName = text(node["lastName"])
        return customer
    }

    /// The attributes the webhook path sends for `customers/update`, with the same names and shapes.
    static func attributes(_ node: JSONObject, customer: Customer) -> [(String, JSONValue)] {
        var attributes = customer.standardAttributes
        attributes += ShopifyAddress(graphQL: node["defaultAddress"]?.objectValue)?.attributes ?? []
        if let tags = node["tags"]?.arrayValue {
            let joined = tags.compactMap(\.stringValue).joined(separator: ", ")
            attributes.append(("shopify_tags", .string(String(joined.prefix(2_000)))))
        }
        if let count = node["numberOfOrders"]?.idString { attributes.append(("shopify_order_count", .string(count))) }
        if let spent = node["amountSpent"]?.objectValue?["amount"]?.stringValue { attributes.append(("shopify_total_spent", .string(spent))) }
        return attributes
    }

    /// Shopify's email / SMS marketing state (`SUBSCRIBED`, …); nil when the customer has none.
    static func marketingStates(_ node: JSONObject) -> (email: String?, sms: String?) {
        (node["emailMarketingConsent"]?.objectValue?["marketingState"]?.stringValue,
         node["smsMarketingConsent"]?.objectValue?["marketingState"]?.stringValue)
    }

    /// A paged order node staged as bulk mode stages it: `lineItems` and `discountApplications` as arrays of nodes; a list
    /// cut off by its page size is marked (`lineItemsIncomplete`, …), so amounts summed over it are not trusted.
    static func pagedOrder(_ node: JSONObject) -> JSONObject {
        var node = node
        for key in ["lineItems", "discountApplications"] {
            guard let connection = node[key]?.objectValue else { continue }
            node.members.removeAll { $0.key == key }
            node.members.append((key: key, value: connection["nodes"] ?? .array([])))
            if connection["pageInfo"]?.objectValue?["hasNextPage"] == .bool(true) {
                node.members.append((key: key + "Incomplete", value: .bool(true)))
            }
        }
        return node
    }

    /// A GraphQL order node (with `lineItems` as an array of nodes) in the REST shape of `orders/create`.
    static func restOrder(_ node: JSONObject) -> JSONObject? {
        guard let id = numericId(node["id"]) else { return nil }
        let lines: [JSONValue] = (node["lineItems"]?.arrayValue ?? []).compactMap { item in
            guard let line = item.objectValue else { return nil }
            let members: [(String, JSONValue?)] = [
                ("id", numericId(line["id"]).map(JSONValue.number)),
                ("product_id", numericId(line["product"]?.objectValue?["id"]).map(JSONValue.number)),
                ("variant_id", numericId(line["variant"]?.objectValue?["id"]).map(JSONValue.number)),
                ("title", line["title"]), ("variant_title", line["variantTitle"]), ("sku", line["sku"]), ("vendor", line["vendor"]),
                ("quantity", line["quantity"]), ("price", amount(line["originalUnitPriceSet"], ["shopMoney", "amount"])),
            ]
            return .object(JSONObject(members.compactMap { key, value in value.map { (key: key, value: $0) } }))
        }
        let customer = node["customer"]?.objectValue
        let customerJSON: JSONValue? = customer.flatMap { c in
            numericId(c["id"]).map { cid in
                .object(JSONObject([
                    ("id", .number(cid)),
                    ("email", text(c["defaultEmailAddress"]?.objectValue?["emailAddress"]).map(JSONValue.string) ?? .null),
                    ("first_name", c["firstName"] ?? .null), ("last_name", c["lastName"] ?? .null),
                ]))
            }
        }
        let number = text(node["name"]).map { String($0.filter(\.isASCIIDigit)) }.flatMap { $0.isEmpty ? nil : JSONValue.number($0) }
        let tags = (node["tags"]?.arrayValue ?? []).compactMap(\.stringValue).joined(separator: ", ")
        let codes = JSONValue.array(discountCodes(node))
        let shipping: JSONValue? = amount(node["totalShippingPriceSet"], ["shopMoney", "amount"]).map { value in
            .object(JSONObject([("shop_money", .object(JSONObject([
                ("amount", value),
                ("currency_code", amount(node["totalShippingPriceSet"], ["shopMoney", "currencyCode"]) ?? node["currencyCode"] ?? .null),
            ])))]))
        }
        let members: [(String, JSONValue?)] = [
            ("id", .number(id)), ("name", node["name"]), ("order_number", number), ("created_at", node["createdAt"]),
            ("cancelled_at", node["cancelledAt"]), ("email", node["email"]),
            ("currency", node["currencyCode"] ?? amount(node["totalPriceSet"], ["shopMoney", "currencyCode"])),
            ("total_price", amount(node["totalPriceSet"], ["shopMoney", "amount"])),
            ("total_discounts", amount(node["totalDiscountsSet"], ["shopMoney", "amount"])),
            ("subtotal_price", amount(node["subtotalPriceSet"], ["shopMoney", "amount"])),
            ("total_tax", amount(node["totalTaxSet"], ["shopMoney", "amount"])),
            ("total_shipping_price_set", shipping),
            ("order_status_url", node["statusPageUrl"]), ("tags", .string(tags)), ("discount_codes", codes),
            ("financial_status", node["displayFinancialStatus"]?.stringValue.map { .string($0.lowercased()) }),
            ("fulfillment_status", node["displayFulfillmentStatus"]?.stringValue.map { .string($0 == "FULFILLED" ? "fulfilled" : $0 == "PARTIALLY_FULFILLED" ? "partial" : "") }),
            ("line_items", .array(lines)), ("customer", customerJSON),
        ]
        return JSONObject(members.compactMap { key, value in value.map { (key: key, value: $0) } })
    }

    /// `discount_codes` as `orders/create` carries them: `{code, amount: "12.00", type}` per code application. The amount is
    /// what the code's allocations on the line items add up to; without them (a shipping discount, a cut-off line list, an
    /// order staged before discount applications were read) it is left out, never made up.
    static func discountCodes(_ node: JSONObject) -> [JSONValue] {
        var allocated: [Int: DecimalAmount] = [:]
        var unreadable = Set<Int>()
        let linesComplete = node["lineItemsIncomplete"] != .bool(true)
        for line in node["lineItems"]?.arrayValue ?? [] {
            for allocation in line.objectValue?["discountAllocations"]?.arrayValue ?? [] {
                let object = allocation.objectValue
                guard let index = object?["discountApplication"]?.objectValue?["index"]?.idString.flatMap({ Int($0) }) else { continue }
                guard let value = amount(object?["allocatedAmountSet"], ["shopMoney", "amount"]).flatMap({ DecimalAmount($0) }) else {
                    unreadable.insert(index)
                    continue
                }
                allocated[index] = allocated[index].map { $0.adding(value) } ?? value
            }
        }
        var codes: [JSONValue] = []
        var seen = Set<String>()
        for application in node["discountApplications"]?.arrayValue ?? [] {
            guard let app = application.objectValue, let code = text(app["code"]) else { continue }
            seen.insert(code)
            let index = app["index"]?.idString.flatMap { Int($0) }
            let isShipping = app["targetType"]?.stringValue == "SHIPPING_LINE"
            let type = isShipping ? "shipping" : app["value"]?.objectValue?["__typename"]?.stringValue == "PricingPercentageValue" ? "percentage" : "fixed_amount"
            var sum: DecimalAmount?
            if let index, linesComplete, !isShipping, !unreadable.contains(index) { sum = allocated[index] }
            var members: [(key: String, value: JSONValue)] = [("code", .string(code))]
            if let sum { members.append(("amount", .string(sum.text))) }
            members.append(("type", .string(type)))
            codes.append(.object(JSONObject(members)))
        }
        // Codes the applications did not list (or were not read): the code alone.
        for code in (node["discountCodes"]?.arrayValue ?? []).compactMap(\.stringValue) where !seen.contains(code) {
            seen.insert(code)
            codes.append(.object(JSONObject([("code", .string(code))])))
        }
        return codes
    }

    /// The order's customer as a local record (for orders of customers not staged).
    static func orderCustomer(_ node: JSONObject, shop: String) -> Customer? {
        guard let object = node["customer"]?.objectValue else { return nil }
        return customer(object, shop: shop)
    }
}

/// A decimal money amount from Shopify's text ("12.5", "12.50", "-3"), added exactly; printed with at least two decimals.
struct DecimalAmount: Equatable {
    /// The amount × 10^scale.
    var units: Int64
    var scale: Int

    /// nil unless `text` is `-?digits(.digits)?` with at most 6 decimals and fits.
    init?(_ value: JSONValue) {
        guard let text = value.stringValue ?? (value.idString) else { return nil }
        self.init(text: text)
    }

    init?(text: String) {
        var body = Substring(text)
        let negative = body.hasPrefix("-")
        if negative { body = body.dropFirst() }
        let parts = body.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let whole = parts.first, !whole.isEmpty, whole.allSatisfy(\.isASCIIDigit) else { return nil }
        let fraction = parts.count == 2 ? parts[1] : ""
        guard fraction.count <= 6, fraction.allSatisfy(\.isASCIIDigit), parts.count == 1 || !fraction.isEmpty,
              let units = Int64(String(whole) + String(fraction)) else { return nil }
        self.units = negative ? -units : units
        self.scale = fraction.count
    }

    private init(units: Int64, scale: Int) {
        self.units = units
        self.scale = scale
    }

    private func scaled(to target: Int) -> Int64? {
        var value = units
        for _ in scale..<max(scale, target) {
            let (next, overflow) = value.multipliedReportingOverflow(by: 10)
            if overflow { return nil }
            value = next
        }
        return value
    }

    /// The sum; saturates to self when it would overflow (amounts that large are not money).
    func adding(_ other: DecimalAmount) -> DecimalAmount {
        let target = max(scale, other.scale)
        guard let a = scaled(to: target), let b = other.scaled(to: target) else { return self }
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? self : DecimalAmount(units: sum, scale: target)
    }

    /// "12.00", "-3.05", "1.125".
    var text: String {
        var digits = max(scale, 2)
        var value = units
        if let padded = scaled(to: digits) { value = padded } else { digits = scale }
        let magnitude = String(value.magnitude)
        let padded = String(repeating: "0", count: max(0, digits + 1 - magnitude.count)) + magnitude
        let sign = units < 0 ? "-" : ""
        return sign + String(padded.dropLast(digits)) + "." + String(padded.suffix(digits))
    }
}

extension Character {
    /// 0-9 only (Admin API ids and order names become JSON numbers).
    var isASCIIDigit: Bool { isASCII && isNumber }
}

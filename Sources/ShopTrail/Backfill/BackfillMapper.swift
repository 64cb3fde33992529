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
        let address = node["defaultAddress"]?.objectValue
        if let city = text(address?["city"]) { attributes.append(("home_city", .string(city))) }
        if let country = text(address?["countryCodeV2"] ?? address?["country"]) { attributes.append(("country", .string(country))) }
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
        let discountCodes = JSONValue.array((node["discountCodes"]?.arrayValue ?? []).compactMap { $0.stringValue.map { .object(JSONObject([("code", .string($0))])) } })
        let members: [(String, JSONValue?)] = [
            ("id", .number(id)), ("name", node["name"]), ("order_number", number), ("created_at", node["createdAt"]),
            ("cancelled_at", node["cancelledAt"]), ("email", node["email"]),
            ("currency", node["currencyCode"] ?? amount(node["totalPriceSet"], ["shopMoney", "currencyCode"])),
            ("total_price", amount(node["totalPriceSet"], ["shopMoney", "amount"])),
            ("total_discounts", amount(node["totalDiscountsSet"], ["shopMoney", "amount"])),
            ("order_status_url", node["statusPageUrl"]), ("tags", .string(tags)), ("discount_codes", discountCodes),
            ("financial_status", node["displayFinancialStatus"]?.stringValue.map { .string($0.lowercased()) }),
            ("fulfillment_status", node["displayFulfillmentStatus"]?.stringValue.map { .string($0 == "FULFILLED" ? "fulfilled" : $0 == "PARTIALLY_FULFILLED" ? "partial" : "") }),
            ("line_items", .array(lines)), ("customer", customerJSON),
        ]
        return JSONObject(members.compactMap { key, value in value.map { (key: key, value: $0) } })
    }

    /// The order's customer as a local record (for orders of customers not staged).
    static func orderCustomer(_ node: JSONObject, shop: String) -> Customer? {
        guard let object = node["customer"]?.objectValue else { return nil }
        return customer(object, shop: shop)
    }
}

extension Character {
    /// 0-9 only (Admin API ids and order names become JSON numbers).
    var isASCIIDigit: Bool { isASCII && isNumber }
}

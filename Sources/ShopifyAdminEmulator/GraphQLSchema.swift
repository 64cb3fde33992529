/// How a field's value is shaped: a leaf, an object, or a paginated connection (priced per requested node).
enum FieldKind: Sendable {
    case scalar
    case object
    case connection
}

/// An argument a field accepts, with its declared type and default.
struct ArgumentSpec: Sendable {
    var name: String
    var type: GraphQLTypeReference
    var defaultValue: ShopifyJSON?
}

/// One field of an object type.
struct FieldSpec: Sendable {
    var name: String
    /// The named type (object, scalar or enum) — for connections the connection type, e.g. `OrderConnection`.
    var typeName: String
    var kind: FieldKind
    var isList: Bool
    var arguments: [ArgumentSpec]
    /// Access scope needed to read it (a `write_` scope implies the `read_` one).
    var requiredScope: String?

    func argument(_ name: String) -> ArgumentSpec? { arguments.first { $0.name == name } }
}

/// An object type: its fields and what one instance costs (1, or 0 for connection plumbing).
struct ObjectTypeSpec: Sendable {
    var name: String
    var fields: [String: FieldSpec]
    var cost: Int
}

/// The subset of the Admin GraphQL schema the emulator serves. Field names and types follow shopify.dev.
struct ShopifySchema: Sendable {
    var types: [String: ObjectTypeSpec] = [:]
    /// Interfaces and unions (also in `types`, with the fields every implementation has) and their object types.
    var possibleTypes: [String: Set<String>] = [:]
    var enums: [String: Set<String>] = [:]
    /// Input scalars and input objects variables may be declared with.
    var inputScalars: Set<String> = ["String", "Int", "Float", "Boolean", "ID", "URL", "DateTime", "ImageTransformInput"]

    static let shared = ShopifySchema.build()

    func field(_ name: String, on type: String) -> FieldSpec? { types[type]?.fields[name] }

    func isInputType(_ name: String) -> Bool { inputScalars.contains(name) || enums[name] != nil }

    func isAbstract(_ name: String) -> Bool { possibleTypes[name] != nil }

    /// The object types a value of `name` can be (itself for an object type).
    func objectTypes(of name: String) -> Set<String> { possibleTypes[name] ?? [name] }

    // MARK: Building

    private static func scalar(_ name: String, _ type: String = "String", list: Bool = false, args: [ArgumentSpec] = []) -> FieldSpec {
        FieldSpec(name: name, typeName: type, kind: .scalar, isList: list, arguments: args, requiredScope: nil)
    }

    private static func object(_ name: String, _ type: String, list: Bool = false, args: [ArgumentSpec] = [], scope: String? = nil) -> FieldSpec {
        FieldSpec(name: name, typeName: type, kind: .object, isList: list, arguments: args, requiredScope: scope)
    }

    private static func connection(_ name: String, of node: String, args: [ArgumentSpec], scope: String? = nil) -> FieldSpec {
        FieldSpec(name: name, typeName: "\(node)Connection", kind: .connection, isList: false, arguments: args, requiredScope: scope)
    }

    private static func arg(_ name: String, _ type: GraphQLTypeReference, _ defaultValue: ShopifyJSON? = nil) -> ArgumentSpec {
        ArgumentSpec(name: name, type: type, defaultValue: defaultValue)
    }

    private static let pageArgs: [ArgumentSpec] = [
        arg("first", .named("Int")), arg("after", .named("String")), arg("last", .named("Int")),
        arg("before", .named("String")), arg("reverse", .named("Boolean"), .bool(false)),
    ]

    private static func searchArgs(sortKeys: String) -> [ArgumentSpec] {
        pageArgs + [arg("sortKey", .named(sortKeys), .string("ID")), arg("query", .named("String"))]
    }

    private static let idArg = [arg("id", .nonNull(.named("ID")))]
    private static let countArgs = [arg("query", .named("String")), arg("limit", .named("Int"), .int(10_000))]

    private mutating func add(_ name: String, cost: Int = 1, _ fields: [FieldSpec]) {
        var byName = Dictionary(fields.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        byName["__typename"] = Self.scalar("__typename", "String")
        types[name] = ObjectTypeSpec(name: name, fields: byName, cost: cost)
    }

    /// `XConnection { edges nodes pageInfo }` and `XEdge { cursor node }`, which cost nothing themselves.
    private mutating func addConnection(of node: String) {
        add("\(node)Connection", cost: 0, [
            Self.object("edges", "\(node)Edge", list: true),
            Self.object("nodes", node, list: true),
            Self.object("pageInfo", "PageInfo"),
        ])
        add("\(node)Edge", cost: 0, [Self.scalar("cursor"), Self.object("node", node)])
    }

    private static func build() -> ShopifySchema {
        var schema = ShopifySchema()
        schema.enums = [
            "CustomerSortKeys": ["CREATED_AT", "ID", "UPDATED_AT"],
            "OrderSortKeys": ["CREATED_AT", "ID", "PROCESSED_AT", "UPDATED_AT"],
            "ProductSortKeys": ["CREATED_AT", "ID", "UPDATED_AT"],
            "ProductVariantSortKeys": ["ID"],
            "BulkOperationType": ["QUERY", "MUTATION"],
        ]
        schema.add("QueryRoot", cost: 0, [
            object("shop", "Shop"),
            object("currentAppInstallation", "AppInstallation"),
            connection("customers", of: "Customer", args: searchArgs(sortKeys: "CustomerSortKeys"), scope: "read_customers"),
            connection("orders", of: "Order", args: searchArgs(sortKeys: "OrderSortKeys"), scope: "read_orders"),
            connection("products", of: "Product", args: searchArgs(sortKeys: "ProductSortKeys"), scope: "read_products"),
            connection("productVariants", of: "ProductVariant", args: searchArgs(sortKeys: "ProductVariantSortKeys"), scope: "read_products"),
            object("customer", "Customer", args: idArg, scope: "read_customers"),
            object("order", "Order", args: idArg, scope: "read_orders"),
            object("product", "Product", args: idArg, scope: "read_products"),
            object("productVariant", "ProductVariant", args: idArg, scope: "read_products"),
            object("customersCount", "Count", args: countArgs, scope: "read_customers"),
            object("ordersCount", "Count", args: countArgs, scope: "read_orders"),
            object("productsCount", "Count", args: countArgs, scope: "read_products"),
            object("currentBulkOperation", "BulkOperation", args: [arg("type", .named("BulkOperationType"), .string("QUERY"))]),
            object("bulkOperation", "BulkOperation", args: idArg),
        ])
        schema.add("Mutation", cost: 0, [
            object("bulkOperationRunQuery", "BulkOperationRunQueryPayload",
                   args: [arg("query", .nonNull(.named("String"))), arg("groupObjects", .named("Boolean"))]),
            object("bulkOperationCancel", "BulkOperationCancelPayload", args: idArg),
        ])
        schema.add("Shop", [
            scalar("id", "ID"), scalar("name"), scalar("email"), scalar("contactEmail"), scalar("myshopifyDomain"),
            scalar("currencyCode", "CurrencyCode"), scalar("ianaTimezone"), scalar("url", "URL"), scalar("taxesIncluded", "Boolean"),
            scalar("enabledPresentmentCurrencies", "CurrencyCode", list: true), object("primaryDomain", "Domain"),
        ])
        schema.add("Domain", [scalar("id", "ID"), scalar("host"), scalar("url", "URL"), scalar("sslEnabled", "Boolean")])
        schema.add("AppInstallation", [scalar("id", "ID"), object("accessScopes", "AccessScope", list: true)])
        schema.add("AccessScope", [scalar("handle"), scalar("description")])
        schema.add("Customer", [
            scalar("id", "ID"), scalar("legacyResourceId", "UnsignedInt64"), scalar("firstName"), scalar("lastName"),
            scalar("displayName"), scalar("email"), scalar("phone"), scalar("tags", list: true), scalar("note"),
            scalar("state", "CustomerState"), scalar("verifiedEmail", "Boolean"), scalar("locale"), scalar("taxExempt", "Boolean"),
            scalar("createdAt", "DateTime"), scalar("updatedAt", "DateTime"),
            scalar("numberOfOrders", "UnsignedInt64"), object("amountSpent", "MoneyV2"),
            object("defaultAddress", "MailingAddress"), object("addresses", "MailingAddress", list: true, args: [arg("first", .named("Int"))]),
            object("defaultEmailAddress", "CustomerEmailAddress"), object("defaultPhoneNumber", "CustomerPhoneNumber"),
            object("emailMarketingConsent", "CustomerEmailMarketingConsentState"),
            object("smsMarketingConsent", "CustomerSmsMarketingConsentState"),
            object("lastOrder", "Order", scope: "read_orders"),
            connection("orders", of: "Order", args: searchArgs(sortKeys: "OrderSortKeys"), scope: "read_orders"),
        ])
        schema.add("CustomerEmailAddress", [
            scalar("emailAddress"), scalar("marketingState", "CustomerEmailAddressMarketingState"),
            scalar("marketingOptInLevel", "CustomerMarketingOptInLevel"), scalar("marketingUpdatedAt", "DateTime"),
        ])
        schema.add("CustomerPhoneNumber", [
            scalar("phoneNumber"), scalar("marketingState", "CustomerSmsMarketingState"),
            scalar("marketingOptInLevel", "CustomerMarketingOptInLevel"), scalar("marketingUpdatedAt", "DateTime"),
            scalar("marketingCollectedFrom", "CustomerConsentCollectedFrom"),
        ])
        schema.add("CustomerEmailMarketingConsentState", [
            scalar("marketingState", "CustomerEmailMarketingState"), scalar("marketingOptInLevel", "CustomerMarketingOptInLevel"),
            scalar("consentUpdatedAt", "DateTime"),
        ])
        schema.add("CustomerSmsMarketingConsentState", [
            scalar("marketingState", "CustomerSmsMarketingState"), scalar("marketingOptInLevel", "CustomerMarketingOptInLevel"),
            scalar("consentUpdatedAt", "DateTime"), scalar("consentCollectedFrom", "CustomerConsentCollectedFrom"),
        ])
        schema.add("MailingAddress", [
            scalar("id", "ID"), scalar("address1"), scalar("address2"), scalar("city"), scalar("company"), scalar("country"),
            scalar("countryCodeV2", "CountryCode"), scalar("firstName"), scalar("lastName"), scalar("name"), scalar("phone"),
            scalar("province"), scalar("provinceCode"), scalar("zip"),
        ])
        schema.add("MoneyV2", [scalar("amount", "Decimal"), scalar("currencyCode", "CurrencyCode")])
        schema.add("MoneyBag", [object("shopMoney", "MoneyV2"), object("presentmentMoney", "MoneyV2")])
        schema.add("Order", [
            scalar("id", "ID"), scalar("legacyResourceId", "UnsignedInt64"), scalar("name"),
            scalar("createdAt", "DateTime"), scalar("updatedAt", "DateTime"), scalar("processedAt", "DateTime"),
            scalar("cancelledAt", "DateTime"), scalar("cancelReason", "OrderCancelReason"), scalar("closed", "Boolean"),
            scalar("confirmed", "Boolean"), scalar("email"), scalar("phone"), scalar("note"),
            object("customer", "Customer", scope: "read_customers"),
            scalar("currencyCode", "CurrencyCode"), scalar("presentmentCurrencyCode", "CurrencyCode"), scalar("taxesIncluded", "Boolean"),
            object("subtotalPriceSet", "MoneyBag"), object("totalPriceSet", "MoneyBag"), object("totalDiscountsSet", "MoneyBag"),
            object("totalTaxSet", "MoneyBag"), object("totalShippingPriceSet", "MoneyBag"), object("currentTotalPriceSet", "MoneyBag"),
            object("currentSubtotalPriceSet", "MoneyBag"),
            scalar("subtotalLineItemsQuantity", "Int"),
            connection("lineItems", of: "LineItem", args: pageArgs),
            scalar("test", "Boolean"), scalar("displayFinancialStatus", "OrderDisplayFinancialStatus"),
            scalar("displayFulfillmentStatus", "OrderDisplayFulfillmentStatus"), scalar("statusPageUrl", "URL"),
            scalar("tags", list: true), scalar("discountCodes", list: true), scalar("discountCode"), scalar("sourceName"),
            connection("discountApplications", of: "DiscountApplication", args: pageArgs),
        ])
        // DiscountApplication (interface) and its implementations; PricingValue (union). Fields as on shopify.dev.
        let applicationFields: [FieldSpec] = [
            scalar("allocationMethod", "DiscountApplicationAllocationMethod"), scalar("index", "Int"),
            scalar("targetSelection", "DiscountApplicationTargetSelection"), scalar("targetType", "DiscountApplicationTargetType"),
            object("value", "PricingValue"),
        ]
        schema.add("DiscountApplication", applicationFields)
        schema.add("DiscountCodeApplication", applicationFields + [scalar("code")])
        schema.add("AutomaticDiscountApplication", applicationFields + [scalar("title")])
        schema.add("ManualDiscountApplication", applicationFields + [scalar("title"), scalar("description")])
        schema.add("ScriptDiscountApplication", applicationFields + [scalar("title")])
        schema.possibleTypes["DiscountApplication"] = [
            "DiscountCodeApplication", "AutomaticDiscountApplication", "ManualDiscountApplication", "ScriptDiscountApplication",
        ]
        schema.add("PricingPercentageValue", [scalar("percentage", "Float")])
        // A union has no fields of its own but __typename; an object like any other for the cost.
        schema.add("PricingValue", [])
        schema.possibleTypes["PricingValue"] = ["MoneyV2", "PricingPercentageValue"]
        schema.add("DiscountAllocation", [object("allocatedAmountSet", "MoneyBag"), object("discountApplication", "DiscountApplication")])
        schema.add("LineItem", [
            scalar("id", "ID"), scalar("title"), scalar("name"), scalar("variantTitle"), scalar("sku"), scalar("quantity", "Int"),
            scalar("currentQuantity", "Int"), scalar("vendor"), scalar("requiresShipping", "Boolean"), scalar("taxable", "Boolean"),
            object("variant", "ProductVariant"), object("product", "Product"),
            object("originalUnitPriceSet", "MoneyBag"), object("discountedUnitPriceSet", "MoneyBag"),
            object("originalTotalSet", "MoneyBag"), object("discountedTotalSet", "MoneyBag"),
            object("discountAllocations", "DiscountAllocation", list: true), object("totalDiscountSet", "MoneyBag"),
        ])
        schema.add("Product", [
            scalar("id", "ID"), scalar("legacyResourceId", "UnsignedInt64"), scalar("title"), scalar("handle"), scalar("vendor"),
            scalar("productType"), scalar("status", "ProductStatus"), scalar("tags", list: true), scalar("description"),
            scalar("descriptionHtml", "HTML"), scalar("createdAt", "DateTime"), scalar("updatedAt", "DateTime"),
            scalar("publishedAt", "DateTime"), scalar("onlineStoreUrl", "URL"), scalar("totalInventory", "Int"),
            scalar("tracksInventory", "Boolean"), scalar("hasOnlyDefaultVariant", "Boolean"),
            object("featuredImage", "Image"), object("options", "ProductOption", list: true, args: [arg("first", .named("Int"))]),
            connection("variants", of: "ProductVariant", args: pageArgs),
            object("variantsCount", "Count"), object("priceRangeV2", "ProductPriceRangeV2"),
        ])
        schema.add("ProductOption", [scalar("id", "ID"), scalar("name"), scalar("position", "Int"), scalar("values", list: true)])
        schema.add("ProductPriceRangeV2", [object("minVariantPrice", "MoneyV2"), object("maxVariantPrice", "MoneyV2")])
        schema.add("ProductVariant", [
            scalar("id", "ID"), scalar("legacyResourceId", "UnsignedInt64"), scalar("title"), scalar("displayName"), scalar("sku"),
            scalar("barcode"), scalar("price", "Money"), scalar("compareAtPrice", "Money"), scalar("inventoryQuantity", "Int"),
            scalar("availableForSale", "Boolean"), scalar("position", "Int"), scalar("taxable", "Boolean"),
            scalar("createdAt", "DateTime"), scalar("updatedAt", "DateTime"),
            object("image", "Image"), object("selectedOptions", "SelectedOption", list: true),
            object("inventoryItem", "InventoryItem"), object("product", "Product"),
        ])
        schema.add("SelectedOption", [scalar("name"), scalar("value")])
        schema.add("InventoryItem", [scalar("id", "ID"), scalar("legacyResourceId", "UnsignedInt64"), scalar("sku"), scalar("tracked", "Boolean")])
        schema.add("Image", [
            scalar("id", "ID"), scalar("url", "URL", args: [arg("transform", .named("ImageTransformInput"))]), scalar("altText"),
            scalar("width", "Int"), scalar("height", "Int"),
        ])
        schema.add("Count", [scalar("count", "Int"), scalar("precision", "CountPrecision")])
        schema.add("PageInfo", cost: 0, [
            scalar("hasNextPage", "Boolean"), scalar("hasPreviousPage", "Boolean"), scalar("startCursor"), scalar("endCursor"),
        ])
        schema.add("BulkOperation", [
            scalar("id", "ID"), scalar("status", "BulkOperationStatus"), scalar("errorCode", "BulkOperationErrorCode"),
            scalar("createdAt", "DateTime"), scalar("completedAt", "DateTime"), scalar("objectCount", "UnsignedInt64"),
            scalar("rootObjectCount", "UnsignedInt64"), scalar("fileSize", "UnsignedInt64"), scalar("url", "URL"),
            scalar("partialDataUrl", "URL"), scalar("query"), scalar("type", "BulkOperationType"),
        ])
        schema.add("BulkOperationRunQueryPayload", [
            object("bulkOperation", "BulkOperation"), object("userErrors", "BulkOperationUserError", list: true),
        ])
        schema.add("BulkOperationCancelPayload", [
            object("bulkOperation", "BulkOperation"), object("userErrors", "UserError", list: true),
        ])
        schema.add("BulkOperationUserError", [scalar("field", list: true), scalar("message"), scalar("code", "BulkOperationUserErrorCode")])
        schema.add("UserError", [scalar("field", list: true), scalar("message")])
        for node in ["Customer", "Order", "Product", "ProductVariant", "LineItem", "DiscountApplication"] { schema.addConnection(of: node) }
        return schema
    }
}

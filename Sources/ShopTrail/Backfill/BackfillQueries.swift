/// The Admin GraphQL text the backfill sends: bulk queries, and paginated queries sized to stay under the cost limit.
enum BackfillQueries {
    static let accessScopes = "query ShopTrailBackfillScopes { currentAppInstallation { accessScopes { handle } } }"

    static let customerFields = """
        id firstName lastName tags updatedAt numberOfOrders amountSpent { amount currencyCode } \
        defaultEmailAddress { emailAddress } defaultPhoneNumber { phoneNumber } defaultAddress { city countryCodeV2 country zip province } \
        emailMarketingConsent { marketingState } smsMarketingConsent { marketingState }
        """

    static let orderFields = """
        id name createdAt cancelledAt test email currencyCode statusPageUrl tags discountCodes displayFinancialStatus displayFulfillmentStatus \
        totalPriceSet { shopMoney { amount currencyCode } } totalDiscountsSet { shopMoney { amount } } \
        subtotalPriceSet { shopMoney { amount } } totalTaxSet { shopMoney { amount } } totalShippingPriceSet { shopMoney { amount currencyCode } } \
        customer { id firstName lastName defaultEmailAddress { emailAddress } defaultPhoneNumber { phoneNumber } }
        """

    /// `Order.discountApplications` nodes: which codes were applied, how (`value`, `targetType`); `index` ties them to the
    /// line items' `discountAllocations`, whose amounts add up to what each code took off.
    static let discountApplicationFields = """
        __typename index allocationMethod targetType ... on DiscountCodeApplication { code } \
        value { __typename ... on MoneyV2 { amount currencyCode } ... on PricingPercentageValue { percentage } }
        """

    static let lineItemFields = """
        id title variantTitle sku quantity vendor variant { id } product { id } originalUnitPriceSet { shopMoney { amount } } \
        discountAllocations { allocatedAmountSet { shopMoney { amount } } discountApplication { index } }
        """

    /// Discount applications read with each order in pages mode (bulk mode has no limit).
    static let discountApplicationsPerOrder = 5

    /// Line items read with each order in pages mode (the generated and typical orders have fewer; bulk mode has no limit).
    static let lineItemsPerOrder = 20

    /// `updated_at:>='…'` / `created_at:>='…'` (a GraphQL string literal, quotes escaped for the bulk query's nesting).
    static func search(_ field: String, since: EpochMillis) -> String {
        "\(field):>='\(Timestamp.format(since))'"
    }

    static func bulkCustomers(since: EpochMillis) -> String {
        "{ customers(query: \"\(search("updated_at", since: since))\", sortKey: ID) { edges { node { \(customerFields) } } } }"
    }

    static func bulkOrders(since: EpochMillis) -> String {
        "{ orders(query: \"\(search("created_at", since: since))\", sortKey: CREATED_AT) { edges { node { \(orderFields) "
            + "lineItems { edges { node { \(lineItemFields) } } } discountApplications { edges { node { \(discountApplicationFields) } } } } } } }"
    }

    static func pageCustomers(first: Int, since: EpochMillis) -> String {
        """
        query ShopTrailBackfillCustomers($cursor: String) {
          customers(first: \(first), after: $cursor, sortKey: ID, query: "\(search("updated_at", since: since))") {
            pageInfo { hasNextPage endCursor }
            nodes { \(customerFields) }
          }
        }
        """
    }

    static func pageOrders(first: Int, since: EpochMillis) -> String {
        """
        query ShopTrailBackfillOrders($cursor: String) {
          orders(first: \(first), after: $cursor, sortKey: CREATED_AT, query: "\(search("created_at", since: since))") {
            pageInfo { hasNextPage endCursor }
            nodes {
              \(orderFields)
              lineItems(first: \(lineItemsPerOrder)) { pageInfo { hasNextPage } nodes { \(lineItemFields) } }
              discountApplications(first: \(discountApplicationsPerOrder)) { pageInfo { hasNextPage } nodes { \(discountApplicationFields) } }
            }
          }
        }
        """
    }
}

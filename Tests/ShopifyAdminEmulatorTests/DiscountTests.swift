import Foundation
import HummingbirdTesting
import Testing
@testable import ShopifyAdminEmulator

/// `Order.discountApplications` (the `DiscountApplication` interface, `PricingValue` union), `LineItem.discountAllocations`
/// and the order's money sets, as shopify.dev defines them.
@Suite struct DiscountTests {
    static let orderQuery = """
        query Order($id: ID!) {
          order(id: $id) {
            discountCodes
            totalDiscountsSet { shopMoney { amount } }
            subtotalPriceSet { shopMoney { amount } }
            totalTaxSet { shopMoney { amount } }
            totalShippingPriceSet { shopMoney { amount currencyCode } }
            discountApplications(first: 5) {
              nodes {
                __typename index allocationMethod targetSelection targetType
                ... on DiscountCodeApplication { code }
                value { __typename ... on MoneyV2 { amount } ... on PricingPercentageValue { percentage } }
              }
            }
            lineItems(first: 10) {
              nodes {
                totalDiscountSet { shopMoney { amount } }
                discountAllocations {
                  allocatedAmountSet { shopMoney { amount } }
                  discountApplication { __typename index ... on DiscountCodeApplication { code } }
                }
              }
            }
          }
        }
        """

    static func cents(_ amount: ShopifyJSON?) -> Int64? {
        guard let text = amount?.stringValue, let value = Decimal(string: text, locale: Locale(identifier: "en_US_POSIX")) else { return nil }
        return NSDecimalNumber(decimal: value * 100).int64Value
    }

    @Test func aDiscountedOrderServesItsCodeApplicationAndAllocationsThatAddUpToItsDiscount() async throws {
        try await withEmulator { client, state in
            let data = await state.dataSet
            let cutoff = fixedNow.addingTimeInterval(-60 * 86_400)
            let order = try #require(data.orders.first { !$0.discountCodes.isEmpty && $0.lineItems.count > 1 && $0.createdAt > cutoff })
            let answer = try await client.graphql(Self.orderQuery, variables: ["id": .string(order.gid)])
            #expect(answer.errors.isEmpty, "\(answer.raw)")
            let node = try #require(answer.data?["order"])
            #expect(Self.cents(node["subtotalPriceSet"]?["shopMoney"]?["amount"]) == order.subtotalPrice.cents)
            #expect(Self.cents(node["totalTaxSet"]?["shopMoney"]?["amount"]) == order.totalTax.cents)
            #expect(node["totalShippingPriceSet"]?["shopMoney"] == ["amount": .string(order.totalShippingPrice.amount), "currencyCode": .string(order.currencyCode)])

            let applications = try #require(node["discountApplications"]?["nodes"]?.arrayValue)
            #expect(applications.count == 1)
            let application = try #require(applications.first)
            // Only the fragment of the value's own type applies: no `amount` on a percentage.
            let percent = try #require(Names.discountCodes.first { $0.code == order.discountCodes[0] }).percent
            #expect(application == [
                "__typename": "DiscountCodeApplication", "index": 0, "allocationMethod": "ACROSS", "targetSelection": "ALL", "targetType": "LINE_ITEM",
                "code": .string(order.discountCodes[0]), "value": ["__typename": "PricingPercentageValue", "percentage": .double(Double(percent))],
            ])
            let lines = try #require(node["lineItems"]?["nodes"]?.arrayValue)
            let allocations = lines.flatMap { $0["discountAllocations"]?.arrayValue ?? [] }
            #expect(allocations.count == order.lineItems.count)
            #expect(allocations.allSatisfy { $0["discountApplication"] == ["__typename": "DiscountCodeApplication", "index": 0, "code": .string(order.discountCodes[0])] })
            #expect(allocations.compactMap { Self.cents($0["allocatedAmountSet"]?["shopMoney"]?["amount"]) }.reduce(0, +) == order.totalDiscounts.cents)
            #expect(lines.compactMap { Self.cents($0["totalDiscountSet"]?["shopMoney"]?["amount"]) }.reduce(0, +) == order.totalDiscounts.cents)
        }
    }

    @Test func theGeneratedAllocationsAddUpToEveryOrdersDiscount() async throws {
        let data = ShopifyDataSet.generate(seed: 7, customers: 200, orders: 2_000, products: 40, now: fixedNow)
        let discounted = data.orders.filter { !$0.discountCodes.isEmpty }
        #expect(!discounted.isEmpty)
        for order in data.orders {
            let allocated = order.lineItems.flatMap(\.discountAllocations).reduce(Int64(0)) { $0 + $1.amount.cents }
            #expect(allocated == order.totalDiscounts.cents)
            #expect(order.discountApplications.compactMap(\.code) == order.discountCodes)
            #expect(order.lineItems.allSatisfy { $0.discountAllocations.allSatisfy { $0.amount.cents >= 0 } })
        }
    }

    @Test func fragmentsInsideAnInterfaceAreCheckedAgainstItsTypes() async throws {
        try await withEmulator { client, state in
            let order = try #require(await state.dataSet.orders.last)
            // A type that cannot be a discount application, and an implementation's field asked on the interface.
            let answer = try await client.graphql("""
                { order(id: "\(order.gid)") { discountApplications(first: 1) { nodes { ... on Product { title } code } } } }
                """)
            #expect(answer.errorCodes.contains("fragmentSpreadTypeMismatch"))
            #expect(answer.errorCodes.contains("undefinedField"))
            #expect(answer.data == nil || answer.data == .null)
        }
    }

    @Test func aBulkQueryWritesDiscountApplicationsAsChildLinesWithTheirType() async throws {
        try await withEmulator({ $0.bulkMinimumDuration = .milliseconds(20) }) { client, state in
            let data = await state.dataSet
            let query = """
                { orders(query: "created_at:>=2026-04-15") { edges { node { id discountCodes
                  lineItems { edges { node { id discountAllocations { allocatedAmountSet { shopMoney { amount } } discountApplication { index } } } } }
                  discountApplications { edges { node { __typename index ... on DiscountCodeApplication { code } } } } } } } }
                """
            let started = try await client.graphql(BulkOperationTests.run, variables: ["query": .string(query)])
            #expect(started.data?["bulkOperationRunQuery"]?["userErrors"] == [])
            let done = try await BulkOperationTests.waitForCompletion(client)
            #expect(done["status"] == "COMPLETED")
            let url = try #require(done["url"]?.stringValue)
            let path = try #require(URL(string: url)).path
            let lines = try await client.get(path).raw.split(separator: "\n").compactMap { ShopifyJSON.parse(String($0)) }
            let since = try #require(ShopifyTime.parse("2026-04-15"))
            let orders = data.orders.filter { $0.createdAt >= since }
            let discountLines = lines.filter { $0["__typename"] == "DiscountCodeApplication" }
            #expect(discountLines.count == orders.filter { !$0.discountCodes.isEmpty }.count)
            #expect(discountLines.allSatisfy { $0["__parentId"]?.stringValue?.hasPrefix("gid://shopify/Order/") == true && $0["index"] == 0 })
            let order = try #require(orders.first { !$0.discountCodes.isEmpty })
            #expect(discountLines.first { $0["__parentId"] == .string(order.gid) }?["code"] == .string(order.discountCodes[0]))
        }
    }
}

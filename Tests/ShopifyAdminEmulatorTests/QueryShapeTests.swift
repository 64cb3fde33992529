import Foundation
import HummingbirdTesting
import Testing
@testable import ShopifyAdminEmulator

@Suite struct QueryShapeTests {
    @Test func exactlyTheSelectedFieldsInOrderWithAliases() async throws {
        try await withEmulator { client, state in
            let data = await state.dataSet
            let product = try #require(data.products.first)
            let answer = try await client.graphql("""
                {
                  p: product(id: "\(product.gid)") {
                    __typename
                    name: title
                    handle
                    first: variants(first: 1) { nodes { id } }
                    all: variants(first: 10) { edges { cursor node { __typename sku } } }
                  }
                }
                """)
            #expect(answer.errors.isEmpty)
            let p = try #require(answer.data?["p"])
            #expect(p.keys == ["__typename", "name", "handle", "first", "all"])
            #expect(p["__typename"] == "Product")
            #expect(p["name"] == .string(product.title))
            #expect(p["first"] == ["nodes": [["id": .string(product.variants[0].gid)]]])
            let edges = try #require(p["all"]?["edges"]?.arrayValue)
            #expect(edges.count == product.variants.count)
            #expect(edges.first?.keys == ["cursor", "node"])
            #expect(edges.first?["node"] == ["__typename": "ProductVariant", "sku": .from(product.variants[0].sku)])
            // Key order on the wire follows the selection.
            #expect(answer.raw.hasPrefix("{\"data\":{\"p\":{\"__typename\":\"Product\",\"name\":"))
        }
    }

    @Test func fragmentsDirectivesAndBlockStrings() async throws {
        try await withEmulator { client, state in
            let customer = try #require(await state.dataSet.customers.first { $0.email != nil })
            let answer = try await client.graphql("""
                query One($id: ID!, $withPhone: Boolean = false) {
                  customer(id: $id) { ...Basics ... on Customer { tags } phone @include(if: $withPhone) note @skip(if: true) }
                  byBlock: customers(first: 1, query: \"\"\"
                      email:'\(customer.email ?? "")'
                  \"\"\") { nodes { id } }
                }
                fragment Basics on Customer { id email }
                """, variables: ["id": .string(customer.gid)])
            #expect(answer.errors.isEmpty)
            #expect(answer.data?["customer"]?.keys == ["id", "email", "tags"])
            #expect(answer.data?["byBlock"]?["nodes"] == [["id": .string(customer.gid)]])
        }
    }

    @Test func customerFieldsMatchTheDataSet() async throws {
        try await withEmulator { client, state in
            let data = await state.dataSet
            let customer = try #require(data.customers.first { $0.numberOfOrders > 1 && $0.email != nil && $0.phone != nil && $0.smsMarketingState != nil })
            let answer = try await client.graphql("""
                query($id: ID!) { customer(id: $id) {
                  id legacyResourceId firstName lastName email phone tags createdAt updatedAt numberOfOrders
                  amountSpent { amount currencyCode }
                  defaultAddress { city province zip country countryCodeV2 }
                  defaultEmailAddress { emailAddress marketingState }
                  defaultPhoneNumber { phoneNumber marketingState }
                  emailMarketingConsent { marketingState }
                  smsMarketingConsent { marketingState }
                } }
                """, variables: ["id": .string(customer.gid)])
            #expect(answer.errors.isEmpty)
            let node = try #require(answer.data?["customer"])
            #expect(node["legacyResourceId"] == .string(String(customer.id)))
            #expect(numericId(node["id"]?.stringValue) == customer.id)
            #expect(node["email"] == .from(customer.email))
            #expect(node["numberOfOrders"] == .string(String(customer.numberOfOrders)))  // UnsignedInt64 is a string
            #expect(node["amountSpent"] == ["amount": .string(customer.amountSpent.amount), "currencyCode": "EUR"])
            #expect(node["createdAt"] == .string(ShopifyTime.format(customer.createdAt)))
            #expect(node["defaultEmailAddress"]?["marketingState"] == .string(customer.emailMarketingState?.rawValue ?? ""))
            #expect(node["smsMarketingConsent"]?["marketingState"] == .string(customer.smsMarketingState?.rawValue ?? ""))
            #expect(node["defaultAddress"]?["city"] == .from(customer.defaultAddress?.city))
            // numberOfOrders and amountSpent agree with the generated orders.
            let own = data.orders.filter { $0.customerId == customer.id }
            #expect(own.count == customer.numberOfOrders)
            #expect(own.reduce(0) { $0 + $1.totalPrice.cents } == customer.amountSpent.cents)
        }
    }

    @Test func orderFieldsAndMoneyShapes() async throws {
        try await withEmulator({ $0.accessScopes.append("read_all_orders") }) { client, state in
            let data = await state.dataSet
            let order = try #require(data.orders.last { $0.customerId != nil && $0.lineItems.count > 1 })
            let answer = try await client.graphql("""
                { order(id: "\(order.gid)") {
                  id name createdAt email test cancelledAt displayFinancialStatus statusPageUrl discountCodes
                  customer { id }
                  totalPriceSet { shopMoney { amount currencyCode } }
                  subtotalPriceSet { shopMoney { amount } presentmentMoney { amount } }
                  lineItems(first: 10) { nodes { id title sku quantity variant { id } product { id }
                    originalUnitPriceSet { shopMoney { amount currencyCode } } } }
                } }
                """)
            #expect(answer.errors.isEmpty)
            let node = try #require(answer.data?["order"])
            #expect(node["name"] == .string(order.name))
            #expect(node["totalPriceSet"] == ["shopMoney": ["amount": .string(order.totalPrice.amount), "currencyCode": "EUR"]])
            #expect(node["customer"]?["id"] == .string("gid://shopify/Customer/\(order.customerId ?? 0)"))
            let lines = try #require(node["lineItems"]?["nodes"]?.arrayValue)
            #expect(lines.count == order.lineItems.count)
            #expect(lines[0]["variant"]?["id"] == .string("gid://shopify/ProductVariant/\(order.lineItems[0].variantId ?? 0)"))
            #expect(lines[0]["originalUnitPriceSet"]?["shopMoney"]?["amount"] == .string(order.lineItems[0].unitPrice.amount))
            #expect(order.totalPrice.amount.range(of: #"^\d+\.\d\d$"#, options: .regularExpression) != nil)
        }
    }

    @Test func productCatalogFieldsForBraze() async throws {
        try await withEmulator { client, state in
            let product = try #require(await state.dataSet.products.first { $0.status == .active && $0.variants.count > 1 })
            let answer = try await client.graphql("""
                { product(id: "\(product.gid)") { id title handle vendor productType status onlineStoreUrl
                  featuredImage { url } options { name values }
                  variants(first: 10) { nodes { id title sku price compareAtPrice inventoryQuantity image { url }
                    selectedOptions { name value } inventoryItem { id } } } } }
                """)
            #expect(answer.errors.isEmpty)
            let node = try #require(answer.data?["product"])
            #expect(node["onlineStoreUrl"] == .string("https://fixture-shop.myshopify.com/products/\(product.handle)"))
            #expect(node["status"] == "ACTIVE")
            let variant = try #require(node["variants"]?["nodes"]?[0])
            #expect(variant["price"] == .string(product.variants[0].price.amount))
            #expect(variant["inventoryItem"]?["id"] == .string(product.variants[0].inventoryItemGid))
            #expect(variant["selectedOptions"] == .array(product.variants[0].selectedOptions.map { ["name": .string($0.name), "value": .string($0.value)] }))
        }
    }
}

import Foundation
import HummingbirdTesting
import Testing
@testable import ShopifyAdminEmulator

@Suite struct InventoryAndMutationTests {
    @Test func inventoryChangeIsVisibleInTheNextQuery() async throws {
        let clock = TestClock()
        try await withEmulator({ $0.now = { clock.now() } }) { client, state in
            let variant = try #require(await state.dataSet.allVariants.first { $0.inventoryQuantity > 0 })
            clock.advance(seconds: 3600)
            let webhook = try await client.post("/_emulator/inventory", raw: "{\"inventory_item_id\": \(variant.inventoryItemId), \"available\": 0}")
            #expect(webhook.status == 200)
            #expect(webhook.body == [
                "inventory_item_id": .int(variant.inventoryItemId), "location_id": 76_543_210_987, "available": 0,
                "updated_at": .string(ShopifyTime.format(clock.now())),
                "admin_graphql_api_id": .string("gid://shopify/InventoryLevel/76543210987?inventory_item_id=\(variant.inventoryItemId)"),
            ])
            // The big id is written as a JSON number, digit for digit.
            #expect(webhook.raw.contains("\"inventory_item_id\":\(variant.inventoryItemId)"))
            let answer = try await client.graphql("{ productVariant(id: \"\(variant.gid)\") { inventoryQuantity availableForSale updatedAt } }")
            #expect(answer.data?["productVariant"] == ["inventoryQuantity": 0, "availableForSale": false,
                                                       "updatedAt": .string(ShopifyTime.format(clock.now()))])
            // Incremental catalog sync finds it by updated_at.
            let since = ShopifyTime.format(clock.now().addingTimeInterval(-1))
            let changed = try await client.graphql("{ products(first: 10, query: \"updated_at:>'\(since)'\") { nodes { id } } }")
            #expect(changed.data?["products"]?["nodes"] == [["id": .string("gid://shopify/Product/\(variant.productId)")]])
            let missing = try await client.post("/_emulator/inventory", raw: "{\"inventory_item_id\": 1, \"available\": 3}")
            #expect(missing.status == 404)
        }
    }

    @Test func productEditsBumpUpdatedAtAndFollowStatus() async throws {
        let clock = TestClock()
        try await withEmulator({ $0.now = { clock.now() } }) { client, state in
            let product = try #require(await state.dataSet.products.first { $0.status == .active })
            clock.advance(seconds: 60)
            let updated = try #require(await state.updateProduct(id: product.id) { $0.status = .draft; $0.title = "Renamed" })
            #expect(updated.updatedAt == clock.now())
            #expect(updated.onlineStoreUrl == nil)
            let answer = try await client.graphql("{ product(id: \"\(product.gid)\") { title status onlineStoreUrl } }")
            #expect(answer.data?["product"] == ["title": "Renamed", "status": "DRAFT", "onlineStoreUrl": .null])
            let price = try #require(await state.updateVariant(id: product.variants[0].id) { $0.price.cents = 1234 })
            #expect(price.price.amount == "12.34")
            #expect(await state.updateProduct(id: product.id) { $0.id = 1 } == nil)
            let route = try await client.post("/_emulator/product", raw: "{\"id\": \"\(product.gid)\", \"status\": \"active\"}", token: nil)
            #expect(route.body["status"] == "active")
            await state.reset()
            #expect(await state.dataSet.products.first { $0.id == product.id } == product)
        }
    }

    @Test func resetRoute() async throws {
        try await withEmulator { client, state in
            _ = try await client.graphql("{ shop { name } }")
            let answer = try await client.post("/_emulator/reset", raw: "", token: nil)
            #expect(answer.status == 200)
            #expect(await state.stats() == ShopifyEmulatorStats(requests: 0, throttled: 0, maxCostExceeded: 0, bulkOperations: 0, pointsSpent: 0, currentlyAvailable: 2000))
        }
    }
}

import Foundation
import HummingbirdTesting
import Testing
@testable import ShopifyAdminEmulator

@Suite struct PaginationAndSearchTests {
    static let ordersPage = """
        query Orders($cursor: String, $query: String) {
          orders(first: 250, after: $cursor, sortKey: CREATED_AT, query: $query) {
            pageInfo { hasNextPage endCursor }
            nodes { id createdAt }
          }
        }
        """

    /// Walks every page of `orders`; returns the ids in answer order and the number of pages.
    static func walkOrders(_ client: any TestClientProtocol, query: String? = nil) async throws -> (ids: [Int64], pages: Int) {
        var ids: [Int64] = []
        var cursor: ShopifyJSON = .null
        var pages = 0
        while true {
            var variables: [(String, ShopifyJSON)] = [("cursor", cursor)]
            if let query { variables.append(("query", .string(query))) }
            let answer = try await client.graphql(ordersPage, variables: .object(variables))
            try #require(answer.errors.isEmpty, "\(answer.raw.prefix(300))")
            let connection = try #require(answer.data?["orders"])
            for node in connection["nodes"]?.arrayValue ?? [] {
                let gid = try #require(node["id"]?.stringValue)
                ids.append(try #require(numericId(gid)))
            }
            pages += 1
            guard connection["pageInfo"]?["hasNextPage"] == true else { break }
            cursor = try #require(connection["pageInfo"]?["endCursor"])
            try #require(pages < 1_000)
        }
        return (ids, pages)
    }

    @Test func walksEveryOrderExactlyOnceWithFullSizedPages() async throws {
        try await withEmulator({
            $0.orderCount = 20_000
            $0.customerCount = 5_000
            $0.productCount = 200
            $0.accessScopes.append("read_all_orders")
            $0.throttle = ShopifyThrottleConfiguration(maximumAvailable: 1_000_000, restoreRate: 100)
        }) { client, state in
            let data = await state.dataSet
            let started = ContinuousClock.now
            let (ids, pages) = try await Self.walkOrders(client)
            let elapsed = ContinuousClock.now - started
            #expect(pages == 80)
            #expect(ids.count == 20_000)
            #expect(Set(ids).count == 20_000)
            // CREATED_AT order, and the ids (beyond 2^53) survived as strings.
            #expect(ids == data.orders.sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }.map(\.id))
            #expect(ids.allSatisfy { $0 > 1 << 53 })
            print("walked 80 pages of 250 orders in \(elapsed)")
        }
    }

    @Test func createdAtFilterSelectsTheWindow() async throws {
        try await withEmulator({ $0.accessScopes.append("read_all_orders") }) { client, state in
            let data = await state.dataSet
            let since = fixedNow.addingTimeInterval(-90 * 86_400)
            let until = fixedNow.addingTimeInterval(-30 * 86_400)
            let query = "created_at:>='\(ShopifyTime.format(since))' AND created_at:<\(ShopifyTime.format(until))"
            let (ids, _) = try await Self.walkOrders(client, query: query)
            let expected = data.orders.filter { $0.createdAt >= since && $0.createdAt < until }.map(\.id)
            #expect(!expected.isEmpty)
            #expect(ids == expected)
            let counted = try await client.graphql("{ ordersCount(query: \"\(query.replacingOccurrences(of: "'", with: "\\\""))\") { count precision } }")
            #expect(counted.data?["ordersCount"] == ["count": .int(Int64(expected.count)), "precision": "EXACT"])
        }
    }

    @Test func updatedAtFilterOnProductsAndCustomers() async throws {
        try await withEmulator { client, state in
            let data = await state.dataSet
            let since = data.products.map(\.updatedAt).sorted()[data.products.count / 2]
            let answer = try await client.graphql("""
                { products(first: 250, query: "updated_at:>'\(ShopifyTime.format(since))'") { nodes { id } }
                  customers(first: 250, query: "created_at:>=\(ShopifyTime.format(since)) tag:vip") { nodes { id } } }
                """)
            #expect(answer.errors.isEmpty)
            let products = answer.data?["products"]?["nodes"]?.arrayValue?.compactMap { numericId($0["id"]?.stringValue) } ?? []
            #expect(products == data.products.filter { $0.updatedAt > since }.map(\.id))
            let customers = answer.data?["customers"]?["nodes"]?.arrayValue?.compactMap { numericId($0["id"]?.stringValue) } ?? []
            #expect(customers == data.customers.filter { $0.createdAt >= since && $0.tags.contains("vip") }.map(\.id))
        }
    }

    @Test func unknownSearchFieldsAreIgnoredWithAWarning() async throws {
        try await withEmulator { client, _ in
            let answer = try await client.graphql("{ products(first: 5, query: \"colour:red\") { nodes { id } } }")
            #expect(answer.errors.isEmpty)
            #expect(answer.data?["products"]?["nodes"]?.arrayValue?.count == 5)
            #expect(answer.body["extensions"]?["search"] == [["path": ["products"], "query": "colour:red",
                                                              "warnings": [["field": "colour", "message": "Invalid search field for this query."]]]])
        }
    }

    @Test func sixtyDayLimitWithoutReadAllOrders() async throws {
        try await withEmulator { client, state in
            let data = await state.dataSet
            let cutoff = fixedNow.addingTimeInterval(-60 * 86_400)
            let visible = data.orders.filter { $0.createdAt >= cutoff }
            let hidden = try #require(data.orders.first { $0.createdAt < cutoff })
            let (ids, _) = try await Self.walkOrders(client)
            #expect(ids == visible.map(\.id))
            #expect(ids.count < data.orders.count / 2)
            let single = try await client.graphql("{ order(id: \"\(hidden.gid)\") { id } ordersCount(limit: null) { count } }")
            #expect(single.data?["order"] == .null)
            #expect(single.data?["ordersCount"]?["count"] == .int(Int64(visible.count)))
            // Even an explicit filter for old orders finds nothing.
            let old = try await client.graphql("{ orders(first: 5, query: \"created_at:<\(ShopifyTime.format(cutoff))\") { nodes { id } } }")
            #expect(old.data?["orders"]?["nodes"] == [])
        }
    }

    @Test func readAllOrdersSeesEverything() async throws {
        try await withEmulator({ $0.accessScopes.append("read_all_orders") }) { client, state in
            let data = await state.dataSet
            let (ids, _) = try await Self.walkOrders(client)
            #expect(ids.count == data.orders.count)
            let oldest = try #require(data.orders.first)
            let single = try await client.graphql("{ order(id: \"\(oldest.gid)\") { id createdAt } }")
            #expect(single.data?["order"]?["id"] == .string(oldest.gid))
            #expect(oldest.createdAt < fixedNow.addingTimeInterval(-170 * 86_400))
        }
    }

    @Test func backwardPaginationAndReverse() async throws {
        try await withEmulator { client, state in
            let data = await state.dataSet
            let forward = try await client.graphql("{ products(first: 10) { edges { cursor node { id } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }")
            let edges = try #require(forward.data?["products"]?["edges"]?.arrayValue)
            #expect(forward.data?["products"]?["pageInfo"]?["hasPreviousPage"] == false)
            #expect(forward.data?["products"]?["pageInfo"]?["startCursor"] == edges.first?["cursor"])
            let fifth = try #require(edges[4]["cursor"]?.stringValue)
            let before = try await client.graphql("{ products(last: 3, before: \"\(fifth)\") { nodes { id } pageInfo { hasNextPage hasPreviousPage } } }")
            #expect(before.data?["products"]?["nodes"] == .array(edges[1...3].compactMap { $0["node"] }))
            #expect(before.data?["products"]?["pageInfo"] == ["hasNextPage": true, "hasPreviousPage": true])
            let after = try await client.graphql("{ products(first: 2, after: \"\(fifth)\") { nodes { id } pageInfo { hasPreviousPage } } }")
            #expect(after.data?["products"]?["nodes"] == .array(edges[5...6].compactMap { $0["node"] }))
            #expect(after.data?["products"]?["pageInfo"]?["hasPreviousPage"] == true)
            let reversed = try await client.graphql("{ products(first: 3, reverse: true) { nodes { id } } }")
            #expect(reversed.data?["products"]?["nodes"] == .array(data.products.suffix(3).reversed().map { ["id": .string($0.gid)] }))
        }
    }

    @Test func dateRangesOnTheSortKeyAgreeWithAPlainScan() async throws {
        try await withEmulator({ $0.accessScopes.append("read_all_orders") }) { client, state in
            let data = await state.dataSet
            let until = fixedNow.addingTimeInterval(-100 * 86_400)
            let filter = "created_at:<=\\\"\(ShopifyTime.format(until))\\\" processed_at:>2025-12-24"
            let answer = try await client.graphql("""
                { sorted: orders(first: 7, reverse: true, sortKey: CREATED_AT, query: "\(filter)") { nodes { id } pageInfo { hasNextPage } }
                  plain: orders(first: 7, reverse: true, sortKey: ID, query: "\(filter)") { nodes { id } }
                  none: orders(first: 7, sortKey: CREATED_AT, query: "created_at:>2026-02-01 created_at:<2026-01-01") { nodes { id } } }
                """)
            #expect(answer.errors.isEmpty)
            let since = try #require(ShopifyTime.parse("2025-12-24"))
            let expected = data.orders.filter { $0.createdAt <= until && $0.processedAt > since }.suffix(7).reversed().map { ShopifyJSON.object([("id", .string($0.gid))]) }
            #expect(expected.count == 7)
            #expect(answer.data?["sorted"]?["nodes"] == .array(Array(expected)))
            #expect(answer.data?["plain"]?["nodes"] == .array(Array(expected)))
            #expect(answer.data?["sorted"]?["pageInfo"]?["hasNextPage"] == true)
            #expect(answer.data?["none"]?["nodes"] == [])
        }
    }
}

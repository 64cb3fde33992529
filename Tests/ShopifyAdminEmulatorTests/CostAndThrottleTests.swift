import Foundation
import HummingbirdTesting
import Testing
@testable import ShopifyAdminEmulator

@Suite struct CostAndThrottleTests {
    @Test func requestedCostFollowsShopifysFormula() async throws {
        try await withEmulator { client, _ in
            // Connection: 2 + first × (1 per node + nested objects); scalars free.
            let flat = try await client.graphql("{ products(first: 10) { edges { node { id title } } pageInfo { hasNextPage } } }")
            #expect(flat.requestedCost == 12)
            #expect(flat.cost?["actualQueryCost"] == 12)
            let nested = try await client.graphql("{ products(first: 5) { nodes { id featuredImage { url } variants(first: 4) { nodes { id } } } } }")
            let expected: Int64 = 2 + 5 * (1 + 1 + (2 + 4 * 1))
            #expect(nested.requestedCost == expected)
            let objects = try await client.graphql("{ shop { name primaryDomain { host } } }")
            #expect(objects.requestedCost == 2)
        }
    }

    @Test func actualCostRefundsWhatWasNotReturned() async throws {
        try await withEmulator { client, state in
            let answer = try await client.graphql("{ products(first: 250, query: \"status:archived\") { nodes { id } } }")
            let archived = await state.dataSet.products.filter { $0.status == .archived }.count
            #expect(answer.requestedCost == 252)
            #expect(answer.cost?["actualQueryCost"] == .int(Int64(2 + archived)))
            #expect(answer.currentlyAvailable == Int64(2000 - 2 - archived))
            #expect(await state.stats().pointsSpent == 2 + archived)
        }
    }

    @Test func maxCostExceeded() async throws {
        try await withEmulator { client, state in
            let answer = try await client.graphql("{ orders(first: 250) { nodes { id lineItems(first: 10) { nodes { id } } } } }")
            #expect(answer.status == 200)
            #expect(answer.data == nil)
            let cost = 2 + 250 * (1 + 2 + 10)
            #expect(answer.errors.first?["extensions"] == ["code": "MAX_COST_EXCEEDED", "cost": .int(Int64(cost)), "maxCost": 1000])
            #expect(answer.firstError?.hasPrefix("Query cost is \(cost), which exceeds the single query max cost limit (1000).") == true)
            #expect(answer.requestedCost == Int64(cost))
            #expect(answer.cost?["actualQueryCost"] == .null)
            #expect(answer.currentlyAvailable == 2000)
            #expect(await state.stats().maxCostExceeded == 1)
        }
    }

    @Test func drainingTheBucketThrottlesThenItRestores() async throws {
        let clock = TestClock()
        try await withEmulator({ $0.now = { clock.now() } }) { client, state in
            // Requests 2 + 40 × (1 + 2 + 5) = 322 points; what is not returned (missing variants) is refunded,
            // so the bucket drains by ~220 per query and a fast loop hits THROTTLED within a dozen queries.
            let query = "{ products(first: 40) { nodes { id variants(first: 5) { nodes { id } } } } }"
            var answers: [Answer] = []
            for _ in 0..<20 {
                let answer = try await client.graphql(query)
                answers.append(answer)
                if answer.errorCodes == ["THROTTLED"] { break }
            }
            let throttled = try #require(answers.last)
            #expect(throttled.status == 200)
            #expect(throttled.errorCodes == ["THROTTLED"])
            #expect(throttled.firstError == "Throttled")
            #expect(throttled.errors.first?["extensions"] == ["code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"])
            #expect(throttled.data == nil)
            let requested = try #require(throttled.requestedCost)
            let available = try #require(throttled.currentlyAvailable)
            #expect(available < requested)
            #expect(throttled.cost?["actualQueryCost"] == .null)
            #expect(await state.stats().throttled == 1)
            // 100 points per second come back.
            let needed = Double(requested - available) / 100
            clock.advance(seconds: needed + 0.01)
            let again = try await client.graphql(query)
            #expect(again.errors.isEmpty)
            clock.advance(seconds: 60)
            let full = try await client.graphql("{ shop { name } }")
            #expect(full.currentlyAvailable == 1999)
            #expect(await state.stats().currentlyAvailable == 1999)
        }
    }

    @Test func statsRoute() async throws {
        try await withEmulator { client, _ in
            _ = try await client.graphql("{ shop { name } }")
            _ = try await client.graphql("{ shop { name } }", token: nil)
            let stats = try await client.get("/_emulator/stats")
            #expect(stats.body == ["requests": 2, "throttled": 0, "maxCostExceeded": 0, "bulkOperations": 0, "pointsSpent": 1, "currentlyAvailable": 1999])
            let summary = try await client.get("/_emulator/dataset/summary")
            #expect(summary.body["orders"] == 1200)
            #expect(summary.body["customers"] == 300)
        }
    }
}

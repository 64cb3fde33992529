import Foundation
import HummingbirdTesting
import Testing
@testable import ShopifyAdminEmulator

@Suite struct BulkOperationTests {
    static let run = """
        mutation Run($query: String!) {
          bulkOperationRunQuery(query: $query, groupObjects: false) {
            bulkOperation { id status }
            userErrors { field message code }
          }
        }
        """

    static let ordersQuery = """
        {
          orders(query: "created_at:>=2026-03-01") {
            edges { node { id name totalPriceSet { shopMoney { amount } }
              lineItems { edges { node { id sku quantity } } } } }
          }
        }
        """

    static let poll = "{ currentBulkOperation { id status errorCode objectCount rootObjectCount fileSize url partialDataUrl createdAt completedAt } }"

    /// Polls `currentBulkOperation` until it finishes.
    static func waitForCompletion(_ client: any TestClientProtocol) async throws -> ShopifyJSON {
        let deadline = ContinuousClock.now + .seconds(300)
        while ContinuousClock.now < deadline {
            let answer = try await client.graphql(poll)
            let operation = try #require(answer.data?["currentBulkOperation"])
            if let status = operation["status"]?.stringValue, !["CREATED", "RUNNING", "CANCELING"].contains(status) { return operation }
            try await Task.sleep(for: .milliseconds(25))
        }
        Issue.record("bulk operation did not finish")
        return .null
    }

    @Test func bulkQueryRunsCompletesAndWritesJSONLWithParentIds() async throws {
        // Long enough that the first poll surely sees it unfinished, even on a machine busy with builds
        // (5 s was not, once, with the whole suite and three builds sharing two cores).
        try await withEmulator({ $0.bulkMinimumDuration = .seconds(20) }) { client, state in
            let data = await state.dataSet
            let started = try await client.graphql(Self.run, variables: ["query": .string(Self.ordersQuery)])
            #expect(started.errors.isEmpty)
            #expect(started.requestedCost == 10)
            let payload = try #require(started.data?["bulkOperationRunQuery"])
            #expect(payload["userErrors"] == [])
            #expect(payload["bulkOperation"]?["status"] == "CREATED")
            let gid = try #require(payload["bulkOperation"]?["id"]?.stringValue)
            #expect(gid.hasPrefix("gid://shopify/BulkOperation/"))

            let running = try await client.graphql(Self.poll)
            #expect(["CREATED", "RUNNING"].contains(running.data?["currentBulkOperation"]?["status"]?.stringValue ?? ""))

            let done = try await Self.waitForCompletion(client)
            #expect(done["status"] == "COMPLETED")
            #expect(done["id"] == .string(gid))
            // Same 60-day access window and search as normal queries.
            let since = try #require(ShopifyTime.parse("2026-03-01"))
            let cutoff = fixedNow.addingTimeInterval(-60 * 86_400)
            let orders = data.orders.filter { $0.createdAt >= since && $0.createdAt >= cutoff }
            let lineCount = orders.reduce(0) { $0 + $1.lineItems.count }
            #expect(done["rootObjectCount"] == .string(String(orders.count)))
            #expect(done["objectCount"] == .string(String(orders.count + lineCount)))

            let url = try #require(done["url"]?.stringValue)
            let path = try #require(URL(string: url)).path
            #expect(path == "/_emulator/bulk/\(numericId(gid) ?? 0).jsonl")
            let file = try await client.get(path)
            #expect(file.status == 200)
            #expect(done["fileSize"] == .string(String(file.raw.utf8.count)))
            let lines = file.raw.split(separator: "\n").compactMap { ShopifyJSON.parse(String($0)) }
            #expect(lines.count == orders.count + lineCount)
            let roots = lines.filter { $0["__parentId"] == nil }
            let children = lines.filter { $0["__parentId"] != nil }
            #expect(roots.map { $0["id"] } == orders.map { .string($0.gid) })
            #expect(roots.first?.keys == ["id", "name", "totalPriceSet"])
            #expect(children.count == lineCount)
            #expect(children.first?.keys == ["id", "sku", "quantity", "__parentId"])
            // Each child names its parent, and parents come first.
            var seenParents = Set<String>()
            for line in lines {
                if let parent = line["__parentId"]?.stringValue {
                    #expect(seenParents.contains(parent))
                } else if let id = line["id"]?.stringValue {
                    seenParents.insert(id)
                }
            }
            let first = try #require(orders.first)
            #expect(children.filter { $0["__parentId"] == .string(first.gid) }.map { $0["id"] } == first.lineItems.map { .string($0.gid) })
            #expect(await state.stats().bulkOperations == 1)

            let byId = try await client.graphql("{ bulkOperation(id: \"\(gid)\") { status query } }")
            #expect(byId.data?["bulkOperation"]?["status"] == "COMPLETED")
            #expect(byId.data?["bulkOperation"]?["query"] == .string(Self.ordersQuery))
        }
    }

    @Test func aSecondBulkQueryIsRefusedWhileOneRuns() async throws {
        // It is cancelled long before it could finish, however busy the machine.
        try await withEmulator({ $0.bulkMinimumDuration = .seconds(60) }) { client, _ in
            let first = try await client.graphql(Self.run, variables: ["query": "{ products { edges { node { id } } } }"])
            let gid = try #require(first.data?["bulkOperationRunQuery"]?["bulkOperation"]?["id"]?.stringValue)
            let second = try await client.graphql(Self.run, variables: ["query": "{ customers { edges { node { id } } } }"])
            let payload = try #require(second.data?["bulkOperationRunQuery"])
            #expect(payload["bulkOperation"] == .null)
            let error = try #require(payload["userErrors"]?[0])
            #expect(error["message"] == .string("A bulk query operation for this app and shop is already in progress: \(gid)."))
            #expect(error["code"] == "OPERATION_IN_PROGRESS")
            // Cancel it, then a new one may start.
            let cancel = try await client.graphql("mutation { bulkOperationCancel(id: \"\(gid)\") { bulkOperation { status } userErrors { message } } }")
            #expect(cancel.data?["bulkOperationCancel"]?["bulkOperation"]?["status"] == "CANCELING")
            let cancelled = try await Self.waitForCompletion(client)
            #expect(cancelled["status"] == "CANCELED")
            #expect(cancelled["url"] == .null)
            let third = try await client.graphql(Self.run, variables: ["query": "{ customers { edges { node { id } } } }"])
            #expect(third.data?["bulkOperationRunQuery"]?["userErrors"] == [])
        }
    }

    @Test func bulkQueryShapeIsValidated() async throws {
        try await withEmulator { client, _ in
            func userErrors(_ query: String) async throws -> [String] {
                let answer = try await client.graphql(Self.run, variables: ["query": .string(query)])
                #expect(answer.data?["bulkOperationRunQuery"]?["bulkOperation"] == .null)
                return answer.data?["bulkOperationRunQuery"]?["userErrors"]?.arrayValue?.compactMap { $0["message"]?.stringValue } ?? []
            }
            #expect(try await userErrors("{ shop { name } }") == ["Bulk queries must contain at least one connection."])
            #expect(try await userErrors("""
                { customers { edges { node { orders { edges { node { lineItems { edges { node { id } } } } } } } } } }
                """) == ["Bulk queries cannot contain connections with a nesting depth greater than 2."])
            #expect(try await userErrors("""
                { products { edges { node { a: variants { nodes { id } } b: variants { nodes { id } } c: variants { nodes { id } }
                  d: variants { nodes { id } } e: variants { nodes { id } } } } } }
                """) == ["Bulk queries cannot contain more than 5 connections."])
            let unknown = try await userErrors("{ orders { edges { node { colour } } } }")
            #expect(unknown == ["Invalid bulk query: Field 'colour' doesn't exist on type 'Order'"])
            let syntax = try await userErrors("{ orders { ")
            #expect(syntax.first?.hasPrefix("Invalid bulk query:") == true)
        }
    }

    @Test func emptyResultHasNoURLAndNodesSpellingWorks() async throws {
        try await withEmulator { client, _ in
            let none = try await client.graphql(Self.run, variables: ["query": "{ products(query: \"status:nope\") { nodes { id } } }"])
            #expect(none.data?["bulkOperationRunQuery"]?["userErrors"] == [])
            let done = try await Self.waitForCompletion(client)
            #expect(done["status"] == "COMPLETED")
            #expect(done["objectCount"] == "0")
            #expect(done["url"] == .null)
        }
    }

    @Test func bulkWithoutTheScopeFails() async throws {
        try await withEmulator({ $0.accessScopes = ["read_products"] }) { client, _ in
            _ = try await client.graphql(Self.run, variables: ["query": "{ customers { edges { node { id } } } }"])
            let done = try await Self.waitForCompletion(client)
            #expect(done["status"] == "FAILED")
            #expect(done["errorCode"] == "ACCESS_DENIED")
        }
    }
}

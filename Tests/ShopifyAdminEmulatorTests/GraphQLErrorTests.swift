import Foundation
import HummingbirdTesting
import Testing
@testable import ShopifyAdminEmulator

@Suite struct GraphQLErrorTests {
    @Test func syntaxErrorIs200WithLocation() async throws {
        try await withEmulator { client, _ in
            let answer = try await client.graphql("{ shop { name }")
            #expect(answer.status == 200)
            #expect(answer.data == nil)
            #expect(answer.firstError == "Unexpected end of document")
            let other = try await client.graphql("{\n  shop { name ) }")
            #expect(other.firstError == "Parse error on \")\" (RPAREN) at [2, 15]")
            #expect(other.errors.first?["locations"] == [["line": 2, "column": 15]])
            #expect(other.cost != nil)
        }
    }

    @Test func unknownFieldNamesTypeAndPath() async throws {
        try await withEmulator { client, _ in
            let answer = try await client.graphql("query Backfill { customers(first: 1) { edges { node { id favouriteColour } } } }")
            #expect(answer.status == 200)
            #expect(answer.data == nil)
            let error = try #require(answer.errors.first)
            #expect(error["message"] == "Field 'favouriteColour' doesn't exist on type 'Customer'")
            #expect(error["locations"] == [["line": 1, "column": 58]])
            #expect(error["path"] == ["query Backfill", "customers", "edges", "node", "favouriteColour"])
            #expect(error["extensions"] == ["code": "undefinedField", "typeName": "Customer", "fieldName": "favouriteColour"])
        }
    }

    @Test func everyStaticErrorIsReportedAtOnce() async throws {
        try await withEmulator { client, _ in
            let answer = try await client.graphql("""
                query($unused: String, $n: Int) {
                  shop { nam }
                  orders(first: 1, colour: RED) { nodes { id } }
                  customer { id }
                  product(id: "gid://shopify/Product/1") { title { x } }
                  productVariant(id: "gid://shopify/ProductVariant/1")
                  products(first: $n, sortKey: PRICE) { nodes { id } }
                }
                """)
            #expect(Set(answer.errorCodes) == ["undefinedField", "argumentNotAccepted", "missingRequiredArguments", "selectionMismatch",
                                                "argumentLiteralsIncompatible", "variableNotUsed"])
            let messages = answer.errors.compactMap { $0["message"]?.stringValue }
            #expect(messages.contains("Field 'customer' is missing required arguments: id"))
            #expect(messages.contains("Field 'orders' doesn't accept argument 'colour'"))
            #expect(messages.contains("Argument 'sortKey' on Field 'products' has an invalid value (PRICE). Expected type 'ProductSortKeys'."))
            #expect(messages.contains("Variable $unused is declared by anonymous query but not used"))
        }
    }

    @Test func variablesAreCheckedAndCoerced() async throws {
        try await withEmulator { client, _ in
            let wrongType = try await client.graphql("query($n: Int!) { orders(first: $n) { nodes { id } } }", variables: ["n": "ten"])
            #expect(wrongType.firstError == "Variable $n of type Int! was provided invalid value")
            let missing = try await client.graphql("query($n: Int!) { orders(first: $n) { nodes { id } } }")
            #expect(missing.firstError == "Variable $n of type Int! was provided invalid value")
            let undeclared = try await client.graphql("{ orders(first: $n) { nodes { id } } }")
            #expect(undeclared.errorCodes == ["variableNotDefined"])
            let mismatch = try await client.graphql("query($c: Int) { orders(first: 1, after: $c) { nodes { id } } }", variables: ["c": 1])
            #expect(mismatch.firstError == "Type mismatch on variable $c and argument after (Int / String)")
            let defaulted = try await client.graphql("query($n: Int = 2, $cursor: String) { orders(first: $n, after: $cursor) { nodes { id } } }")
            #expect(defaulted.errors.isEmpty)
            #expect(defaulted.data?["orders"]?["nodes"]?.arrayValue?.count == 2)
        }
    }

    @Test func connectionsNeedASizeWithinTheLimit() async throws {
        try await withEmulator { client, _ in
            let none = try await client.graphql("{ orders { nodes { id } } }")
            #expect(none.firstError == "you must provide one of first or last")
            #expect(none.errors.first?["path"] == ["query", "orders"])
            let tooMany = try await client.graphql("{ products(first: 251) { nodes { id } } }")
            #expect(tooMany.data == nil)
            #expect(tooMany.errorCodes == ["MAX_PAGE_SIZE_EXCEEDED"])
            let nested = try await client.graphql("{ products(first: 1) { nodes { variants(first: 300) { nodes { id } } } } }")
            #expect(nested.errorCodes == ["MAX_PAGE_SIZE_EXCEEDED"])
            // Validation failures cost nothing.
            #expect(tooMany.currentlyAvailable == 2000)
        }
    }

    @Test func badIdsAndCursors() async throws {
        try await withEmulator { client, _ in
            let garbage = try await client.graphql("{ customer(id: \"123\") { id } }")
            #expect(garbage.firstError == "Invalid global id '123'")
            #expect(garbage.data == ["customer": .null])
            let otherType = try await client.graphql("{ customer(id: \"gid://shopify/Order/1\") { id } }")
            #expect(otherType.errors.isEmpty)
            #expect(otherType.data == ["customer": .null])
            let cursor = try await client.graphql("{ orders(first: 1, after: \"bm9wZQ==\") { nodes { id } } }")
            #expect(cursor.firstError == "Invalid cursor for current pagination sort.")
        }
    }

    @Test func operationSelection() async throws {
        try await withEmulator { client, _ in
            let two = "query A { shop { name } } query B { shop { currencyCode } }"
            let ambiguous = try await client.graphql(two)
            #expect(ambiguous.firstError == "An operation name is required")
            let named = try await client.post("/admin/api/2025-07/graphql.json",
                                              raw: (["query": .string(two), "operationName": "B"] as ShopifyJSON).jsonString)
            #expect(named.data == ["shop": ["currencyCode": "EUR"]])
            let subscription = try await client.graphql("subscription { shop { name } }")
            #expect(subscription.errorCodes == ["missingSubscriptionConfiguration"])
        }
    }

    @Test func hostileQueriesAreRefusedNotFatal() async throws {
        try await withEmulator { client, _ in
            // Nested connections multiply past Int: saturated cost, MAX_COST_EXCEEDED.
            var nested = "id"
            for _ in 0..<12 { nested = "orders(first: 250) { nodes { customer { \(nested) } } }" }
            let deep = try await client.graphql("{ customers(first: 250) { nodes { \(nested) } } }")
            #expect(deep.errorCodes == ["MAX_COST_EXCEEDED"])
            // Fragments spreading fragments twice over: a few hundred bytes that would expand to millions of fields.
            var fragments = "fragment F0 on Shop { name }"
            for level in 1...24 { fragments += " fragment F\(level) on Shop { ...F\(level - 1) ...F\(level - 1) }" }
            let bomb = try await client.graphql("{ shop { ...F24 } } \(fragments)")
            #expect(bomb.errorCodes.contains("tooManyFields"))
        }
    }
}

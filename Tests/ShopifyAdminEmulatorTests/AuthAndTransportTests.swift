import Foundation
import HummingbirdTesting
import Testing
@testable import ShopifyAdminEmulator

@Suite struct AuthAndTransportTests {
    static let unauthorized: ShopifyJSON = ["errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"]

    @Test func missingOrWrongTokenIs401WithShopifysBody() async throws {
        try await withEmulator { client, state in
            let missing = try await client.graphql("{ shop { name } }", token: nil)
            #expect(missing.status == 401)
            #expect(missing.body == Self.unauthorized)
            let wrong = try await client.graphql("{ shop { name } }", token: "shpat_wrong")
            #expect(wrong.status == 401)
            #expect(wrong.body == Self.unauthorized)
            #expect(await state.stats().requests == 2)
        }
    }

    @Test func rightTokenAnswersWithVersionHeaderAndCost() async throws {
        try await withEmulator { client, _ in
            let answer = try await client.graphql("{ shop { name myshopifyDomain currencyCode } }")
            #expect(answer.status == 200)
            #expect(answer.data == ["shop": ["name": "Fixture Shop", "myshopifyDomain": "fixture-shop.myshopify.com", "currencyCode": "EUR"]])
            #expect(answer.headers[.init("X-Shopify-API-Version")!] == "2025-07")
            #expect(answer.headers[.contentType] == "application/json; charset=utf-8")
            #expect(answer.requestedCost == 1)
            #expect(answer.cost?["actualQueryCost"] == 1)
            #expect(answer.cost?["throttleStatus"] == ["maximumAvailable": 2000.0, "currentlyAvailable": 1999, "restoreRate": 100.0])
            // Shopify prints the float fields with a fraction.
            #expect(answer.raw.contains("\"maximumAvailable\":2000.0"))
        }
    }

    @Test func badBodiesAndVersions() async throws {
        try await withEmulator { client, _ in
            let notJSON = try await client.post("/admin/api/2025-07/graphql.json", raw: "{not json")
            #expect(notJSON.status == 400)
            #expect(notJSON.body["errors"] != nil)
            let noQuery = try await client.post("/admin/api/2025-07/graphql.json", raw: "{\"variables\":{}}")
            #expect(noQuery.status == 400)
            #expect(noQuery.body == ["errors": ["query": "Required parameter missing or invalid"]])
            let badVersion = try await client.graphql("{ shop { name } }", version: "2025-13")
            #expect(badVersion.status == 404)
            let unstable = try await client.graphql("{ shop { name } }", version: "unstable")
            #expect(unstable.status == 200)
        }
    }

    @Test func rawGraphQLBodyIsAccepted() async throws {
        try await withEmulator { client, _ in
            let answer = try await client.post("/admin/api/2025-07/graphql.json", raw: "{ shop { name } }", contentType: "application/graphql")
            #expect(answer.data?["shop"]?["name"] == "Fixture Shop")
        }
    }

    @Test func accessScopesAreReportedAndEnforced() async throws {
        try await withEmulator({ $0.accessScopes = ["read_products"] }) { client, _ in
            let scopes = try await client.graphql("{ currentAppInstallation { accessScopes { handle } } }")
            #expect(scopes.data?["currentAppInstallation"]?["accessScopes"] == [["handle": "read_products"]])
            let denied = try await client.graphql("{ customers(first: 1) { nodes { id } } products(first: 1) { nodes { id } } }")
            #expect(denied.status == 200)
            #expect(denied.data?["customers"] == .null)
            #expect(denied.data?["products"]?["nodes"]?.arrayValue?.count == 1)
            #expect(denied.firstError == "Access denied for customers field. Required access: `read_customers` access scope.")
            #expect(denied.errorCodes == ["ACCESS_DENIED"])
            #expect(denied.errors.first?["path"] == ["customers"])
        }
    }
}

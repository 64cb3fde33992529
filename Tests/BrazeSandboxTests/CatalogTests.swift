import Foundation
import HummingbirdTesting
import Testing
@testable import BrazeSandbox

@Suite struct CatalogTests {
    static let catalog: JSONValue = ["catalogs": [[
        "name": "products", "description": "Shopify variants",
        "fields": [["name": "id", "type": "string"], ["name": "product_title", "type": "string"], ["name": "price", "type": "number"],
                   ["name": "published", "type": "boolean"], ["name": "updated", "type": "time"]],
    ]]]

    @Test func createCatalogAndManageItems() async throws {
        try await withSandbox { client in
            let created = try await client.braze("/catalogs", json: Self.catalog)
            #expect(created.status == 201)
            #expect(created.message == "success")
            #expect(created.body["catalogs"]?.arrayValue?.first?["num_items"] == 0)
            let add = try await client.braze("/catalogs/products/items", json: ["items": [
                ["id": "v1", "product_title": "Shirt", "price": 10, "published": true, "updated": "2025-01-01T00:00:00Z"],
                ["id": "v-2", "product_title": "Hat", "price": 5],
            ]])
            #expect(add.status == 202)
            #expect(try await client.braze("/catalogs/products/items", json: ["items": [["id": "v1", "price": 12]]], method: .patch).status == 202)
            #expect(try await client.braze("/catalogs/products/items", json: ["items": [["id": "v-2", "product_title": "Cap"]]], method: .put).status == 202)
            var items = try await client.sandbox("/_sandbox/catalogs/products/items").body
            #expect(items == [
                ["id": "v1", "product_title": "Shirt", "price": 12, "published": true, "updated": "2025-01-01T00:00:00Z"],
                ["id": "v-2", "product_title": "Cap"],
            ])
            #expect(try await client.braze("/catalogs/products/items", json: ["items": [["id": "v1"]]], method: .delete).status == 202)
            items = try await client.sandbox("/_sandbox/catalogs/products/items").body
            #expect(items == [["id": "v-2", "product_title": "Cap"]])
            #expect(try await client.sandbox("/_sandbox/catalogs/nope/items").status == 404)
        }
    }

    @Test func createCatalogErrors() async throws {
        try await withSandbox { client in
            _ = try await client.braze("/catalogs", json: Self.catalog)
            func errorIds(_ json: JSONValue) async throws -> [String] {
                let answer = try await client.braze("/catalogs", json: json)
                #expect(answer.status == 400)
                #expect(answer.message == "Invalid Request")
                return answer.errors.compactMap { $0["id"]?.stringValue }
            }
            #expect(try await errorIds(Self.catalog) == ["catalog-name-already-exists"])
            #expect(try await errorIds(["catalogs": "x"]) == ["catalog-array-invalid"])
            #expect(try await errorIds(["catalogs": [["name": "a"], ["name": "b"]]]) == ["too-many-catalog-atoms"])
            #expect(try await errorIds(["catalogs": [["name": "bad name", "fields": [["name": "id", "type": "string"]]]]]) == ["invalid_catalog_name"])
            #expect(try await errorIds(["catalogs": [["name": "c", "fields": [["name": "title", "type": "string"]]]]]) == ["id-not-first-column"])
            #expect(try await errorIds(["catalogs": [["name": "c", "fields": [["name": "id", "type": "string"], ["name": "x", "type": "date"]]]]]) == ["invalid-field-types"])
            #expect(try await errorIds(["catalogs": [["name": "c", "fields": [["name": "id", "type": "string"], ["name": "id", "type": "string"]]]]]) == ["field-names-not-unique"])
        }
    }

    @Test func itemErrors() async throws {
        try await withSandbox { client in
            _ = try await client.braze("/catalogs", json: Self.catalog)
            func errorIds(_ json: JSONValue, status: Int = 400, catalog: String = "products") async throws -> [String] {
                let answer = try await client.braze("/catalogs/\(catalog)/items", json: json)
                #expect(answer.status == status)
                return answer.errors.compactMap { $0["id"]?.stringValue }
            }
            #expect(try await errorIds(["items": [["id": "a"]]], status: 404, catalog: "missing") == ["catalog-not-found"])
            #expect(try await errorIds(["items": "x"]) == ["item-array-invalid"])
            #expect(try await errorIds(["items": .array((0..<51).map { ["id": .string("i\($0)")] })]) == ["request-includes-too-many-items"])
            #expect(try await errorIds(["items": [["product_title": "x"]]]) == ["items-missing-ids"])
            #expect(try await errorIds(["items": [["id": 5]]]) == ["ids-not-strings"])
            #expect(try await errorIds(["items": [["id": "has space"]]]) == ["invalid-ids"])
            #expect(try await errorIds(["items": [["id": "a"], ["id": "a"]]]) == ["ids-not-unique"])
            #expect(try await errorIds(["items": [["id": "a", "color": "red"]]]) == ["invalid-fields"])
            #expect(try await errorIds(["items": [["id": "a", "price": "cheap"]]]) == ["unable-to-coerce-value"])
            #expect(try await errorIds(["items": [["id": "a", "product_title": .string(String(repeating: "x", count: 5001))]]]) == ["items-too-large"])
            #expect(try await client.sandbox("/_sandbox/catalogs/products/items").body == [])
        }
    }
}

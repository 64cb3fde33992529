import AsyncHTTPClient
import BrazeSandbox
import Foundation
import GRDB
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import ShopifyAdminEmulator
import Testing
@testable import ShopTrail

/// The Braze catalog: `catalog sync` against the Shopify Admin emulator, product and inventory
/// webhooks, SKU item ids, throttling, and the catalog operations in the outbox and the forwarder.
/// Everything ends in the BrazeSandbox's catalog, compared field by field.
@Suite struct CatalogSyncTests {
    typealias Value = ShopTrail.JSONValue
    static let domain = WebhookTests.domain
    static let catalog = "shopify_products"

    // MARK: harness

    /// A pipeline (collector, processor, forwarder, sandbox) plus the emulator and a way to sync.
    struct Env {
        let p: IdentityScenarioTests.Pipeline
        let emulator: ShopifyEmulatorState
        let shop: ShopConfig
        let httpClient: HTTPClient

        /// Runs `catalog sync`, then lets the forwarder deliver everything.
        func sync(_ mode: CatalogSync.Mode = .auto, force: Bool = false, pageSize: Int = 20) async throws -> (summary: CatalogSyncSummary, client: ShopifyAdminClient) {
            var clientSettings = ShopifyAdminClient.Settings()
            clientSettings.bulkPollInterval = .milliseconds(50)
            let client = try ShopifyAdminClient(shop: shop, httpClient: httpClient, logger: Fixtures.logger(), settings: clientSettings)
            var settings = CatalogSync.Settings()
            settings.mode = mode
            settings.force = force
            settings.productsPerPage = pageSize
            let summary = try await CatalogSync(shop: shop, states: p.temp.store.database, outbox: SQLiteOutbox(database: p.temp.store.database), client: client, settings: settings, logger: Fixtures.logger()).run()
            try await p.flush()
            return (summary, client)
        }
    }

    static func braze(_ itemId: CatalogItemId = .variantId) -> BrazeConfig {
        var braze = WebhookTests.braze()
        braze.catalog = CatalogConfig(enabled: true, itemId: itemId)
        return braze
    }

    static func with(itemId: CatalogItemId = .variantId, products: Int = 40, throttle: ShopifyThrottleConfiguration = .init(),
                     bulkDuration: Duration = .milliseconds(200), _ body: @escaping @Sendable (Env) async throws -> Void) async throws {
        let state = ShopifyEmulatorState(configuration: ShopifyEmulatorConfiguration(
            shopDomain: domain, throttle: throttle, bulkMinimumDuration: bulkDuration, customerCount: 20, orderCount: 20, productCount: products))
        let httpClient = HTTPClient(eventLoopGroupProvider: .singleton)
        do {
            try await buildShopifyAdminEmulatorApplication(state: state, port: 0).test(.live) { emulator in
                let port = try #require(emulator.port)
                let shopify = ShopifyConfig(apiSecret: WebhookTests.secret, previousApiSecret: WebhookTests.previous, adminAPIURL: "http://127.0.0.1:\(port)",
                                            adminAccessToken: Secret(ShopifyEmulatorConfiguration.defaultAccessToken))
                let braze = Self.braze(itemId)
                let shop = ShopConfig(domain: domain, writeKey: "pk_other_1", allowedOrigins: [], snippetSecret: nil, shopify: shopify, braze: braze)
                try await IdentityScenarioTests.with(braze, domain: domain, shopify: shopify) { p in
                    try await body(Env(p: p, emulator: state, shop: shop, httpClient: httpClient))
                }
            }
        } catch {
            try await httpClient.shutdown()
            throw error
        }
        try await httpClient.shutdown()
    }

    /// The sandbox catalog's items by id.
    static func items(_ p: IdentityScenarioTests.Pipeline) async throws -> [String: JSONObject] {
        let text = try await p.sandbox.execute(uri: "/_sandbox/catalogs/\(catalog)/items", method: .get) { String(buffer: $0.body) }
        var byId: [String: JSONObject] = [:]
        for case .object(let item) in (try JSONParser.parse(Array(text.utf8), maxDepth: 32)).arrayValue ?? [] {
            if let id = item["id"]?.stringValue { byId[id] = item }
        }
        return byId
    }

    /// Braze requests to catalog paths: method + path, with each request's item count.
    static func catalogRequests(_ p: IdentityScenarioTests.Pipeline) async throws -> [(method: String, path: String, items: Int, status: Int)] {
        let text = try await p.sandbox.execute(uri: "/_sandbox/requests", method: .get) { String(buffer: $0.body) }
        return ((try JSONParser.parse(Array(text.utf8), maxDepth: 64)).arrayValue ?? []).compactMap { entry in
            guard let object = entry.objectValue, let path = object["path"]?.stringValue, path.hasPrefix("/catalogs") else { return nil }
            return (object["method"]?.stringValue ?? "", path, object["body"]?.objectValue?["items"]?.arrayValue?.count ?? 0,
                    Int(object["status"]?.idString ?? "") ?? 0)
        }
    }

    /// Differences between an item and what it should be (numbers compared as numbers).
    static func differences(_ actual: JSONObject?, _ expected: [(String, Value)]) -> [String] {
        guard let actual else { return ["missing item"] }
        var out: [String] = []
        for (key, value) in expected {
            let got = actual[key] ?? .null
            let same: Bool = switch (got, value) {
            case (.number, .number): got.doubleValue == value.doubleValue
            default: got == value
            }
            if !same { out.append("\(key): \(got.serialized) ≠ \(value.serialized)") }
        }
        let extra = Set(actual.keys).subtracting(expected.map(\.0))
        if !extra.isEmpty { out.append("unexpected fields \(extra.sorted())") }
        return out
    }

    /// The item Braze should hold for an emulator variant.
    static func expected(_ product: ShopifyProduct, _ variant: ShopifyVariant, id: String) -> [(String, Value)] {
        func s(_ text: String?) -> Value { text.flatMap { $0.isEmpty ? nil : Value.string($0) } ?? .null }
        return [
            ("id", .string(id)), ("store_name", .string(domain)),
            ("shopify_product_id", .string(String(product.id))), ("shopify_variant_id", .string(String(variant.id))),
            ("product_title", s(product.title)), ("variant_title", s(variant.title)), ("status", .string(product.status.rawValue.lowercased())),
            ("product_image_url", s(product.featuredImageURL)), ("variant_image_url", s(variant.imageURL ?? product.featuredImageURL)),
            ("vendor", s(product.vendor)), ("product_type", s(product.productType)),
            ("product_url", .string("https://\(domain)/products/\(product.handle)")), ("product_handle", .string(product.handle)),
            ("published_scope", .null), ("price", .number(variant.price.amount)),
            ("compare_at_price", variant.compareAtPrice.map { .number($0.amount) } ?? .null),
            ("inventory_quantity", .number(String(variant.inventoryQuantity))),
            ("options", .array(product.options.map { .string($0.name) })), ("option_values", .array(variant.selectedOptions.map { .string($0.value) })),
            ("sku", s(variant.sku)), ("back_in_stock_at", .null),
        ]
    }

    /// Posts a signed webhook with an `X-Shopify-Triggered-At` time.
    @discardableResult
    static func post(_ p: IdentityScenarioTests.Pipeline, _ topic: String, body: String? = nil, triggeredAt: String? = nil) async throws -> HTTPResponse.Status {
        let text = try body ?? WebhookTests.fixture(topic)
        var headers: HTTPFields = [.contentType: "application/json"]
        let values: [(String, String?)] = [
            ("X-Shopify-Topic", topic), ("X-Shopify-Shop-Domain", domain), ("X-Shopify-Webhook-Id", "wh-\(UUID().uuidString)"),
            ("X-Shopify-API-Version", "2025-01"), ("X-Shopify-Hmac-Sha256", WebhookSignature.sign(Array(text.utf8), secret: WebhookTests.secret)),
            ("X-Shopify-Triggered-At", triggeredAt),
        ]
        for (name, value) in values { if let value, let field = HTTPField.Name(name) { headers[field] = value } }
        return try await p.collector.execute(uri: "/webhooks/shopify", method: .post, headers: headers, body: ByteBuffer(string: text)) { $0.status }
    }

    // MARK: sync

    @Test func aSyncMirrorsEveryVariantFieldByFieldAndASecondSyncSendsNothing() async throws {
        try await Self.with(products: 45) { env in
            let source = await env.emulator.dataSet
            let variants = source.products.flatMap { product in product.variants.map { (product, $0) } }
            let (summary, client) = try await env.sync()
            #expect(summary.mode == .bulk && summary.pages == 1)
            #expect(summary.counts.products == 45 && summary.counts.variants == variants.count)
            #expect(summary.counts.upserted == variants.count && summary.counts.unchanged == 0 && summary.counts.deleted == 0)
            #expect(client.stats.bulkOperations == 1 && client.stats.bulkLines == 45 + variants.count && client.stats.throttled == 0)
            let items = try await Self.items(env.p)
            #expect(items.count == variants.count)
            for (product, variant) in variants {
                let diff = Self.differences(items[String(variant.id)], Self.expected(product, variant, id: String(variant.id)))
                #expect(diff.isEmpty, "variant \(variant.id): \(diff)")
            }
            // One create, then full requests of 50.
            var requests = try await Self.catalogRequests(env.p)
            #expect(requests.filter { $0.method == "POST" && $0.path == "/catalogs" }.count == 1)
            let puts = requests.filter { $0.method == "PUT" }
            #expect(puts.count == (variants.count + 49) / 50 && puts.allSatisfy { $0.status == 202 }, "\(puts)")
            #expect(summary.brazeRequests == 1 + puts.count)
            let catalogs = try await env.p.sandbox.execute(uri: "/_sandbox/catalogs", method: .get) { String(buffer: $0.body) }
            #expect(catalogs.contains(#""num_items":\#(variants.count)"#) && catalogs.contains(#""name":"back_in_stock_at","type":"time""#), "\(catalogs)")

            // Nothing changed: nothing to send. Read page by page this time: both readers give the same items.
            let (again, pager) = try await env.sync(.pages)
            #expect(again.mode == .pages && again.pages == 3 && pager.stats.requests == 3, "45 products, 20 a page")
            #expect(again.enqueued == 0 && again.counts.upserted == 0 && again.counts.unchanged == variants.count && again.brazeRequests == 0)
            requests = try await Self.catalogRequests(env.p)
            #expect(requests.count == 1 + puts.count, "a second sync sends no request at all")

            // One product edited in Shopify: only its variants go again.
            let edited = try #require(source.products.first { $0.variants.count >= 2 })
            await env.emulator.updateProduct(id: edited.id) { $0.title = "Renamed \"Quoted\" & Co" }
            let (third, _) = try await env.sync()
            #expect(third.counts.upserted == edited.variants.count && third.counts.unchanged == variants.count - edited.variants.count)
            #expect(try await Self.items(env.p)[String(edited.variants[0].id)]?["product_title"] == .string("Renamed \"Quoted\" & Co"))
        }
    }

    @Test func aSyncDeletesWhatShopifyNoLongerHasAndForceResendsEverything() async throws {
        try await Self.with(products: 12) { env in
            let (first, _) = try await env.sync()
            // An item Braze has that Shopify does not (a product deleted while no webhook came): stored, then synced away.
            let orphan = Self.webhookProduct(id: "555000111222333444", variants: [("555000111222333445", "ORPHAN-1", 3)], updatedAt: "2026-01-01T00:00:00Z")
            try await Self.post(env.p, "products/create", body: orphan)
            try await env.p.flush()
            #expect(try await Self.items(env.p)["555000111222333445"] != nil)
            let (second, _) = try await env.sync()
            #expect(second.counts.deleted == 1 && second.counts.upserted == 0)
            #expect(try await Self.items(env.p).count == first.counts.upserted)
            let (forced, _) = try await env.sync(force: true)
            #expect(forced.counts.upserted == first.counts.upserted && forced.enqueued == first.counts.upserted + 1)
            let requests = try await Self.catalogRequests(env.p)
            #expect(requests.filter { $0.path == "/catalogs" }.map(\.status) == [201, 400], "the forced create answers 'already exists' and counts as done")
            let status = try await env.p.outbox.status(shop: Self.domain, now: SystemClock().now())
            #expect(status.dead == 0 && status.pending == 0)
        }
    }

    @Test func skuItemIdsReplaceCharactersBrazeRefuses() async throws {
        try await Self.with(itemId: .sku, products: 150) { env in
            let source = await env.emulator.dataSet
            let (summary, _) = try await env.sync()
            var expected: [String: (ShopifyProduct, ShopifyVariant)] = [:]
            var withoutSKU = 0, replaced = 0
            for product in source.products {
                for variant in product.variants {
                    guard case .success(let id) = CatalogItemIds.itemId(variantId: String(variant.id), sku: variant.sku, mode: .sku) else { withoutSKU += 1; continue }
                    if id != variant.sku { replaced += 1 }
                    expected[id] = expected[id] ?? (product, variant)
                }
            }
            #expect(withoutSKU > 0 && replaced > 0, "the data set has SKUs to skip and to clean")
            #expect(summary.counts.skipped == withoutSKU)
            let items = try await Self.items(env.p)
            #expect(items.count == expected.count)
            for (id, (product, variant)) in expected {
                #expect(id.unicodeScalars.allSatisfy(CatalogItemIds.isAllowed))
                let diff = Self.differences(items[id], Self.expected(product, variant, id: id))
                #expect(diff.isEmpty, "\(id): \(diff)")
            }
            let dead = try await env.p.outbox.status(shop: Self.domain, now: SystemClock().now()).dead
            #expect(dead == 0)
        }
    }

    @Test func aSmallBucketMakesTheClientWaitInsteadOfBeingThrottled() async throws {
        // 240 points, 25 a second; a page of 5 products asks 2 + 5 × 45 = 227: after a page the bucket holds
        // less than that, and refills slowly enough (about 3 s a page) that the client waits even on a busy machine.
        try await Self.with(products: 60, throttle: ShopifyThrottleConfiguration(maximumAvailable: 240, restoreRate: 25)) { env in
            let (summary, client) = try await env.sync(.pages, pageSize: 5)
            let stats = await env.emulator.stats()
            #expect(stats.throttled == 0 && stats.maxCostExceeded == 0)
            #expect(summary.pages == 12 && client.stats.requests == 12 && client.stats.throttled == 0)
            #expect(client.stats.waitedMillis > 0, "the bucket ran low: the client waited")
            #expect(Int(client.stats.totalCost) == stats.pointsSpent)
            let variants = await env.emulator.dataSet.products.reduce(0) { $0 + $1.variants.count }
            #expect(try await Self.items(env.p).count == variants)
        }
    }

    @Test func autoModeReadsPagesWhileAnotherBulkQueryRuns() async throws {
        try await Self.with(products: 25, bulkDuration: .seconds(30)) { env in
            // Someone else's bulk query (a backfill) is running.
            let other = try ShopifyAdminClient(shop: env.shop, httpClient: env.httpClient, logger: Fixtures.logger())
            let started = try await other.query(#"mutation { bulkOperationRunQuery(query: "{ orders { edges { node { id } } } }") { bulkOperation { id } userErrors { code } } }"#)
            #expect(started.value(at: ["bulkOperationRunQuery", "bulkOperation", "id"])?.stringValue != nil)
            await #expect(throws: ShopifyAdminError.self) { _ = try await env.sync(.bulk) }
            let (summary, _) = try await env.sync(.auto)
            #expect(summary.mode == .pages && summary.pages == 2)
            let variants = await env.emulator.dataSet.products.reduce(0) { $0 + $1.variants.count }
            let items = try await Self.items(env.p)
            #expect(summary.counts.upserted == variants && items.count == variants)
        }
    }

    // MARK: webhooks

    /// A minimal `products/*` payload.
    static func webhookProduct(id: String, variants: [(id: String, sku: String?, quantity: Int)], updatedAt: String, title: String = "Thing",
                               inventoryBase: Int = 1) -> String {
        let items = variants.enumerated().map { index, v in
            let sku = v.sku.map { #""\#($0)""# } ?? "null"
            return #"{"id":\#(v.id),"title":"V\#(index)","sku":\#(sku),"price":"10.00","compare_at_price":null,"inventory_quantity":\#(v.quantity),"inventory_item_id":\#(inventoryBase + index),"option1":"V\#(index)","option2":null,"option3":null,"image_id":null}"#
        }
        return #"{"id":\#(id),"title":"\#(title)","handle":"thing","vendor":"V","product_type":"T","status":"active","published_scope":"web","updated_at":"\#(updatedAt)","options":[{"name":"Size","values":[]}],"images":[],"image":null,"variants":[\#(items.joined(separator: ","))]}"#
    }

    @Test func productWebhooksUpsertChangedItemsDeleteVanishedVariantsAndDeletedProducts() async throws {
        try await IdentityScenarioTests.with(Self.braze(), domain: Self.domain, shopify: ShopifyConfig(apiSecret: WebhookTests.secret)) { p in
            #expect(try await Self.post(p, "products/create") == .ok)
            try await p.flush()
            var items = try await Self.items(p)
            #expect(items.count == 2)
            let image = "https://cdn.shopify.com/s/files/1/0681/2345/6789/files/merino-crew-sweater-navy.jpg?v=1793626200"
            let sweaterM: [(String, Value)] = [
                ("id", .string("9007199254741777")), ("store_name", .string(Self.domain)), ("shopify_product_id", .string("9007199254741015")),
                ("shopify_variant_id", .string("9007199254741777")), ("product_title", .string("Merino Crew Sweater")), ("variant_title", .string("Navy / M")),
                ("status", .string("active")), ("product_image_url", .string(image)), ("variant_image_url", .string(image)), ("vendor", .string("Nordfaden")),
                ("product_type", .string("Sweaters")), ("product_url", .string("https://\(Self.domain)/products/merino-crew-sweater")),
                ("product_handle", .string("merino-crew-sweater")), ("published_scope", .string("global")), ("price", .number("49.90")),
                ("compare_at_price", .null), ("inventory_quantity", .number("25")), ("options", .array([.string("Color"), .string("Size")])),
                ("option_values", .array([.string("Navy"), .string("M")])), ("sku", .string("NF-MCS-NAVY-M")), ("back_in_stock_at", .null),
            ]
            #expect(Self.differences(items["9007199254741777"], sweaterM).isEmpty, "\(Self.differences(items["9007199254741777"], sweaterM))")

            // The Black Friday update: both variants change (price, compare-at price; M also stock).
            #expect(try await Self.post(p, "products/update") == .ok)
            try await p.flush()
            items = try await Self.items(p)
            #expect(items["9007199254741777"]?["price"]?.doubleValue == 39.9 && items["9007199254741777"]?["compare_at_price"]?.doubleValue == 49.9)
            #expect(items["9007199254741777"]?["inventory_quantity"]?.doubleValue == 24 && items["9007199254741779"]?["price"]?.doubleValue == 39.9)
            var requests = try await Self.catalogRequests(p)
            #expect(requests.map { "\($0.method) \($0.items)" } == ["POST 0", "PUT 2", "PUT 2"])

            // The same content again (another delivery): nothing is sent.
            try await Self.post(p, "products/update")
            try await p.flush()
            #expect(try await Self.catalogRequests(p).count == 3)

            // Only the L variant's title changes: one item goes.
            let update = try WebhookTests.fixture("products/update")
            let renamed = update.replacingOccurrences(of: #""title": "Navy / L""#, with: #""title": "Navy / Large""#)
                .replacingOccurrences(of: "2026-11-27T00:00:05-05:00", with: "2026-11-27T12:00:00-05:00")
            try await Self.post(p, "products/update", body: renamed)
            try await p.flush()
            requests = try await Self.catalogRequests(p)
            #expect(requests.last.map { "\($0.method) \($0.items)" } == "PUT 1")
            #expect(try await Self.items(p)["9007199254741779"]?["variant_title"] == .string("Navy / Large"))

            // A late delivery older than what was applied changes nothing.
            try await Self.post(p, "products/create")
            try await p.flush()
            #expect(try await Self.catalogRequests(p).count == 4)
            #expect(try await Self.items(p)["9007199254741779"]?["variant_title"] == .string("Navy / Large"))

            // The L variant disappears from the product: its item is deleted.
            let body = try #require(try JSONParser.parse(Array(renamed.utf8), maxDepth: 32).objectValue)
            var withoutL = body
            if let index = withoutL.members.firstIndex(where: { $0.key == "variants" }), case .array(let variants) = withoutL.members[index].value {
                withoutL.members[index].value = .array(variants.filter { $0.objectValue?["id"]?.idString != "9007199254741779" })
            }
            withoutL = withoutL.merging([("updated_at", .string("2026-11-28T08:00:00-05:00"))])
            try await Self.post(p, "products/update", body: Value.object(withoutL).serialized)
            try await p.flush()
            items = try await Self.items(p)
            #expect(items.keys.sorted() == ["9007199254741777"])
            #expect(try await Self.catalogRequests(p).last.map { "\($0.method) \($0.items)" } == "DELETE 1")

            // products/delete (after the last update) removes every item of the product.
            try await Self.post(p, "products/delete", body: #"{"id":9007199254741015}"#, triggeredAt: "2026-11-30T10:00:00Z")
            try await p.flush()
            #expect(try await Self.items(p).isEmpty)
            // A products/update delivered late, from before the deletion, does not bring it back.
            try await Self.post(p, "products/update", body: renamed)
            try await p.flush()
            #expect(try await Self.items(p).isEmpty)
            let status = try await p.outbox.status(shop: Self.domain, now: SystemClock().now())
            #expect(status.dead == 0 && status.pending == 0)
        }
    }

    @Test func inventoryLevelsUpdateTheQuantityAndMarkBackInStock() async throws {
        try await IdentityScenarioTests.with(Self.braze(), domain: Self.domain, shopify: ShopifyConfig(apiSecret: WebhookTests.secret)) { p in
            try await Self.post(p, "products/create")
            try await Self.post(p, "products/update")
            try await p.flush()
            // Navy / M sells out (the fixture: inventory item 49876543210011, available 0).
            #expect(try await Self.post(p, "inventory_levels/update") == .ok)
            try await p.flush()
            var item = try #require(try await Self.items(p)["9007199254741777"])
            #expect(item["inventory_quantity"]?.doubleValue == 0 && item["back_in_stock_at"] == .null)
            #expect(try await Self.items(p)["9007199254741779"]?["inventory_quantity"]?.doubleValue == 18, "the other variant is untouched")
            let before = try await Self.catalogRequests(p).count

            // Restocked: 7 available, marked back in stock at the level's time.
            let restock = #"{"inventory_item_id":49876543210011,"location_id":71234567890,"available":7,"updated_at":"2026-11-29T10:00:00-05:00"}"#
            try await Self.post(p, "inventory_levels/update", body: restock)
            try await p.flush()
            item = try #require(try await Self.items(p)["9007199254741777"])
            #expect(item["inventory_quantity"]?.doubleValue == 7)
            #expect(item["back_in_stock_at"]?.stringValue.flatMap(Timestamp.parse) == Timestamp.parse("2026-11-29T15:00:00Z"))
            #expect(item["price"]?.doubleValue == 39.9, "the rest of the item is kept")

            // Older or repeated levels change nothing; more stock keeps the back-in-stock time.
            try await Self.post(p, "inventory_levels/update")  // the sell-out, older
            try await Self.post(p, "inventory_levels/update", body: restock)
            try await p.flush()
            #expect(try await Self.catalogRequests(p).count == before + 1)
            let more = #"{"inventory_item_id":49876543210011,"location_id":71234567890,"available":9,"updated_at":"2026-11-29T11:00:00-05:00"}"#
            try await Self.post(p, "inventory_levels/update", body: more)
            // An unknown inventory item is ignored.
            try await Self.post(p, "inventory_levels/update", body: #"{"inventory_item_id":1,"location_id":2,"available":3,"updated_at":"2026-11-29T11:00:00-05:00"}"#)
            try await p.flush()
            item = try #require(try await Self.items(p)["9007199254741777"])
            #expect(item["inventory_quantity"]?.doubleValue == 9)
            #expect(item["back_in_stock_at"]?.stringValue.flatMap(Timestamp.parse) == Timestamp.parse("2026-11-29T15:00:00Z"))
            // A product payload whose inventory is older than the levels keeps the levels' quantity.
            try await Self.post(p, "products/update", body: try WebhookTests.fixture("products/update")
                .replacingOccurrences(of: "2026-11-27T00:00:05-05:00", with: "2026-11-29T10:30:00-05:00")
                .replacingOccurrences(of: #""title": "Merino Crew Sweater""#, with: #""title": "Merino Crew Sweater II""#))
            try await p.flush()
            item = try #require(try await Self.items(p)["9007199254741777"])
            #expect(item["inventory_quantity"]?.doubleValue == 9 && item["product_title"] == .string("Merino Crew Sweater II"))
        }
    }

    @Test func catalogWebhooksSendNothingWhenTheCatalogIsDisabled() async throws {
        try await IdentityScenarioTests.with(WebhookTests.braze(), domain: Self.domain, shopify: ShopifyConfig(apiSecret: WebhookTests.secret)) { p in
            try await Self.post(p, "products/create")
            try await Self.post(p, "inventory_levels/update")
            try await p.flush()
            #expect(try await Self.catalogRequests(p).isEmpty)
        }
    }

    // MARK: item ids and mapping

    @Test func itemIdsFollowBrazesCharacterSetAndLength() {
        #expect(CatalogItemIds.itemId(variantId: "9007199254741777", sku: "x", mode: .variantId) == .success("9007199254741777"))
        #expect(CatalogItemIds.itemId(variantId: "1", sku: " AB/12.3 ", mode: .sku) == .success("AB_12_3"))
        #expect(CatalogItemIds.itemId(variantId: "1", sku: "Größe L", mode: .sku) == .success("Gr__e_L"))
        #expect(CatalogItemIds.itemId(variantId: "1", sku: "NF-MCS_NAVY-M", mode: .sku) == .success("NF-MCS_NAVY-M"))
        #expect(CatalogItemIds.itemId(variantId: "1", sku: "  ", mode: .sku) == .failure(.noSKU))
        #expect(CatalogItemIds.itemId(variantId: "1", sku: nil, mode: .sku) == .failure(.noSKU))
        #expect(CatalogItemIds.itemId(variantId: "1", sku: String(repeating: "a", count: 250), mode: .sku) == .success(String(repeating: "a", count: 250)))
        #expect(CatalogItemIds.itemId(variantId: "1", sku: String(repeating: "a", count: 251), mode: .sku) == .failure(.tooLong(251)))
        #expect(CatalogItemIds.itemId(variantId: "", sku: nil, mode: .variantId) == .failure(.invalidVariantId))
    }

    @Test func badPayloadsNeverCrashTheMapper() throws {
        let mapper = CatalogItemMapper(shopDomain: Self.domain, itemIdMode: .variantId)
        #expect(mapper.fromWebhook(JSONObject()) == nil)
        let odd = try #require(try JSONParser.parse(Array(#"{"id":"12","variants":[{"id":null},{"id":34,"price":"abc","inventory_quantity":"x","option1":5},"nope"],"options":"x","images":{}}"#.utf8)).objectValue)
        let product = try #require(mapper.fromWebhook(odd))
        #expect(product.items.count == 1)
        #expect(product.items[0]["price"] == .null && product.items[0]["inventory_quantity"] == .null && product.items[0]["option_values"] == .array([]))
        #expect(CatalogItemMapper.isDecimal("0.50") && CatalogItemMapper.isDecimal("-3") && !CatalogItemMapper.isDecimal("01") && !CatalogItemMapper.isDecimal("1.")
                && !CatalogItemMapper.isDecimal("1e5") && !CatalogItemMapper.isDecimal(""))
        #expect(CatalogItemMapper.legacyId(.string("gid://shopify/InventoryItem/42?x=1")) == "42")
    }

    // MARK: outbox, packer, forwarder

    static func op(_ kind: BrazeOperation.Kind, _ item: String, catalog: String = catalog, payload: String? = nil) -> BrazeOperation {
        let key = kind == .catalogCreate ? CatalogKey.catalog(catalog) : CatalogKey.item(catalog, item)
        return BrazeOperation(id: "t:\(kind.rawValue):\(item)", shop: domain, userKey: key, kind: kind,
                              payload: payload ?? (kind == .catalogCreate ? CatalogSchema.createBody(name: catalog, shop: domain).serialized : #"{"id":"\#(item)"}"#),
                              createdAt: 0)
    }

    @Test func theCreateOperationHoldsBackItsCatalogsLaterItemsOnly() async throws {
        let temp = try TempStore()
        let outbox = SQLiteOutbox(database: temp.store.database)
        try await outbox.enqueue([Self.op(.catalogUpsert, "before"), Self.op(.catalogCreate, ""), Self.op(.catalogUpsert, "a"),
                                  Self.op(.catalogDelete, "b"), Self.op(.catalogUpsert, "x", catalog: "other")])
        var claimed = try await outbox.claim(shop: Self.domain, now: 1, limit: 10, leaseMillis: 1_000)
        #expect(claimed.map(\.operation.id) == ["t:catalog_upsert:before", "t:catalog_create:", "t:catalog_upsert:x"])
        let create = try #require(claimed.first { $0.operation.kind == .catalogCreate })
        try await outbox.release(claimed.filter { $0.seq != create.seq }.map(\.seq))
        claimed = try await outbox.claim(shop: Self.domain, now: 2, limit: 10, leaseMillis: 1_000)
        #expect(claimed.map(\.operation.id) == ["t:catalog_upsert:before", "t:catalog_upsert:x"], "in flight, the create still holds its items")
        try await outbox.release(claimed.map(\.seq))
        try await outbox.complete([create.seq])
        claimed = try await outbox.claim(shop: Self.domain, now: 3, limit: 10, leaseMillis: 1_000)
        #expect(claimed.count == 4)
    }

    @Test func thePackerFillsCatalogRequestsWith50DistinctItemsOfOneCatalog() {
        var seq: Int64 = 0
        func entry(_ op: BrazeOperation) -> OutboxEntry { seq += 1; return OutboxEntry(seq: seq, operation: op, attempts: 0, lastError: nil) }
        var entries = (0..<60).map { entry(Self.op(.catalogUpsert, "i\($0)")) }
        entries.insert(entry(Self.op(.catalogUpsert, "i3", payload: #"{"id":"i3","price":2}"#)), at: 10)  // the same item again
        entries.insert(entry(Self.op(.catalogUpsert, "z", catalog: "other")), at: 5)
        let packer = BrazeRequestPacker()
        let packed = packer.pack(entries)
        #expect(packed?.request.method == .put && packed?.request.path == "/catalogs/shopify_products/items")
        #expect(packed?.carried.count == 50 && packed?.capacity == 50)
        #expect(packed?.carried.contains { $0.operation.payload.contains("price") } == false, "an item's second change waits for the first")
        #expect(packed?.leftover.count == 12)
        let body = String(decoding: packed?.request.body ?? [], as: UTF8.self)
        #expect(body.hasPrefix(#"{"items":[{"id":"i0"}"#))

        let create = packer.pack([entry(Self.op(.catalogCreate, "")), entry(Self.op(.catalogUpsert, "a"))])
        #expect(create?.request.path == "/catalogs" && create?.carried.count == 1 && create?.capacity == 1)
        let delete = packer.pack([entry(Self.op(.catalogDelete, "a")), entry(Self.op(.catalogDelete, "b")), entry(Self.op(.catalogUpsert, "c"))])
        #expect(delete?.request.method == .delete && delete?.carried.count == 2)
        #expect(String(decoding: delete?.request.body ?? [], as: UTF8.self) == #"{"items":[{"id":"a"},{"id":"b"}]}"#)
    }

    @Test func brazeRefusingOneItemDeadLettersOnlyThatItemAndAlreadyExistsCountsAsCreated() async throws {
        try await IdentityScenarioTests.with(Self.braze(), domain: Self.domain, shopify: ShopifyConfig(apiSecret: WebhookTests.secret)) { p in
            let item = { (id: String) in #"{"id":"\#(id)","product_title":"T","price":1}"# }
            try await p.outbox.enqueue([Self.op(.catalogCreate, ""), Self.op(.catalogUpsert, "good-1", payload: item("good-1")),
                                        Self.op(.catalogUpsert, "bad id", payload: item("bad id")), Self.op(.catalogUpsert, "good-2", payload: item("good-2"))])
            try await p.flush()
            #expect(try await Self.items(p).keys.sorted() == ["good-1", "good-2"])
            let dead = try await p.outbox.deadLetters(shop: Self.domain, limit: 10)
            #expect(dead.map(\.operation.userKey) == [CatalogKey.item(Self.catalog, "bad id")])
            #expect(dead.first?.reason.contains("invalid-ids") == true, "\(dead.first?.reason ?? "")")
            var again = Self.op(.catalogCreate, "")
            again.id = "t:create-again"
            try await p.outbox.enqueue([again, Self.op(.catalogDelete, "good-1")])
            try await p.flush()
            #expect(try await Self.items(p).keys.sorted() == ["good-2"])
            #expect(try await p.outbox.status(shop: Self.domain, now: SystemClock().now()).dead == 1)
            let requests = try await Self.catalogRequests(p)
            #expect(requests.map { "\($0.method) \($0.items) \($0.status)" } == ["POST 0 201", "PUT 3 400", "PUT 2 202", "POST 0 400", "DELETE 1 202"])
        }
    }
}

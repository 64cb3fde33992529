import Foundation
import Logging

/// Where a running sync is (for progress output).
public struct CatalogSyncProgress: Sendable, Equatable {
    /// Product pages read so far.
    public var pages: Int
    public var counts: CatalogCounts
    public var shopify: ShopifyAdminStats
}

/// What a sync did.
public struct CatalogSyncSummary: Sendable, Equatable {
    /// Prefix of the operation ids this run enqueued (`catalog_sync:{run}`).
    public var runId: String
    /// How the products were read: `.bulk` or `.pages`.
    public var mode: CatalogSync.Mode
    /// Chunks of products applied (a page of the connection, or 200 products of a bulk result).
    public var pages: Int
    public var counts: CatalogCounts
    /// Operations put in the outbox (the create operation included).
    public var enqueued: Int
    /// The fewest Braze requests these operations need once packed: the create (if enqueued), then 50 items
    /// per request. More when the running server delivers while the sync is still enqueuing.
    public var brazeRequests: Int
    public var shopify: ShopifyAdminStats
}

/// `shoptrail catalog sync`: reads every product with its variants from the Admin GraphQL API and
/// brings the shop's Braze catalog in line, through the outbox.
///
/// - Reading (`Mode.auto`, the default): one bulk operation (`bulkOperationRunQuery` over products and their
///   variants, JSONL result). It costs 10 points whatever the catalog's size, where paginated queries cost
///   about 14 points per product (a 1,000-product shop: about 140 s of a standard plan's 100 points/s).
///   Shopify runs few bulk queries per shop at a time: while another one runs (e.g. a backfill), `auto`
///   falls back to pages. `Mode.pages` reads the `products` connection, `productsPerPage` products with
///   their first `variantsPerProduct` variants per query (follow-up queries for products with more),
///   through the throttle-aware `ShopifyAdminClient`.
/// - Writing: products are applied in chunks, one transaction each, with the same rules as webhooks
///   (`CatalogUpdater`): only changed items are enqueued, products a webhook applied more recently are
///   skipped. The catalog's create operation goes first (its key holds the items back until Braze has
///   answered it). After the last chunk, items the catalog has that Shopify no longer has are deleted.
/// - Delivery: the outbox of the shop's database, drained by the `serve` forwarder (the command only enqueues).
public struct CatalogSync: Sendable {
    /// How products are read.
    public enum Mode: String, Sendable, CaseIterable {
        /// A bulk operation, or pages while another bulk query of the shop is running.
        case auto
        case bulk
        case pages
    }

    /// Page sizes and options.
    public struct Settings: Sendable {
        public var mode = Mode.auto
        /// Products per query (pages mode). With `variantsPerProduct` 10 a page is priced 2 + 20 × 45 = 902
        /// points, under Shopify's 1,000-point single-query limit.
        public var productsPerPage = 20
        /// Variants read with each product; more come from follow-up queries (pages mode).
        public var variantsPerProduct = 10
        /// Variants per follow-up query of one product.
        public var variantsPerFollowUp = 100
        /// Products per transaction when applying a bulk result.
        public var productsPerChunk = 200
        /// Enqueue the catalog's creation and every item even when it equals what was last sent
        /// (after the catalog was deleted in Braze, or items were dead-lettered).
        public var force = false

        public init() {}
    }

    let shop: ShopConfig
    let states: any StateTransactions
    let outbox: any Outbox
    let client: ShopifyAdminClient
    let settings: Settings
    let clock: any WallClock
    let logger: Logger

    /// `states`: where the catalog's items and the operations are committed; `outbox`: read for `delivery(runId:)`.
    public init(shop: ShopConfig, states: any StateTransactions, outbox: any Outbox, client: ShopifyAdminClient, settings: Settings = .init(),
                clock: any WallClock = SystemClock(), logger: Logger) {
        self.shop = shop
        self.states = states
        self.outbox = outbox
        self.client = client
        self.settings = settings
        self.clock = clock
        self.logger = logger
    }

    /// Why a sync did not start.
    public enum Failure: Error, Equatable, CustomStringConvertible {
        case catalogDisabled(String)
        case uninstalled(String)

        public var description: String {
            switch self {
            case .catalogDisabled(let shop): "braze.catalog.enabled is false for \(shop)"
            case .uninstalled(let shop): "\(shop) uninstalled the app: nothing is sent to Braze for it"
            }
        }
    }

    var productsQuery: String {
        """
        query ShopTrailCatalogProducts($cursor: String) {
          products(first: \(max(1, settings.productsPerPage)), after: $cursor, sortKey: ID) {
            pageInfo { hasNextPage endCursor }
            nodes { \(CatalogItemMapper.graphQLProductFields.replacingOccurrences(of: "variants(first: 100)", with: "variants(first: \(max(1, settings.variantsPerProduct)))")) }
          }
        }
        """
    }

    var variantsQuery: String {
        """
        query ShopTrailCatalogVariants($id: ID!, $cursor: String) {
          product(id: $id) {
            variants(first: \(max(1, settings.variantsPerFollowUp)), after: $cursor) {
              pageInfo { hasNextPage endCursor }
              nodes { \(CatalogItemMapper.graphQLVariantFields) }
            }
          }
        }
        """
    }

    /// The bulk query: every product and its variants (two connections, nesting depth 2).
    static var bulkQuery: String {
        let product = CatalogItemMapper.graphQLProductFields
        let head = product[..<(product.range(of: "variants(")?.lowerBound ?? product.endIndex)]
        return "{ products { edges { node { \(head.trimmingCharacters(in: .whitespacesAndNewlines)) "
            + "variants { edges { node { \(CatalogItemMapper.graphQLVariantFields) } } } } } } }"
    }

    /// What the run has done so far.
    struct Tally {
        var counts = CatalogCounts()
        var enqueued = 0
        var pages = 0
        var keptItems = Set<String>()
        var keptProducts = Set<String>()
    }

    /// Runs the sync; `progress` is called after each applied chunk.
    public func run(progress: (CatalogSyncProgress) -> Void = { _ in }) async throws -> CatalogSyncSummary {
        guard shop.braze.catalog.enabled else { throw Failure.catalogDisabled(shop.domain) }
        let startedAt = clock.now()
        let runId = "catalog_sync:\(startedAt)-\(UInt32.random(in: 0...UInt32.max))"
        let shop = self.shop, logger = self.logger, force = settings.force

        // The create operation first (the first sync, or `force`): it orders before every item this run enqueues.
        var tally = Tally()
        tally.enqueued = try await states.write { state -> Int in
            guard try state.uninstalledAt(shop: shop.domain) == nil else { throw Failure.uninstalled(shop.domain) }
            var updater = CatalogUpdater(shop: shop, state: state, logger: logger, opIdBase: runId, createdAt: startedAt)
            try updater.ensureCatalog(always: force)
            try state.enqueue(updater.operations)
            return updater.operations.count
        }
        var mode = settings.mode
        if mode != .pages {
            do {
                try await readBulk(runId: runId, tally: &tally, progress: progress)
                mode = .bulk
            } catch ShopifyAdminError.bulk(_, let code, let message) where mode == .auto && code == "OPERATION_IN_PROGRESS" {
                logger.notice("another bulk query is running: reading pages instead", metadata: ["shop": .string(shop.domain), "detail": .string(message)])
                mode = .pages
            }
        }
        if mode == .pages {
            try await readPages(runId: runId, tally: &tally, progress: progress)
        }
        // Shopify no longer has these: delete them (unless a webhook wrote them while we were reading).
        let (keptItems, keptProducts) = (tally.keptItems, tally.keptProducts)
        let clock = self.clock
        let finished = try await states.write { state -> (Int, CatalogCounts) in
            var updater = CatalogUpdater(shop: shop, state: state, logger: logger, opIdBase: runId, createdAt: clock.now())
            try updater.deleteAllBut(items: keptItems, products: keptProducts, since: startedAt)
            try state.enqueue(updater.operations)
            return (updater.operations.count, updater.counts)
        }
        tally.enqueued += finished.0
        tally.counts += finished.1
        let counts = tally.counts
        let creates = tally.enqueued - counts.upserted - counts.deleted
        let requests = creates + (counts.upserted + 49) / 50 + (counts.deleted + 49) / 50
        logger.info("catalog sync enqueued", metadata: [
            "shop": .string(shop.domain), "mode": .string(mode.rawValue), "products": "\(counts.products)", "upserted": "\(counts.upserted)",
            "unchanged": "\(counts.unchanged)", "deleted": "\(counts.deleted)", "operations": "\(tally.enqueued)",
        ])
        return CatalogSyncSummary(runId: runId, mode: mode, pages: tally.pages, counts: counts, enqueued: tally.enqueued, brazeRequests: requests,
                                  shopify: client.stats)
    }

    /// Reads the products connection page by page, applying each page.
    private func readPages(runId: String, tally: inout Tally, progress: (CatalogSyncProgress) -> Void) async throws {
        let mapper = CatalogItemMapper(shopDomain: shop.domain, itemIdMode: shop.braze.catalog.itemId)
        try await client.paginate(productsQuery, connection: ["products"]) { page in
            var products: [CatalogProduct] = []
            for case .object(let node) in page.nodes {
                let extra = try await moreVariants(of: node)
                guard let product = mapper.fromGraphQL(node, extraVariants: extra) else { continue }
                products.append(product)
            }
            try await apply(products, runId: runId, asOf: clock.now(), tally: &tally)
            progress(CatalogSyncProgress(pages: tally.pages, counts: tally.counts, shopify: client.stats))
        }
    }

    /// Runs the bulk query, groups the variant rows under their products, applies them in chunks.
    private func readBulk(runId: String, tally: inout Tally, progress: (CatalogSyncProgress) -> Void) async throws {
        // Data read by the operation is at least as fresh as its start.
        let asOf = clock.now()
        let operation = try await client.runBulkQuery(Self.bulkQuery)
        var order: [String] = []
        var nodes: [String: JSONObject] = [:]
        var variants: [String: [JSONValue]] = [:]
        if let url = operation.url {
            try await client.bulkResults(url: url) { line in
                if let parent = line["__parentId"]?.stringValue {
                    variants[parent, default: []].append(.object(line))
                } else if let id = line["id"]?.stringValue {
                    if nodes[id] == nil { order.append(id) }
                    nodes[id] = line
                }
            }
        }
        let mapper = CatalogItemMapper(shopDomain: shop.domain, itemIdMode: shop.braze.catalog.itemId)
        var chunk: [CatalogProduct] = []
        for id in order {
            guard let node = nodes[id], let product = mapper.fromGraphQL(node, extraVariants: variants[id] ?? []) else { continue }
            chunk.append(product)
            if chunk.count >= max(1, settings.productsPerChunk) {
                try await apply(chunk, runId: runId, asOf: asOf, tally: &tally)
                chunk.removeAll()
                progress(CatalogSyncProgress(pages: tally.pages, counts: tally.counts, shopify: client.stats))
            }
        }
        if !chunk.isEmpty || tally.pages == 0 {
            try await apply(chunk, runId: runId, asOf: asOf, tally: &tally)
            progress(CatalogSyncProgress(pages: tally.pages, counts: tally.counts, shopify: client.stats))
        }
    }

    /// Applies products in one transaction with their operations.
    private func apply(_ products: [CatalogProduct], runId: String, asOf: EpochMillis, tally: inout Tally) async throws {
        let shop = self.shop, logger = self.logger, force = settings.force, now = clock.now()
        let applied = try await states.write { state -> (Int, CatalogCounts, [String]) in
            var updater = CatalogUpdater(shop: shop, state: state, logger: logger, opIdBase: runId, createdAt: now)
            updater.force = force
            var kept: [String] = []
            for product in products {
                kept += try updater.apply(product, version: asOf, inventoryAsOf: asOf, keepMissing: true)
            }
            try state.enqueue(updater.operations)
            return (updater.operations.count, updater.counts, kept)
        }
        tally.pages += 1
        tally.enqueued += applied.0
        tally.counts += applied.1
        tally.keptItems.formUnion(applied.2)
        tally.keptProducts.formUnion(products.map(\.productId))
    }

    /// The variants of a product beyond those its node carried.
    private func moreVariants(of node: JSONObject) async throws -> [JSONValue] {
        guard let id = node["id"]?.stringValue, let info = node["variants"]?.objectValue?["pageInfo"]?.objectValue,
              info["hasNextPage"] == .bool(true), let cursor = info["endCursor"]?.stringValue else { return [] }
        var extra: [JSONValue] = []
        try await client.paginate(variantsQuery, variables: ["id": .string(id)], connection: ["product", "variants"], startCursor: cursor) { page in
            extra += page.nodes
        }
        return extra
    }

    /// Operations of run `runId` still in the outbox, and those dead-lettered (for `--wait`).
    public func delivery(runId: String) async throws -> (pending: Int, dead: Int) {
        try await outbox.count(shop: shop.domain, opIdPrefix: runId + ":")
    }
}

import ArgumentParser
import AsyncHTTPClient
import Foundation
import Logging
import ShopTrail

/// `shoptrail catalog …`: the Braze catalog mirroring a shop's products.
struct CatalogCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "catalog",
        abstract: "Mirror a shop's products into its Braze catalog.",
        subcommands: [CatalogSyncCommand.self]
    )
}

/// `shoptrail catalog sync --shop DOMAIN`: reads every product from the Admin API and enqueues the
/// catalog changes into the shop's outbox; the running `serve` delivers them.
struct CatalogSyncCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync",
        abstract: "Read all products and variants from Shopify and bring the Braze catalog in line.",
        discussion: """
            Enqueues the catalog's creation and the changed items into the outbox of the shop's database \
            (server.data_dir); `shoptrail serve` delivers them. Needs braze.catalog.enabled and \
            shopify.admin_access_token (scope read_products).
            """
    )

    @OptionGroup var configOptions: ConfigOptions
    @Option(help: "The shop (its myshopify domain).") var shop: String
    @Option(help: "Folder of the SQLite database (overrides server.data_dir).") var data: String?
    @Option(help: "auto: one bulk operation (pages while another bulk query of the shop runs); bulk; or pages.") var mode: CatalogSync.Mode = .auto
    @Option(help: "Products per Admin API query in pages mode (each with its first 10 variants).") var pageSize = 20
    @Flag(help: "Enqueue the catalog's creation and every item, also those equal to what was last sent.") var force = false
    @Flag(help: "After enqueuing, wait until the running server has delivered this sync's operations.") var wait = false
    @Option(help: "Seconds to wait with --wait.") var waitTimeout = 600
    @Option(help: "trace, debug, info, notice, warning, error or critical (or LOG_LEVEL).") var logLevel: String?

    func run() async throws {
        let logger = bootstrapLogging(level: logLevel ?? "warning")
        let (config, shopConfig) = try configOptions.load(shop: shop)
        guard shopConfig.braze.catalog.enabled else { throw ValidationError("braze.catalog.enabled is false for \(shop)") }
        guard pageSize > 0 else { throw ValidationError("--page-size must be at least 1") }
        var settled = config
        if let data { settled.server.dataDir = data }
        if settled.storage.engine == .sqlite { try prepareDataDirectory(settled.server.dataDir, logger: logger) }

        let httpClient = HTTPClient(eventLoopGroupProvider: .singleton)
        do {
            try await withConfiguredStore(settled, instance: "cli-" + defaultInstanceName(), logger: logger) { store in
                try await self.sync(shopConfig, store: store, httpClient: httpClient, logger: logger)
            }
        } catch {
            try? await httpClient.shutdown()
            throw error
        }
        try await httpClient.shutdown()
    }

    private func sync(_ shopConfig: ShopConfig, store: any ShopTrailStore, httpClient: HTTPClient, logger: Logger) async throws {
        let client = try ShopifyAdminClient(shop: shopConfig, httpClient: httpClient, logger: logger)
        var settings = CatalogSync.Settings()
        settings.productsPerPage = pageSize
        settings.mode = mode
        settings.force = force
        let catalog = shopConfig.braze.catalog
        print("catalog sync: \(shopConfig.domain) → Braze catalog '\(catalog.name)' (item id: \(catalog.itemId.rawValue)), Admin API \(client.endpoint)")
        let started = Date()
        let summary = try await CatalogSync(shop: shopConfig, states: store.state, outbox: store.outbox, client: client, settings: settings, logger: logger).run { p in
            print("  chunk \(p.pages): products \(p.counts.products), variants \(p.counts.variants), to upsert \(p.counts.upserted), unchanged \(p.counts.unchanged)"
                  + "  [shopify: \(p.shopify.requests) requests, cost \(Int(p.shopify.totalCost)), throttled \(p.shopify.throttled)]")
        }
        let c = summary.counts
        let seconds = String(format: "%.1f", Date().timeIntervalSince(started))
        print("""
            done in \(seconds) s
              products:          \(c.products)\(c.stale > 0 ? " (\(c.stale) skipped: a newer webhook was already applied)" : "")
              variants:          \(c.variants)
              items upserted:    \(c.upserted)
              items unchanged:   \(c.unchanged)
              items deleted:     \(c.deleted)
              variants skipped:  \(c.skipped)\(c.skipped > 0 ? " (see the log: no SKU, id too long, or id collision)" : "")
              back in stock:     \(c.backInStock)
              shopify:           \(summary.mode.rawValue): \(summary.shopify.requests) requests, \(summary.shopify.bulkLines) bulk lines, cost \(Int(summary.shopify.totalCost)), throttled \(summary.shopify.throttled), waited \(summary.shopify.waitedMillis) ms
              braze:             \(summary.enqueued) operations enqueued → at least \(summary.brazeRequests) requests (50 items per request)
            """)
        if shopConfig.braze.isDryRun {
            print("note: \(shopConfig.domain) has no braze.api_key: `shoptrail serve` delivers to its in-process sandbox")
        }
        guard wait else {
            print("queued in \(store.engineDescription); the running `shoptrail serve` delivers them (`shoptrail outbox status --shop \(shopConfig.domain)`)")
            return
        }
        let sync = CatalogSync(shop: shopConfig, states: store.state, outbox: store.outbox, client: client, logger: logger)
        let deadline = Date().addingTimeInterval(TimeInterval(waitTimeout))
        var last = -1
        while true {
            let (pending, dead) = try await sync.delivery(runId: summary.runId)
            if pending != last {
                print("  waiting for delivery: pending \(pending), dead \(dead)")
                last = pending
            }
            if pending == 0 {
                print(dead == 0 ? "delivered" : "delivered except \(dead) dead-lettered (`shoptrail outbox status --shop \(shopConfig.domain)`)")
                if dead > 0 { throw ExitCode(2) }
                return
            }
            guard Date() < deadline else {
                print("still \(pending) pending after \(waitTimeout) s: is `shoptrail serve` running with this data folder?")
                throw ExitCode(3)
            }
            try await Task.sleep(for: .seconds(1))
        }
    }
}

extension CatalogSync.Mode: ExpressibleByArgument {}

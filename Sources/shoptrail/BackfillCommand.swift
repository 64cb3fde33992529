import ArgumentParser
import AsyncHTTPClient
import Foundation
import Logging
import ShopTrail

/// `shoptrail backfill --shop DOMAIN`: imports the shop's customers and last N days of orders into Braze, once.
struct BackfillCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backfill",
        abstract: "Import a shop's customers and the orders of the last N days into Braze (once).",
        discussion: """
            Reads Shopify's Admin API, prints the plan (data points, trigger risk), asks for confirmation, then enqueues \
            into the outbox of the shop's database; the running `shoptrail serve` delivers. Interrupted runs resume \
            from their checkpoint. See docs/backfill.md.
            """
    )

    @OptionGroup var configOptions: ConfigOptions
    @Option(help: "The shop (its myshopify domain).") var shop: String
    @Option(help: "Days of history (more than 60 needs read_all_orders).") var days = 90
    @Flag(help: "Fetch and print the plan; enqueue nothing.") var dryRun = false
    @Flag(help: "Do not ask for confirmation.") var yes = false
    @Flag(help: "Run again after a finished backfill (can re-trigger Canvases).") var force = false
    @Flag(help: "Print the shop's stored backfill job (state, phase, error, counts) and exit; non-zero when it failed.") var status = false
    @Option(help: "Folder of the SQLite database (overrides server.data_dir).") var data: String?
    @Option(help: "auto (bulk operations, pages while another bulk query runs), bulk or pages.") var mode: Backfill.Mode = .auto
    @Option(help: "trace, debug, info, notice, warning, error or critical (or LOG_LEVEL).") var logLevel: String?

    func run() async throws {
        let logger = bootstrapLogging(level: logLevel ?? "warning")
        let (config, shopConfig) = try configOptions.load(shop: shop)
        let interactive = isatty(STDIN_FILENO) == 1
        if !dryRun && !yes && !interactive && !status {
            throw ValidationError("stdin is not a terminal: pass --yes to confirm the backfill (or --dry-run to see the plan)")
        }
        var settled = config
        if let data { settled.server.dataDir = data }
        if settled.storage.engine == .sqlite { try prepareDataDirectory(settled.server.dataDir, logger: logger) }
        try await withConfiguredStore(settled, instance: "cli-" + defaultInstanceName(), logger: logger) { store in
            try await self.run(shopConfig, store: store, logger: logger)
        }
    }

    private func run(_ shopConfig: ShopConfig, store: any ShopTrailStore, logger: Logger) async throws {
        let jobs = store.backfillJobs
        if status {
            let job = try await jobs.job(shop: shopConfig.domain)
            print(Self.describe(job))
            if job.state == .failed { throw ExitCode(2) }
            return
        }
        let httpClient = HTTPClient(eventLoopGroupProvider: .singleton)
        do {
            try await backfill(shopConfig, store: store, httpClient: httpClient, logger: logger)
        } catch {
            try? await httpClient.shutdown()
            if let failure = error as? Backfill.Failure {
                print("backfill: \(failure)")
                if case .brazeLookup = failure, let job = try? await jobs.job(shop: shopConfig.domain) {
                    print(Self.describe(job))
                }
                throw ExitCode(2)
            }
            // Any other failure (Shopify, the database, an interruption) is recorded on the job too.
            if let job = try? await jobs.job(shop: shopConfig.domain), job.state == .failed { print(Self.describe(job)) }
            throw error
        }
        try await httpClient.shutdown()
    }

    private func backfill(_ shopConfig: ShopConfig, store: any ShopTrailStore, httpClient: HTTPClient, logger: Logger) async throws {
        let client = try ShopifyAdminClient(shop: shopConfig, httpClient: httpClient, logger: logger)
        // Only to ask which users exist; without an API key, ShopTrail's own records decide who is new.
        let braze = BrazeClient(httpClient: httpClient, config: shopConfig.braze)
        var settings = Backfill.Settings()
        settings.days = days
        settings.dryRun = dryRun
        settings.force = force
        settings.mode = mode
        let terminal = isatty(STDOUT_FILENO) == 1
        let yes = self.yes
        print("backfill: \(shopConfig.domain), \(days) days, Admin API \(client.endpoint)\(dryRun ? " (dry run)" : "")")
        let summary = try await Backfill(shop: shopConfig, states: store.state, jobs: store.backfillJobs, client: client, braze: braze, settings: settings, logger: logger).run(
            confirm: { plan in
                print(plan.render())
                if yes { return true }
                print("Enqueue these operations? Type 'yes' to continue: ", terminator: "")
                return readLine()?.trimmingCharacters(in: .whitespaces).lowercased() == "yes"
            },
            progress: { p in
                let total = p.total.map { "/\($0)" } ?? ""
                let line = "\(p.phase.rawValue): \(p.done)\(total)  [shopify: \(p.shopify.requests) requests, cost \(Int(p.shopify.totalCost)), throttled \(p.shopify.throttled)]"
                if terminal {
                    let width = 30
                    let filled = p.total.map { $0 > 0 ? min(width, p.done * width / $0) : width } ?? 0
                    // Unbuffered: a line without a newline would sit in stdio's buffer.
                    let bar = "\r[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] " + line + "   "
                    FileHandle.standardOutput.write(Data(bar.utf8))
                } else {
                    print(line)
                }
            })
        if terminal { print("") }
        if summary.dryRun {
            print(summary.plan.render())
            print("dry run: nothing enqueued, nothing sent")
        }
        let c = summary.job.counts
        print("""
            \(summary.dryRun ? "planned" : "done") in \(String(format: "%.1f", Double(summary.durationMillis) / 1000)) s\(summary.resumed ? " (resumed an interrupted run)" : "")
              customers:   \(c.customersFetched) fetched, \(c.customersEnqueued) enqueued, \(c.newUsers) new in Braze (\(c.subscriptionStates) with subscription states)
              orders:      \(c.ordersFetched) fetched, \(c.ordersEnqueued) enqueued, \(c.ordersSkipped) skipped
              operations:  \(summary.enqueued) enqueued (≈ \(summary.plan.brazeRequests) Braze requests once delivered)
              shopify:     \(summary.shopify.requests) requests, \(summary.shopify.bulkOperations) bulk operations, cost \(Int(summary.shopify.totalCost)), throttled \(summary.shopify.throttled)
              braze:       \(summary.brazeLookups.requests) /users/export/ids requests (\(summary.brazeLookups.rateLimited) answered 429, waited \(String(format: "%.1f", Double(summary.brazeLookups.waitedMillis) / 1000)) s)
            """)
        if let warning = summary.job.warning { print("WARNING: \(warning)") }
        if !summary.dryRun {
            print("queued in \(store.engineDescription); the running `shoptrail serve` delivers them (`shoptrail outbox status --shop \(shopConfig.domain)`)")
        }
    }

    /// The stored job as the status lines print it.
    static func describe(_ job: BackfillJob) -> String {
        let c = job.counts
        var lines = ["backfill job of \(job.shop): \(job.state.rawValue)\(job.phase.map { " at \($0.rawValue)" } ?? "")"]
        if let reason = job.reason { lines.append("  error:       \(reason)") }
        lines += [
            "  customers:   \(c.customersFetched) fetched, \(c.customersEnqueued) enqueued, \(c.newUsers) new in Braze (\(c.subscriptionStates) with subscription states)",
            "  orders:      \(c.ordersFetched) fetched, \(c.ordersEnqueued) enqueued, \(c.ordersSkipped) skipped",
            "  braze:       \(c.brazeLookups) /users/export/ids requests, \(c.brazeRateLimited) answered 429",
            "  runs:        \(job.runs)",
        ]
        if job.state == .failed { lines.append("  run `shoptrail backfill --shop \(job.shop)` again (without --force) to continue from the checkpoint") }
        return lines.joined(separator: "\n")
    }
}

extension Backfill.Mode: ExpressibleByArgument {}

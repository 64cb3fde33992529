import ArgumentParser
import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import Metrics
import ServiceLifecycle
import ShopTrail

/// `shoptrail serve`: the collector and everything behind it, on the embedded SQLite store.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "serve", abstract: "Run the ShopTrail server.")

    @OptionGroup var configOptions: ConfigOptions
    @Option(help: "Address to listen on (overrides server.host).") var host: String?
    @Option(help: "Port to listen on; 0 picks a free one (overrides server.port).") var port: Int?
    @Option(help: "Folder for the SQLite database (overrides server.data_dir).") var data: String?
    @Option(help: "Port of the in-process Braze sandbox for shops without a Braze API key; 0 picks a free one. Default 9090, or 0 when --port is 0.") var sandboxPort: Int?
    @Option(help: "trace, debug, info, notice, warning, error or critical (or LOG_LEVEL).") var logLevel: String?

    func run() async throws {
        let logger = bootstrapLogging(level: logLevel)
        var config = try configOptions.load(host: host ?? "127.0.0.1", port: port ?? 8080)
        if let host { config.server.host = host }
        if let port { config.server.port = port }
        if let data { config.server.dataDir = data }

        if config.storage.engine == .postgres { try await Self.refusePostgresEngine(config.storage, logger: logger) }
        try prepareDataDirectory(config.server.dataDir, logger: logger)
        let dbPath = (config.server.dataDir as NSString).appendingPathComponent("shoptrail.sqlite")
        let store = try SQLiteEventStore(path: dbPath, synchronous: config.server.sqliteSynchronous)
        logger.info("store opened", metadata: ["path": .string(dbPath), "synchronous": .string(config.server.sqliteSynchronous.rawValue)])

        let settled = config
        let descriptors = ConnectionCounter.raiseDescriptorLimit()
        logger.info("connection limits", metadata: [
            "descriptors": "\(descriptors)", "max_connections": "\(ConnectionCounter.effectiveLimit(configured: settled.server.limits.maxConnections))",
            "idle_timeout_ms": "\(settled.server.limits.idleTimeoutMillis)", "request_timeout_ms": "\(settled.server.limits.requestTimeoutMillis)",
        ])
        let (adminToken, adminTokenOrigin) = try AdminToken.loadOrCreate(server: settled.server)
        let deps = AppDependencies(config: settled, store: store, logger: logger, adminToken: adminToken)
        // Once per process (MetricsSystem is process-global): what other libraries count through
        // swift-metrics lands in the registry /metrics renders, beside ShopTrail's own.
        MetricsSystem.bootstrap(deps.signals.factory)
        let app = buildApplication(deps, host: settled.server.host, port: settled.server.port) { boundPort in
            // Straight to the file descriptor: stdout may be a pipe, where print() would sit in a buffer.
            let banner = Banner.text(config: settled, port: boundPort, databasePath: dbPath, adminTokenOrigin: adminTokenOrigin.description)
            FileHandle.standardOutput.write(Data((banner + "\n").utf8))
        }

        let httpClient = HTTPClient(eventLoopGroupProvider: .singleton)
        let delivery = BrazeDelivery(
            config: settled, httpClient: httpClient, sandboxHost: "127.0.0.1",
            sandboxPort: sandboxPort ?? (settled.server.port == 0 ? 0 : 9090)
        ) { port in
            let text = "Braze sandbox (in-process, for shops without a Braze API key) on http://127.0.0.1:\(port)\n"
                + "  profiles:  curl -s http://127.0.0.1:\(port)/_sandbox/users\n"
            FileHandle.standardOutput.write(Data(text.utf8))
        }
        let stages = BackgroundStages(config: settled, database: store.database, senders: delivery.senders, faultHook: Self.testFault(), logger: logger,
                                     signals: deps.signals)
        // Shut down in reverse order: stop taking beacons, then processing, then forwarding, then the sandbox.
        var first: [any Service] = delivery.sandbox.map { [$0] } ?? []
        if let listen = settled.server.metricsListen {
            first.append(buildMetricsApplication(config: settled, views: SQLiteOperatorViews(database: store.database), signals: deps.signals, host: listen.host, port: listen.port, logger: logger) { port in
                FileHandle.standardOutput.write(Data("metrics (no token, server.metrics_listen) on http://\(listen.host):\(port)/metrics\n".utf8))
            })
        }
        let services = stages.services(app: app, first: first)
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch {
            try? await httpClient.shutdown()
            throw error
        }
        try await httpClient.shutdown()
        let stats = store.commitStats()
        logger.notice("stopped", metadata: ["batches": "\(stats.batches)", "transactions": "\(stats.transactions)"])
    }

    /// The PostgreSQL engine is built repository by repository (issue 16): the schema and the event log
    /// are in, the processor's state, the outbox and the timers are not yet. Serving on it would split
    /// one store over two engines, so `serve` checks the server (a wrong URL or an unreachable server
    /// is named as such) and then says plainly that this version serves on SQLite only.
    static func refusePostgresEngine(_ storage: StorageConfig, logger: Logger) async throws {
        guard let url = storage.postgres else { throw StorageUnavailable(key: "storage.url", reason: "is required with engine: postgres") }
        let database = try PostgresDatabase(url: url, logger: logger)
        try await database.withRunning { try await $0.open() }
        throw StorageUnavailable(key: "storage.engine", reason: """
            PostgreSQL at \(url.host):\(url.port) answered and its schema is migrated, but this version serves on the \
            SQLite engine only (the PostgreSQL engine has the event log, not yet the processor state, outbox and timers): use engine: sqlite
            """)
    }

    /// Test-only: `SHOPTRAIL_TEST_FAULT_EVENT_ID=<event id>` makes the process die when the processor
    /// handles that event (the end-to-end test of the crash-only safety net). Never set it in production.
    static func testFault() -> ProcessorService.FaultHook? {
        guard let id = ProcessInfo.processInfo.environment["SHOPTRAIL_TEST_FAULT_EVENT_ID"], !id.isEmpty else { return nil }
        return { event in
            if event.event.eventId == id { fatalError("test fault: the processor dies on event \(id)") }
        }
    }
}

/// What a newcomer needs to see when the server starts.
enum Banner {
    static func text(config: ShopTrailConfig, port: Int, databasePath: String, adminTokenOrigin: String) -> String {
        let base = "http://\(config.server.host == "0.0.0.0" ? "127.0.0.1" : config.server.host):\(port)"
        var lines = [
            "ShopTrail \(ShopTrailVersion.string) is running on \(base)",
            "  config:    \(config.origin)",
            "  store:     \(databasePath) (SQLite, WAL, synchronous=\(config.server.sqliteSynchronous.rawValue))",
            "  health:    curl -s \(base)/healthz",
            "  collector: POST \(base)/v1/batch",
            "  admin:     token in \(adminTokenOrigin)  (GET \(base)/v1/shops/{domain}/snippet.liquid)",
            "  console:   \(base)/console  (log in with the admin token; metrics: GET \(base)/metrics with it as Bearer)",
        ]
        for shop in config.shops {
            let braze = shop.braze.isDryRun ? "in-process sandbox (no Braze API key)" : "\(shop.braze.restEndpoint ?? "")"
            lines.append("  shop:      \(shop.domain)  write key: \(shop.writeKey)  braze: \(braze)")
        }
        if let shop = config.shops.first {
            lines.append("")
            lines.append("Send a test event:")
            lines.append("  curl -s \(base)/v1/batch -H 'Content-Type: text/plain' -d '{\"write_key\":\"\(shop.writeKey)\",\"visitor_id\":\"v_hello_world\",\"events\":[{\"id\":\"evt-1\",\"name\":\"page_viewed\",\"properties\":{\"url\":\"https://\(shop.domain)/\"}}]}'")
            lines.append("")
            lines.append("Next: the theme snippet: `shoptrail snippet --shop \(shop.domain)` (docs/storefront-kit.md)")
        }
        return lines.joined(separator: "\n")
    }
}

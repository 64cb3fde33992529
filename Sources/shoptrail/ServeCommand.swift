import ArgumentParser
import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import Metrics
import ServiceLifecycle
import ShopTrail

/// `shoptrail serve`: the collector and everything behind it, on the configured store (SQLite by default).
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

        if config.storage.engine == .sqlite { try prepareDataDirectory(config.server.dataDir, logger: logger) }
        let settled = config
        try await withConfiguredStore(settled, instance: defaultInstanceName(), logger: logger) { store in
            logger.info("store opened", metadata: ["store": .string(store.engineDescription)])
            try await Self.serve(settled, store: store, logger: logger, sandboxPort: sandboxPort)
        }
    }

    static func serve(_ settled: ShopTrailConfig, store: any ShopTrailStore, logger: Logger, sandboxPort: Int?) async throws {
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
            let banner = Banner.text(config: settled, port: boundPort, store: store.engineDescription, adminTokenOrigin: adminTokenOrigin.description)
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
        let stages = BackgroundStages(config: settled, store: store, senders: delivery.senders, faultHook: Self.testFault(), logger: logger,
                                     signals: deps.signals)
        // Shut down in reverse order: stop taking beacons, then processing, then forwarding, then the sandbox.
        var first: [any Service] = delivery.sandbox.map { [$0] } ?? []
        if let listen = settled.server.metricsListen {
            first.append(buildMetricsApplication(config: settled, views: store.operatorViews, signals: deps.signals, host: listen.host, port: listen.port, logger: logger) { port in
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
        var metadata: Logger.Metadata = ["batches": "\(stats.batches)", "transactions": "\(stats.transactions)"]
        if let writes = stats.writes {
            metadata["background_writes"] = "\(writes.background)"
            metadata["background_deferred"] = "\(writes.deferred)"
            metadata["background_at_deadline"] = "\(writes.forcedByDeadline)"
            metadata["background_held_saturated"] = "\(writes.heldWhileSaturated)"
            metadata["background_over_budget"] = "\(writes.overBudget)"
        }
        logger.notice("stopped", metadata: metadata)
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
    static func text(config: ShopTrailConfig, port: Int, store: String, adminTokenOrigin: String) -> String {
        let base = "http://\(config.server.host == "0.0.0.0" ? "127.0.0.1" : config.server.host):\(port)"
        var lines = [
            "ShopTrail \(ShopTrailVersion.string) is running on \(base)",
            "  config:    \(config.origin)",
            "  store:     \(store)\(config.storage.engine == .sqlite ? ", synchronous=\(config.server.sqliteSynchronous.rawValue)" : "")",
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

import ArgumentParser
import Foundation
import Hummingbird
import Logging
import ShopTrail

/// `shoptrail serve`: the collector and everything behind it, on the embedded SQLite store.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "serve", abstract: "Run the ShopTrail server.")

    @OptionGroup var configOptions: ConfigOptions
    @Option(help: "Address to listen on (overrides server.host).") var host: String?
    @Option(help: "Port to listen on; 0 picks a free one (overrides server.port).") var port: Int?
    @Option(help: "Folder for the SQLite database (overrides server.data_dir).") var data: String?
    @Option(help: "trace, debug, info, notice, warning, error or critical (or LOG_LEVEL).") var logLevel: String?

    func run() async throws {
        let logger = bootstrapLogging(level: logLevel)
        var config = try configOptions.load(host: host ?? "127.0.0.1", port: port ?? 8080)
        if let host { config.server.host = host }
        if let port { config.server.port = port }
        if let data { config.server.dataDir = data }

        try FileManager.default.createDirectory(atPath: config.server.dataDir, withIntermediateDirectories: true)
        let dbPath = (config.server.dataDir as NSString).appendingPathComponent("shoptrail.sqlite")
        let store = try SQLiteEventStore(path: dbPath, synchronous: config.server.sqliteSynchronous)
        logger.info("store opened", metadata: ["path": .string(dbPath), "synchronous": .string(config.server.sqliteSynchronous.rawValue)])

        let settled = config
        let deps = AppDependencies(config: settled, store: store, logger: logger)
        let app = buildApplication(deps, host: settled.server.host, port: settled.server.port) { boundPort in
            // Straight to the file descriptor: stdout may be a pipe, where print() would sit in a buffer.
            FileHandle.standardOutput.write(Data((Banner.text(config: settled, port: boundPort, databasePath: dbPath) + "\n").utf8))
        }
        try await app.runService()
        let stats = store.commitStats()
        logger.notice("stopped", metadata: ["batches": "\(stats.batches)", "transactions": "\(stats.transactions)"])
    }
}

/// What a newcomer needs to see when the server starts.
enum Banner {
    static func text(config: ShopTrailConfig, port: Int, databasePath: String) -> String {
        let base = "http://\(config.server.host == "0.0.0.0" ? "127.0.0.1" : config.server.host):\(port)"
        var lines = [
            "ShopTrail \(ShopTrailVersion.string) is running on \(base)",
            "  config:    \(config.origin)",
            "  store:     \(databasePath) (SQLite, WAL, synchronous=\(config.server.sqliteSynchronous.rawValue))",
            "  health:    curl -s \(base)/healthz",
            "  collector: POST \(base)/v1/batch",
        ]
        for shop in config.shops {
            let braze = shop.braze.isDryRun ? "dry-run (no Braze API key)" : "\(shop.braze.restEndpoint ?? "")"
            lines.append("  shop:      \(shop.domain)  write key: \(shop.writeKey)  braze: \(braze)")
        }
        if let shop = config.shops.first {
            lines.append("")
            lines.append("Send a test event:")
            lines.append("  curl -s \(base)/v1/batch -H 'Content-Type: text/plain' -d '{\"write_key\":\"\(shop.writeKey)\",\"visitor_id\":\"v_hello_world\",\"events\":[{\"id\":\"evt-1\",\"name\":\"page_viewed\",\"properties\":{\"url\":\"https://\(shop.domain)/\"}}]}'")
            lines.append("")
            lines.append("Next: the theme snippet (`shoptrail snippet --shop \(shop.domain)`) arrives with the storefront kit; see README.md.")
        }
        return lines.joined(separator: "\n")
    }
}

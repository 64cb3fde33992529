import ArgumentParser
import Foundation
import Logging
import ShopTrail

/// `shoptrail migrate --to postgres`: from one box to several (docs/postgres.md, "Moving up").
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Copy the SQLite store into an empty PostgreSQL database (stop the server first).",
        discussion: """
            The source is shoptrail.sqlite in server.data_dir (or --data); the target is the config's storage section, \
            which must say engine: postgres. The target is migrated, then every table is copied in one transaction and \
            each table's row count is compared on both sides.
            """
    )

    @OptionGroup var configOptions: ConfigOptions
    @Option(help: "The engine to move to (postgres).") var to: String
    @Option(help: "Folder of the SQLite store (overrides server.data_dir).") var data: String?

    func run() async throws {
        guard to == "postgres" else { throw ValidationError("--to takes postgres (the only engine to move to)") }
        var config = try configOptions.load()
        if let data { config.server.dataDir = data }
        guard config.storage.engine == .postgres, let url = config.storage.postgres else {
            throw ValidationError("storage.engine: set engine: postgres and storage.url (or url_env) in the config: migrate copies into that database")
        }
        let path = (config.server.dataDir as NSString).appendingPathComponent("shoptrail.sqlite")
        guard FileManager.default.fileExists(atPath: path) else { throw ValidationError("no SQLite store at \(path) (server.data_dir or --data)") }
        var logger = Logger(label: "shoptrail.migrate")
        logger.logLevel = .warning
        let source = try SQLiteDatabase(path: path, synchronous: config.server.sqliteSynchronous)
        let target = try PostgresDatabase(url: url, maximumConnections: 2, logger: logger)
        print("copying \(path) into \(url)")
        let shops = config.shops.map(\.domain)
        let (tables, notes) = try await target.withRunning { target in
            try await target.open()
            return try await StoreMigration(source: source, target: target, shops: shops).run { line in print("  \(line)") }
        }
        for note in notes { print("note: \(note)") }
        let rows = tables.reduce(0) { $0 + $1.targetRows }
        print("verified: \(tables.count) tables, \(rows) rows, every count equal on both sides")
        print("next: start `shoptrail serve` with this config on each instance (docs/postgres.md)")
    }
}

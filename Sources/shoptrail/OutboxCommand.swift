import ArgumentParser
import Foundation
import Logging
import ShopTrail

/// `shoptrail outbox …`: what waits for Braze, and a second chance for what Braze rejected.
struct OutboxCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "outbox",
        abstract: "Inspect the Braze outbox and retry dead letters.",
        subcommands: [OutboxStatusCommand.self, OutboxRetryDeadCommand.self]
    )
}

/// Options to find the database the server writes.
struct OutboxOptions: ParsableArguments {
    @OptionGroup var configOptions: ConfigOptions
    @Option(help: "Folder of the SQLite database (overrides server.data_dir).") var data: String?
    @Option(help: "Only this shop (its myshopify domain).") var shop: String?

    /// Runs `body` on the configured store (SQLite or PostgreSQL); refuses to create a SQLite file that is not there.
    func withStore<T: Sendable>(_ body: @Sendable (any ShopTrailStore, ShopTrailConfig) async throws -> T) async throws -> T {
        var config = try configOptions.load()
        if let shop, !config.shops.contains(where: { $0.domain == shop }) {
            throw ValidationError("unknown shop '\(shop)'; configured: \(config.shops.map(\.domain).joined(separator: ", "))")
        }
        if let data { config.server.dataDir = data }
        if config.storage.engine == .sqlite {
            let path = (config.server.dataDir as NSString).appendingPathComponent("shoptrail.sqlite")
            guard FileManager.default.fileExists(atPath: path) else {
                throw ValidationError("no database at \(path) (has `shoptrail serve` run with this data folder?)")
            }
        }
        var logger = Logger(label: "shoptrail.cli")
        logger.logLevel = .warning
        let settled = config
        return try await withConfiguredStore(settled, instance: "cli-" + defaultInstanceName(), logger: logger) { store in try await body(store, settled) }
    }
}

/// `shoptrail outbox status`: pending, in flight, dead and the oldest pending age, per shop.
struct OutboxStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Show what waits for Braze, per shop.")

    @OptionGroup var options: OutboxOptions
    @Option(help: "How many recent dead letters to list per shop.") var deadLetters = 5

    func run() async throws {
        let deadLetters = deadLetters
        let only = options.shop
        try await options.withStore { store, config in
            let outbox = store.outbox
            let processor = ProcessorCommand.service(store, config)
            try await Self.report(outbox: outbox, processor: processor, shops: only.map { [$0] } ?? config.shops.map(\.domain), deadLetters: deadLetters)
        }
    }

    static func report(outbox: any Outbox, processor: ProcessorService, shops: [String], deadLetters: Int) async throws {
        let now = SystemClock().now()
        for shop in shops {
            let status = try await outbox.status(shop: shop, now: now)
            let age = status.oldestPendingAgeMillis.map { Self.duration($0) } ?? "-"
            let quarantined = try await processor.quarantineCount(shop: shop)
            print("\(shop): pending=\(status.pending) in_flight=\(status.inFlight) dead=\(status.dead) oldest_pending_age=\(age) quarantined_events=\(quarantined)")
            guard status.dead > 0, deadLetters > 0 else { continue }
            for letter in try await outbox.deadLetters(shop: shop, limit: deadLetters) {
                print("  dead \(letter.operation.id) \(letter.operation.kind.rawValue) user=\(letter.operation.userKey) attempts=\(letter.attempts): \(letter.reason)")
            }
        }
    }

    /// `1h02m`, `3m05s`, `12s`, `250ms`.
    static func duration(_ millis: EpochMillis) -> String {
        let seconds = millis / 1000
        if seconds >= 3600 { return String(format: "%dh%02dm", seconds / 3600, (seconds % 3600) / 60) }
        if seconds >= 60 { return String(format: "%dm%02ds", seconds / 60, seconds % 60) }
        if seconds >= 1 { return "\(seconds)s" }
        return "\(millis)ms"
    }
}

/// `shoptrail outbox retry-dead`: moves dead letters back into the outbox (after fixing their cause).
struct OutboxRetryDeadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "retry-dead", abstract: "Queue dead-lettered operations again.")

    @OptionGroup var options: OutboxOptions

    func run() async throws {
        let only = options.shop
        let moved = try await options.withStore { store, _ in try await store.outbox.retryDead(shop: only) }
        print("queued again: \(moved)")
    }
}

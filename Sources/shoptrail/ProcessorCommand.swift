import ArgumentParser
import Foundation
import Logging
import ShopTrail

/// `shoptrail processor …`: the events the processor set aside, and a second chance for them.
struct ProcessorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "processor",
        abstract: "Inspect and retry events the processor quarantined.",
        subcommands: [ProcessorStatusCommand.self, ProcessorRetryCommand.self]
    )

    /// The processor's inspection and retry on `store` (never started as a service here).
    static func service(_ store: any ShopTrailStore, _ config: ShopTrailConfig) -> ProcessorService {
        var logger = Logger(label: "shoptrail.processor")
        logger.logLevel = .warning
        return ProcessorService(log: store.processorLog, config: config, logger: logger)
    }
}

/// `shoptrail processor status`: the quarantined events with their reasons.
struct ProcessorStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "List quarantined events.")

    @OptionGroup var options: OutboxOptions
    @Option(help: "How many to list.") var limit = 20

    func run() async throws {
        let (only, limit) = (options.shop, limit)
        let (count, events) = try await options.withStore { store, config in
            let processor = ProcessorCommand.service(store, config)
            return (try await processor.quarantineCount(shop: only), try await processor.quarantined(shop: only, limit: limit))
        }
        print("quarantined=\(count)")
        for event in events {
            print("  position=\(event.position) \(event.shop) \(event.name) id=\(event.eventId) at=\(Timestamp.format(event.at)): \(event.reason)")
        }
    }
}

/// `shoptrail processor retry [--position P …]`: handles quarantined events again (after an upgrade that fixes them).
struct ProcessorRetryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "retry", abstract: "Handle quarantined events again; each that succeeds leaves the quarantine.")

    @OptionGroup var options: OutboxOptions
    @Option(name: .customLong("position"), help: "Only this log position (repeatable); default: every quarantined event.") var positions: [Int64] = []

    func run() async throws {
        let positions = positions
        let (released, failed) = try await options.withStore { store, config in
            try await ProcessorCommand.service(store, config).retryQuarantined(positions: positions.isEmpty ? nil : positions)
        }
        print("released=\(released) failed=\(failed.count)")
        for line in failed { print("  \(line)") }
        if !failed.isEmpty { throw ExitCode(1) }
    }
}

import ArgumentParser
import Foundation
import Logging
import ShopTrail

/// `shoptrail bench-abandonment` (hidden): timer throughput and scheduler memory for `Benchmarks/abandonment.sh`.
struct BenchAbandonmentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench-abandonment", abstract: "Abandonment timer benchmark.", shouldDisplay: false)

    @Option(help: "Timers to arm and fire.") var timers = 1_000_000
    @Option(help: "Folder for the benchmark database (removed and re-created).") var data = "./data-bench"

    func run() async throws {
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        var logger = Logger(label: "bench")
        logger.logLevel = .warning
        let r = try await AbandonmentBenchmark.run(timers: timers, directory: data, logger: logger)
        print(String(format: "armed %d cart timers in %.1f s: %.0f timers/s (1,000 per transaction)", r.timers, r.armSeconds, Double(r.timers) / r.armSeconds))
        print(String(format: "fired %d in %.1f s: %.0f timers/s (each: Braze event built and queued in the outbox, timer closed, cool-down set)",
                     r.fired, r.fireSeconds, Double(r.fired) / r.fireSeconds))
        print("memory: RSS \(r.rssBeforeKB / 1024) MB before, \(r.rssAfterArmKB / 1024) MB with \(r.timers) armed, peak \(r.peakRSSKB / 1024) MB")
        print("database: \(r.databaseBytes / 1_048_576) MB (timers, outbox operations, counters)")
    }
}

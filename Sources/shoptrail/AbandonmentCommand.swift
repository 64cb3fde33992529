import ArgumentParser
import Foundation
import ShopTrail

/// `shoptrail abandonment …`: the abandonment timers.
struct AbandonmentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "abandonment",
        abstract: "Inspect the abandonment timers.",
        subcommands: [AbandonmentStatusCommand.self]
    )
}

/// `shoptrail abandonment status`: timers armed now and armed, fired, cancelled, expired and suppressed so far, per shop and kind.
struct AbandonmentStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Show the abandonment timers per shop and kind.")

    @OptionGroup var options: OutboxOptions
    @Flag(help: "Print JSON instead of a table.") var json = false

    func run() async throws {
        let only = options.shop
        let statuses = try await options.withStore { store, config in try await AbandonmentStatus.load(database: store.state, config: config, shop: only) }
        if json {
            print(JSONValue.array(statuses.map(\.json)).serialized)
            return
        }
        let now = SystemClock().now()
        for status in statuses {
            print(status.shop)
            print("  kind      enabled  window  armed_now  next_due   " + AbandonmentOutcome.allCases.map { $0.rawValue.padding(toLength: 10, withPad: " ", startingAt: 0) }.joined())
            for kind in status.kinds {
                let due = kind.nextDueAt.map { "in \(max(0, $0 - now) / 1000)s" } ?? "-"
                let cells = [
                    kind.kind.rawValue.padding(toLength: 10, withPad: " ", startingAt: 0),
                    (kind.enabled ? "yes" : "no").padding(toLength: 9, withPad: " ", startingAt: 0),
                    "\(kind.windowMillis / 60_000)m".padding(toLength: 8, withPad: " ", startingAt: 0),
                    String(kind.armedNow).padding(toLength: 11, withPad: " ", startingAt: 0),
                    due.padding(toLength: 11, withPad: " ", startingAt: 0),
                ] + AbandonmentOutcome.allCases.map { String(kind.counts[$0] ?? 0).padding(toLength: 10, withPad: " ", startingAt: 0) }
                print("  " + cells.joined())
            }
        }
    }
}

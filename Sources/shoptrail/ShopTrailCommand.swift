import ArgumentParser
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ShopTrail

/// The `shoptrail` command line.
@main
struct ShopTrailCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shoptrail",
        abstract: "Self-hosted storefront tracking for Shopify shops that use Braze.",
        version: ShopTrailVersion.string,
        subcommands: [ServeCommand.self, ConfigCheckCommand.self, DoctorCommand.self, SnippetCommand.self, PixelCommand.self, OutboxCommand.self, ProcessorCommand.self, AbandonmentCommand.self, CatalogCommand.self, BackfillCommand.self, SandboxCommand.self, MigrateCommand.self, BenchBaselineCommand.self, BenchForwarderCommand.self, BenchAbandonmentCommand.self, BenchConsoleCommand.self],
        defaultSubcommand: nil
    )

    /// Sets the umask before anything touches the disk: every file and folder the process creates
    /// (database, WAL, exports, token, logs) is then private to its user, whatever creates it.
    static func main() async {
        umask(0o077)
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}

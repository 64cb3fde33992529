import ArgumentParser
import ShopTrail

/// The `shoptrail` command line.
@main
struct ShopTrailCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shoptrail",
        abstract: "Self-hosted storefront tracking for Shopify shops that use Braze.",
        version: ShopTrailVersion.string,
        subcommands: [ServeCommand.self, ConfigCheckCommand.self, SnippetCommand.self, PixelCommand.self, OutboxCommand.self, ProcessorCommand.self, AbandonmentCommand.self, CatalogCommand.self, BackfillCommand.self, SandboxCommand.self, BenchBaselineCommand.self, BenchForwarderCommand.self, BenchAbandonmentCommand.self],
        defaultSubcommand: nil
    )
}

import ArgumentParser
import ShopTrail

/// `shoptrail snippet`: prints `snippets/shoptrail.liquid` for one shop (what
/// `GET /v1/shops/{domain}/snippet.liquid` serves).
struct SnippetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snippet",
        abstract: "Print the theme's Liquid snippet (snippets/shoptrail.liquid) for a shop.",
        discussion: "It can contain the shop's snippet_secret: write it to the theme, not to a public place."
    )

    @OptionGroup var configOptions: ConfigOptions
    @Option(help: "The shop's *.myshopify.com domain (from the config).") var shop: String
    @Flag(inversion: .prefixedNo, help: "Inline the tracker instead of loading /sdk/v1/shoptrail.js (default: the shop's inline_tracker).")
    var inline: Bool?

    func run() async throws {
        let config = try configOptions.load()
        guard let shopConfig = config.shop(domain: shop) else {
            throw ValidationError("no shop '\(shop)' in \(config.origin); known: \(config.shops.map(\.domain).joined(separator: ", "))")
        }
        do {
            print(try SnippetGenerator(config: config).snippet(for: shopConfig, inline: inline), terminator: "")
        } catch {
            throw ValidationError(error.message)
        }
    }
}

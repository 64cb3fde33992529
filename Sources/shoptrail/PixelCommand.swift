import ArgumentParser
import ShopTrail

/// `shoptrail pixel`: prints the Custom Pixel code for one shop (what `GET /v1/shops/{domain}/pixel.js` serves).
struct PixelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pixel",
        abstract: "Print the Custom Pixel code (Settings > Customer events) for a shop's checkout events."
    )

    @OptionGroup var configOptions: ConfigOptions
    @Option(help: "The shop's *.myshopify.com domain (from the config).") var shop: String

    func run() async throws {
        let config = try configOptions.load()
        guard let shopConfig = config.shop(domain: shop) else {
            throw ValidationError("no shop '\(shop)' in \(config.origin); known: \(config.shops.map(\.domain).joined(separator: ", "))")
        }
        do {
            print(try PixelGenerator(config: config).pixel(for: shopConfig), terminator: "")
        } catch {
            throw ValidationError(error.message)
        }
    }
}

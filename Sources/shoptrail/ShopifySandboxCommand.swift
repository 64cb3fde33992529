import ArgumentParser
import Foundation
import Hummingbird
import ShopifyAdminEmulator

/// `shoptrail sandbox shopify`: the Shopify Admin GraphQL API emulator with its `/_emulator/*` inspection routes.
struct ShopifySandboxCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "shopify", abstract: "Run the Shopify Admin GraphQL API emulator.")

    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port to listen on; 0 picks a free one.") var port = 9091
    @Option(help: "The shop's *.myshopify.com domain.") var shop = "fixture-shop.myshopify.com"
    @Option(help: "Generated customers.") var customers = 5_000
    @Option(help: "Generated orders (spread over the last 180 days).") var orders = 20_000
    @Option(help: "Generated products (1-4 variants each).") var products = 200
    @Option(help: "Seed of the generated data set; the same seed gives the same shop.") var seed: UInt64 = 42
    @Option(help: "Accepted X-Shopify-Access-Token.") var accessToken = ShopifyEmulatorConfiguration.defaultAccessToken
    @Option(help: "Granted access scopes, comma-separated (add read_all_orders to see orders older than 60 days).")
    var scopes = ShopifyEmulatorConfiguration.defaultScopes.joined(separator: ",")
    @Option(help: "Cost points restored per second.") var restoreRate: Double = 100
    @Option(help: "Cost bucket size (maximumAvailable).") var bucket: Double = 2000

    func validate() throws {
        guard customers >= 0, orders >= 0, products >= 0 else { throw ValidationError("--customers, --orders and --products must not be negative") }
        guard restoreRate > 0, bucket > 0 else { throw ValidationError("--restore-rate and --bucket must be positive") }
        guard shop.hasSuffix(".myshopify.com") else { throw ValidationError("--shop must be a *.myshopify.com domain") }
        guard !accessToken.isEmpty else { throw ValidationError("--access-token must not be empty") }
    }

    func run() async throws {
        let configuration = ShopifyEmulatorConfiguration(
            shopDomain: shop,
            accessTokens: [accessToken],
            accessScopes: scopes.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty },
            throttle: ShopifyThrottleConfiguration(maximumAvailable: bucket, restoreRate: restoreRate),
            seed: seed, customerCount: customers, orderCount: orders, productCount: products
        )
        let state = ShopifyEmulatorState(configuration: configuration)
        let host = self.host
        let token = accessToken
        let counts = "\(customers) customers, \(orders) orders, \(products) products (seed \(seed))"
        let scopeList = configuration.accessScopes.joined(separator: ",")
        let app = buildShopifyAdminEmulatorApplication(state: state, host: host, port: port) { bound in
            let base = "http://\(host):\(bound)"
            let text = """
                ShopifyAdminEmulator for \(configuration.shopDomain) is running on \(base)
                  GraphQL:  POST \(base)/admin/api/2025-07/graphql.json  (X-Shopify-Access-Token: \(token))
                  data:     \(counts)
                  scopes:   \(scopeList)
                  try:      curl -s \(base)/admin/api/2025-07/graphql.json -H 'X-Shopify-Access-Token: \(token)' \\
                              -H 'Content-Type: application/json' -d '{"query":"{ shop { name } orders(first: 3) { nodes { id name createdAt } } }"}'
                  inspect:  curl -s \(base)/_emulator/stats ; curl -s \(base)/_emulator/dataset/summary

                """
            FileHandle.standardOutput.write(Data(text.utf8))
        }
        try await app.runService()
    }
}

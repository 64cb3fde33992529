import ArgumentParser
import ShopTrail

/// `shoptrail check-config`: validates the config and prints what it holds, secrets redacted.
struct ConfigCheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "check-config", abstract: "Validate the configuration and print a summary (no secrets).")

    @OptionGroup var configOptions: ConfigOptions

    func run() async throws {
        let config = try configOptions.load()
        print("config: \(config.origin)")
        print("server: public_url=\(config.server.publicURL) host=\(config.server.host) port=\(config.server.port) data_dir=\(config.server.dataDir)")
        print("storage: engine=\(config.storage.engine.rawValue)\(config.storage.postgres.map { " url=\($0)" } ?? "")")
        for shop in config.shops {
            print("shop \(shop.domain): write_key=\(shop.writeKey) origins=\(shop.allowedOrigins.joined(separator: ",")) snippet_secret=\(shop.snippetSecret == nil ? "unset" : "set") shopify.api_secret=\(shop.shopify.apiSecret == nil ? "unset" : "set")")
            print("  braze: \(shop.braze.isDryRun ? "dry-run" : shop.braze.restEndpoint ?? "") external_id=\(shop.braze.externalId.rawValue) anonymous=\(shop.braze.anonymous.rawValue) events=\(shop.braze.events.rawValue)")
            if let sdk = shop.braze.webSDK, let current = try? SDKAuthKeys.publicKey(privateKeyPEM: sdk.jwtPrivateKey, keyId: sdk.jwtKeyId) {
                // Public halves only: what Braze's dashboard (Settings > App Settings > SDK Authentication) needs.
                let previous = sdk.jwtPreviousPrivateKey.flatMap { try? SDKAuthKeys.publicKey(privateKeyPEM: $0) }
                print("  web_sdk: sdk_url=\(sdk.scriptURL) sdk_endpoint=\(sdk.sdkEndpoint) in_browser_messages=\(sdk.inBrowserMessages) content_cards=\(sdk.contentCards) token_ttl=\(sdk.tokenTTLSeconds)s kid=\(current.kid)\(previous.map { " previous_kid=\($0.kid)" } ?? "")")
                print("  web_sdk public key (add it to Braze):\n\(current.pem)")
            }
        }
        print("ok")
    }
}

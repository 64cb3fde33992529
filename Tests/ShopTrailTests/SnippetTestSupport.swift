import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
@testable import ShopTrail

/// A configuration with the storefront kit switched on: shop A beacons through its App Proxy.
enum KitFixtures {
    static let adminToken = Secret("admin-token-for-tests-0123456789")
    static let proxyShop: ShopConfig = {
        var shop = Fixtures.shopA
        shop.appProxy = AppProxyConfig(subpathPrefix: "apps", subpath: "shoptrail")
        return shop
    }()
    static let config = ShopTrailConfig(
        server: ServerConfig(publicURL: "https://track.example.com", adminToken: adminToken),
        shops: [proxyShop, Fixtures.shopB], origin: "tests"
    )

    static func app(store: any ShopTrailStore, clock: any WallClock = ManualClock()) -> some ApplicationProtocol {
        buildApplication(AppDependencies(config: config, store: store, clock: clock, logger: Fixtures.logger()), host: "127.0.0.1", port: 0)
    }

    /// The query Shopify would append when forwarding through the App Proxy, signed with `secret`.
    static func proxyQuery(shop: String = "a-shop.myshopify.com", customer: String = "", timestamp: Int64, secret: String = "api-secret-a", extra: [(String, String)] = []) -> String {
        let params: [(name: String, value: String)] = extra.map { ($0.0, $0.1) } + [
            ("shop", shop), ("logged_in_customer_id", customer), ("path_prefix", "/apps/shoptrail"), ("timestamp", String(timestamp)),
        ]
        let signature = AppProxySignature.sign(params, secret: Secret(secret))
        let encoded = params.map { "\($0.name)=\($0.value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? $0.value)" }
        return (encoded + ["signature=\(signature)"]).joined(separator: "&")
    }
}

/// The package root, for tests that compare embedded assets with their source files.
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

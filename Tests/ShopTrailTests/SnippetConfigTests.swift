import Testing
@testable import ShopTrail

/// The storefront kit's config keys: `server.admin_token`, `shops[].app_proxy`, `shops[].inline_tracker`.
@Suite struct SnippetConfigTests {
    func parse(_ yaml: String, env: [String: String] = [:]) throws -> ShopTrailConfig {
        try ConfigLoader.parse(yaml: yaml, origin: "test.yml", environment: env)
    }

    func error(_ yaml: String, env: [String: String] = [:]) -> String {
        do {
            _ = try parse(yaml, env: env)
            return "no error"
        } catch {
            return "\(error)"
        }
    }

    static let kit = """
        server:
          admin_token_env: ADMIN
        shops:
          - domain: a.myshopify.com
            write_key: pk_a_1
            inline_tracker: true
            shopify:
              api_secret: "api-secret"
            app_proxy:
              subpath_prefix: a
              subpath: trail
        """

    @Test func readsTheKitKeys() throws {
        let config = try parse(Self.kit, env: ["ADMIN": "from-env-0123456789"])
        #expect(config.server.adminToken?.value == "from-env-0123456789")
        let shop = try #require(config.shops.first)
        #expect(shop.inlineTracker)
        #expect(shop.appProxy == AppProxyConfig(subpathPrefix: "a", subpath: "trail"))
        #expect(shop.appProxy?.batchPath == "/a/trail/v1/batch")
        #expect(!"\(config.server)".contains("from-env"))
    }

    @Test func defaultsAreOff() throws {
        let config = try parse("shops:\n  - domain: a.myshopify.com\n    write_key: pk_a_1\n    app_proxy: {}\n    shopify: {api_secret: s}\n")
        #expect(config.server.adminToken == nil)
        #expect(config.shops[0].inlineTracker == false)
        #expect(config.shops[0].appProxy == AppProxyConfig(subpathPrefix: "apps", subpath: "shoptrail"))
        let plain = try parse("shops:\n  - domain: a.myshopify.com\n    write_key: pk_a_1\n")
        #expect(plain.shops[0].appProxy == nil)
    }

    @Test(arguments: [
        ("server:\n  admin_token: short\nshops:\n  - domain: a.myshopify.com\n    write_key: pk_a_1\n", "server.admin_token (line 2): must be at least 16 characters (it guards the snippet secret)"),
        ("server:\n  admin_token: aaaaaaaaaaaaaaaaaaaa\n  admin_token_env: X\nshops:\n  - domain: a.myshopify.com\n    write_key: pk_a_1\n", "server.admin_token (line 2): set either admin_token or admin_token_env, not both"),
        ("shops:\n  - domain: a.myshopify.com\n    write_key: pk_a_1\n    inline_tracker: sometimes\n", "shops[0].inline_tracker (line 4): must be true or false, got 'sometimes'"),
        ("shops:\n  - domain: a.myshopify.com\n    write_key: pk_a_1\n    app_proxy: {subpath: x}\n", "shops[0].app_proxy (line 4): needs shopify.api_secret (or api_secret_env) to verify the App Proxy signature"),
        ("shops:\n  - domain: a.myshopify.com\n    write_key: pk_a_1\n    shopify: {api_secret: s}\n    app_proxy: {subpath_prefix: apss}\n", "shops[0].app_proxy.subpath_prefix (line 5): 'apss' is not valid; use one of: apps | a | community | tools"),
        ("shops:\n  - domain: a.myshopify.com\n    write_key: pk_a_1\n    shopify: {api_secret: s}\n    app_proxy: {subpath: admin}\n", "shops[0].app_proxy.subpath (line 5): must be 1 to 30 of a-z 0-9 - _ and not admin, services, password or login, got 'admin'"),
        ("shops:\n  - domain: a.myshopify.com\n    write_key: pk_a_1\n    shopify: {api_secret: s}\n    app_proxy: {path: x}\n", "shops[0].app_proxy.path (line 5): unknown key (known here: subpath, subpath_prefix)"),
    ])
    func refusesBadValues(yaml: String, message: String) {
        #expect(error(yaml) == message)
    }
}

import Testing
@testable import ShopTrail

@Suite struct ConfigLoaderTests {
    static let example = """
        server:
          public_url: "http://127.0.0.1:8080"
        shops:
          - domain: demo.myshopify.com
            write_key: pk_demo_1
            allowed_origins: ["https://demo.myshopify.com", "https://shop.example.com"]
            snippet_secret: "s3cret-snippet"
            shopify:
              api_secret_env: SHOPIFY_SECRET
            braze:
              rest_endpoint: "https://rest.fra-02.braze.eu"
              api_key: "braze-key-123"
              external_id: email_sha256
              anonymous: forward
              events: legacy
        """

    func parse(_ yaml: String, env: [String: String] = ["SHOPIFY_SECRET": "from-env"]) throws -> ShopTrailConfig {
        try ConfigLoader.parse(yaml: yaml, origin: "test.yml", environment: env)
    }

    func error(_ yaml: String, env: [String: String] = ["SHOPIFY_SECRET": "from-env"]) -> String {
        do {
            _ = try parse(yaml, env: env)
            return "no error"
        } catch {
            return "\(error)"
        }
    }

    @Test func readsEveryDocumentedKey() throws {
        let config = try parse(Self.example)
        #expect(config.server.publicURL == "http://127.0.0.1:8080")
        let shop = try #require(config.shops.first)
        #expect(shop.domain == "demo.myshopify.com")
        #expect(shop.writeKey == "pk_demo_1")
        #expect(shop.allowedOrigins == ["https://demo.myshopify.com", "https://shop.example.com"])
        #expect(shop.snippetSecret?.value == "s3cret-snippet")
        #expect(shop.shopify.apiSecret?.value == "from-env")
        #expect(shop.braze.restEndpoint == "https://rest.fra-02.braze.eu")
        #expect(shop.braze.apiKey?.value == "braze-key-123")
        #expect(shop.braze.externalId == .emailSHA256)
        #expect(shop.braze.anonymous == .forward)
        #expect(shop.braze.events == .legacy)
        #expect(config.shop(writeKey: "pk_demo_1")?.domain == "demo.myshopify.com")
    }

    @Test func defaultsAreTheDocumentedOnes() throws {
        let config = try parse("shops:\n  - domain: a.myshopify.com\n    write_key: pk_a_1\n")
        let shop = try #require(config.shops.first)
        #expect(shop.allowedOrigins == ["https://a.myshopify.com"])
        #expect(shop.braze.externalId == .customerId)
        #expect(shop.braze.anonymous == .hold)
        #expect(shop.braze.events == .ecommerce)
        #expect(shop.braze.isDryRun)
        #expect(config.server.publicURL == "http://127.0.0.1:8080")
        #expect(config.server.sqliteSynchronous == .full)
    }

    @Test func secretsNeverPrint() throws {
        let config = try parse(Self.example)
        let shop = try #require(config.shops.first)
        let printed = "\(shop) \(String(reflecting: shop)) \(config)"
        for secret in ["s3cret-snippet", "from-env", "braze-key-123"] {
            #expect(!printed.contains(secret))
        }
        #expect(printed.contains("<redacted>"))
    }

    @Test(arguments: [
        ("shops:\n  - domain: a.myshopify.com\n    write_key: pk_a_1\n    colour: red\n", "shops[0].colour"),
        ("server:\n  publik_url: x\nshops:\n  - domain: a.myshopify.com\n    write_key: pk_a_1\n", "server.publik_url"),
        ("shops:\n  - domain: a.myshopify.com\n    write_key: pk_a_1\n    braze:\n      apikey: x\n", "shops[0].braze.apikey"),
        ("extra: 1\nshops: []\n", "extra"),
    ])
    func unknownKeysFailNamingTheKey(yaml: String, key: String) {
        let message = error(yaml)
        #expect(message.hasPrefix(key), "\(message)")
        #expect(message.contains("unknown key"))
    }

    @Test(arguments: [
        ("braze:\n      external_id: phone\n", "shops[0].braze.external_id", "customer_id | email | email_sha256"),
        ("braze:\n      anonymous: maybe\n", "shops[0].braze.anonymous", "hold | forward"),
        ("braze:\n      events: v3\n", "shops[0].braze.events", "ecommerce | legacy"),
        ("braze:\n      rest_endpoint: ftp://x\n", "shops[0].braze.rest_endpoint", "https://"),
        ("braze:\n      api_key: k\n", "shops[0].braze.rest_endpoint", "required when api_key"),
        ("allowed_origins: [\"https://a.com/path\"]\n", "shops[0].allowed_origins", "not an origin"),
        ("allowed_origins: \"https://a.com\"\n", "shops[0].allowed_origins", "must be a list"),
        ("snippet_secret: a\n    snippet_secret_env: B\n", "shops[0].snippet_secret", "not both"),
        ("snippet_secret_env: MISSING_VAR\n", "shops[0].snippet_secret_env", "MISSING_VAR is not set"),
        ("shopify:\n      api_secret: \"\"\n", "shops[0].shopify.api_secret", "must not be empty"),
    ])
    func invalidValuesFailNamingTheKey(tail: String, key: String, fragment: String) {
        let yaml = "shops:\n  - domain: a.myshopify.com\n    write_key: pk_a_1\n    " + tail
        let message = error(yaml)
        #expect(message.hasPrefix(key), "\(message)")
        #expect(message.contains(fragment), "\(message)")
    }

    @Test func shopLevelProblems() {
        #expect(error("shops:\n  - domain: shop.example.com\n    write_key: pk_a_1\n").hasPrefix("shops[0].domain"))
        #expect(error("shops:\n  - write_key: pk_a_1\n").hasPrefix("shops[0].domain"))
        #expect(error("shops:\n  - domain: a.myshopify.com\n").hasPrefix("shops[0].write_key"))
        #expect(error("shops:\n  - domain: a.myshopify.com\n    write_key: 'has space'\n").hasPrefix("shops[0].write_key"))
        let twice = "shops:\n  - domain: a.myshopify.com\n    write_key: pk_a_1\n  - domain: b.myshopify.com\n    write_key: pk_a_1\n"
        #expect(error(twice).hasPrefix("shops[1].write_key"))
        #expect(error("server:\n  port: 70000\nshops:\n  - domain: a.myshopify.com\n    write_key: pk_a_1\n").hasPrefix("server.port"))
        #expect(error("server:\n  port: eighty\nshops:\n  - domain: a.myshopify.com\n    write_key: pk_a_1\n").hasPrefix("server.port"))
        #expect(error("server: {}\n").hasPrefix("shops"))
        #expect(error("shops: [").contains("not valid YAML"))
        #expect(error("").contains("empty"))
    }

    /// Braze's `/users/track` limit per account, and the customer-id alias label Braze's connector uses
    /// (`shopify_customer_id`, per store once several stores share a workspace: braze-docs multiple_stores.md).
    @Test func trackLimitAndCustomerIdAliasLabel() throws {
        let one = try parse("shops:\n  - domain: a.myshopify.com\n    write_key: pk_a_1\n    braze:\n      track_objects_per_request: 50\n")
        #expect(one.shops[0].braze.trackObjectsPerRequest == 50 && one.shops[0].braze.customerIdAliasLabel == "shopify_customer_id")
        #expect(try parse("shops:\n  - domain: a.myshopify.com\n    write_key: pk_a_1\n").shops[0].braze.trackObjectsPerRequest == 75)
        #expect(error("shops:\n  - domain: a.myshopify.com\n    write_key: pk_a_1\n    braze:\n      track_objects_per_request: 76\n")
            .hasPrefix("shops[0].braze.track_objects_per_request"))
        let two = try parse("""
            shops:
              - domain: first-store.myshopify.com
                write_key: pk_a_1
              - domain: second-store.myshopify.com
                write_key: pk_b_1
                braze:
                  customer_id_alias_label: my_label
            """)
        #expect(two.shops.map(\.braze.customerIdAliasLabel) == ["shopify_customer_id_first-store", "my_label"])
    }

    @Test func errorsCarryTheLine() {
        let message = error("shops:\n  - domain: a.myshopify.com\n    write_key: pk_a_1\n    braze:\n      events: v3\n")
        #expect(message.contains("(line 5)"), "\(message)")
    }
}

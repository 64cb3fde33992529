import Testing
@testable import ShopTrail

@Suite struct SnippetGeneratorTests {
    let generator = SnippetGenerator(config: KitFixtures.config)

    @Test func directSnippetLoadsTheVersionedTrackerAndSignsTheCustomer() throws {
        let snippet = try generator.snippet(for: Fixtures.shopA)
        let version = TrackerAsset.embedded.version
        #expect(snippet.contains(#"src="https://track.example.com/sdk/v1/shoptrail.js?v=\#(version)" async"#))
        #expect(snippet.contains(#""write_key":"pk_a_1","endpoint":"https://track.example.com/v1/batch""#))
        #expect(snippet.contains("{{ st_signed | hmac_sha256: 'snippet-secret-a' | json }}"))
        #expect(snippet.contains("assign st_signed = shop.permanent_domain | append: ':' | append: customer.id | append: ':' | append: customer.email | append: ':' | append: st_now"))
        #expect(snippet.contains("{%- unless request.design_mode -%}"))
        #expect(snippet.contains(#"data-config="{{ st_config | escape }}""#))
        // No Mustache left over, no raw interpolation of page data.
        #expect(!snippet.contains("<%"))
        #expect(!snippet.contains("{{ product.title }}"))
    }

    @Test func appProxyShopBeaconsToItsOwnDomain() throws {
        let snippet = try generator.snippet(for: KitFixtures.proxyShop)
        #expect(snippet.contains(#""endpoint":"/apps/shoptrail/v1/batch""#))
        #expect(snippet.contains("beacons: app_proxy"))
    }

    @Test func inlineSnippetCarriesTheTrackerInRaw() throws {
        let snippet = try generator.snippet(for: Fixtures.shopA, inline: true)
        #expect(snippet.contains("{% raw %}" + TrackerAsset.embedded.javaScript.dropLast() + "{% endraw %}"))
        #expect(!snippet.contains("/sdk/v1/shoptrail.js?v="))
    }

    @Test func shopWithoutSecretSendsAnUnsignedCustomer() throws {
        let snippet = try generator.snippet(for: Fixtures.shopB)
        #expect(snippet.contains(#""sig":null }"#))
        #expect(!snippet.contains("hmac_sha256:"))
    }

    @Test func secretsAreQuotedForLiquidOrRefused() throws {
        #expect(try SnippetGenerator.liquidStringLiteral("abc") == "'abc'")
        #expect(try SnippetGenerator.liquidStringLiteral("it's") == "\"it's\"")
        #expect(throws: SnippetError.self) { try SnippetGenerator.liquidStringLiteral(#"it's "x""#) }
        #expect(throws: SnippetError.self) { try SnippetGenerator.liquidStringLiteral("a%}b") }
        #expect(throws: SnippetError.self) { try SnippetGenerator.liquidStringLiteral("a\nb") }
    }

    @Test func pixelSubscribesToCheckoutEventsAndBeaconsToThePixelEndpoint() throws {
        let pixel = try PixelGenerator(config: KitFixtures.config).pixel(for: Fixtures.shopA)
        #expect(pixel.contains(#"var ENDPOINT = "https://track.example.com/v1/pixel/batch";"#))
        #expect(pixel.contains(#"var WRITE_KEY = "pk_a_1";"#))
        for name in ["checkout_started", "checkout_completed", "payment_info_submitted"] { #expect(pixel.contains("'\(name)'")) }
        #expect(pixel.contains("analyticsProcessingAllowed"))
        #expect(!pixel.contains("<%"))
    }
}

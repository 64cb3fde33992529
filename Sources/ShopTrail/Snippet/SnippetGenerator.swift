import Mustache

/// Why a snippet or pixel cannot be generated for a shop.
public struct SnippetError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

/// Renders `snippets/shoptrail.liquid` for one shop from `Templates/shoptrail.liquid.mustache`.
///
/// The template uses `<% %>` as Mustache delimiters so that Liquid's own `{{ }}` pass through.
/// Everything the page knows is emitted by Liquid's `json` filter into one JSON document, which is
/// `escape`d into a `data-config` attribute: safe whatever `json` does with `</script>`.
public struct SnippetGenerator: Sendable {
    public let config: ShopTrailConfig
    public let tracker: TrackerAsset

    public init(config: ShopTrailConfig, tracker: TrackerAsset = .embedded) {
        self.config = config
        self.tracker = tracker
    }

    /// Where the tracker beacons: the collector, or the shop's App Proxy path (same origin as the page).
    public func endpoint(for shop: ShopConfig) -> String {
        shop.appProxy?.batchPath ?? config.server.publicURL + "/v1/batch"
    }

    /// The versioned, long-cacheable tracker URL.
    public var trackerURL: String { config.server.publicURL + "/sdk/v1/shoptrail.js?v=" + tracker.version }

    /// The versioned URL of the Braze Web SDK loader (a separate file: never inlined, outside the tracker's budget).
    public var brazeLoaderURL: String { config.server.publicURL + SDKController.brazeLoaderPath + "?v=" + TrackerAsset.brazeLoader.version }

    /// Where the loader asks for the SDK Authentication token: the App Proxy path (same origin, Shopify
    /// names the logged-in customer) or the collector with the Liquid-signed customer.
    public func tokenURL(for shop: ShopConfig) -> String {
        shop.appProxy.map { "/\($0.subpathPrefix)/\($0.subpath)" + BrazeTokenController.path } ?? config.server.publicURL + BrazeTokenController.path
    }

    /// The loader's `data-config`: static per shop, so rendered here rather than by Liquid.
    func brazeLoaderConfig(_ shop: ShopConfig, _ sdk: WebSDKConfig) throws(SnippetError) -> String {
        let json = JSONValue.object(JSONObject([
            ("write_key", .string(shop.writeKey)), ("api_key", .string(sdk.apiKey)), ("base_url", .string(sdk.sdkEndpoint)),
            ("sdk_url", .string(sdk.scriptURL)), ("token_url", .string(tokenURL(for: shop))),
            ("in_browser_messages", .bool(sdk.inBrowserMessages)), ("content_cards", .bool(sdk.contentCards)),
            ("alias_label", .string(BrazeTarget.visitorAliasLabel)),
        ])).serialized
        // Liquid would read these as its own tags, even inside an attribute.
        for bad in ["{{", "{%"] where json.contains(bad) {
            throw SnippetError(message: "the braze.web_sdk settings contain '\(bad)', which Liquid would read as a tag")
        }
        return json
    }

    public func snippet(for shop: ShopConfig, inline: Bool? = nil) throws(SnippetError) -> String {
        var values: [String: Any] = [
            "shop": shop.domain,
            "version": ShopTrailVersion.string,
            "write_key_json": JSONValue.string(shop.writeKey).serialized,
            "endpoint_json": JSONValue.string(endpoint(for: shop)).serialized,
            "transport": shop.appProxy == nil ? "direct" : "app_proxy",
            "src": trackerURL,
        ]
        if inline ?? shop.inlineTracker {
            // Inside {% raw %} so Liquid leaves the code alone; the tests check the build never contains these.
            for forbidden in ["{% endraw", "{%- endraw", "</script"] where tracker.javaScript.contains(forbidden) {
                throw SnippetError(message: "the tracker build contains '\(forbidden)' and cannot be inlined")
            }
            values["inline"] = true
            values["tracker"] = tracker.javaScript.hasSuffix("\n") ? String(tracker.javaScript.dropLast()) : tracker.javaScript
        }
        if let sdk = shop.braze.webSDK {
            values["braze_src"] = brazeLoaderURL
            values["braze_config"] = try brazeLoaderConfig(shop, sdk)
        }
        if let secret = shop.snippetSecret {
            values["secret_literal"] = try Self.liquidStringLiteral(secret.value)
        }
        return try render(EmbeddedAssets.snippetTemplate, values, name: "Templates/shoptrail.liquid.mustache")
    }

    /// A Liquid string literal for `text`. Liquid has no escapes inside quotes, so pick the quote the
    /// text does not contain, and refuse what would end the tag early.
    static func liquidStringLiteral(_ text: String) throws(SnippetError) -> String {
        for bad in ["%}", "}}", "{%", "{{", "\n", "\r"] where text.contains(bad) {
            throw SnippetError(message: "the snippet_secret contains '\(bad.debugDescription)', which cannot appear in a Liquid string; choose another secret")
        }
        if !text.contains("'") { return "'" + text + "'" }
        if !text.contains("\"") { return "\"" + text + "\"" }
        throw SnippetError(message: "the snippet_secret contains both ' and \", which no Liquid string can hold; choose another secret")
    }

    func render(_ template: String, _ values: [String: Any], name: String) throws(SnippetError) -> String {
        do {
            return try MustacheTemplate(string: template).render(values)
        } catch {
            throw SnippetError(message: "\(name) is not a valid Mustache template: \(error)")
        }
    }
}

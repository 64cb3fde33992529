import Mustache

/// Renders the Custom Pixel (Shopify admin › Settings › Customer events) for one shop from
/// `Templates/pixel.js.mustache`. It beacons checkout events to `POST /v1/pixel/batch`.
public struct PixelGenerator: Sendable {
    public let config: ShopTrailConfig

    public init(config: ShopTrailConfig) { self.config = config }

    /// The pixel runs in a sandboxed iframe with an opaque origin, so it always beacons straight to
    /// the server's pixel endpoint, which does not check `Origin`.
    public func endpoint() -> String { config.server.publicURL + "/v1/pixel/batch" }

    public func pixel(for shop: ShopConfig) throws(SnippetError) -> String {
        let values: [String: Any] = [
            "shop": shop.domain,
            "version": ShopTrailVersion.string,
            "write_key_json": JSONValue.string(shop.writeKey).serialized,
            "endpoint_json": JSONValue.string(endpoint()).serialized,
            "shop_json": JSONValue.string(shop.domain).serialized,
        ]
        return try SnippetGenerator(config: config).render(EmbeddedAssets.pixelTemplate, values, name: "Templates/pixel.js.mustache")
    }
}

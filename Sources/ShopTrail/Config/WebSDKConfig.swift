import Foundation
import Yams

/// The `braze.web_sdk:` section of a shop: the Braze Web SDK loaded lazily by the storefront, with
/// SDK Authentication (RS256 JWTs minted by ShopTrail for the verified customer only). docs/web-sdk.md.
public struct WebSDKConfig: Sendable, Equatable {
    /// The Braze Web SDK version pinned when `sdk_url` is not set (the version Braze's Shopify connector pins).
    public static let defaultVersion = "5.4"

    /// The Web SDK API key of the shop's Braze web app: a public identifier that the page must carry.
    public var apiKey: String
    /// The cluster's SDK endpoint, Braze's `baseUrl` (e.g. `sdk.fra-02.braze.eu`).
    public var sdkEndpoint: String
    /// Major.minor (or full) version of the Web SDK, used to build the default `sdkURL`.
    public var sdkVersion: String = WebSDKConfig.defaultVersion
    /// Where the storefront loads the SDK from; Braze's CDN for `sdkVersion` unless set.
    public var sdkURL: String?
    /// `automaticallyShowInAppMessages()` after initialising.
    public var inBrowserMessages = true
    /// Ask Braze for Content Cards after initialising (the theme displays them: docs/web-sdk.md).
    public var contentCards = false
    /// RSA private key (PEM) that signs the SDK Authentication JWTs.
    public var jwtPrivateKey: Secret
    /// The JWT `kid` header; derived from the public key when unset, so a new key gets a new id.
    public var jwtKeyId: String?
    /// The key before a rotation: still accepted by `SDKAuthKeys.verifier` until removed.
    public var jwtPreviousPrivateKey: Secret?
    /// The optional `aud` claim.
    public var jwtAudience: String?
    /// Lifetime of a token; the SDK asks for a new one through its authentication-failure callback.
    public var tokenTTLSeconds = 900

    public init(apiKey: String, sdkEndpoint: String, jwtPrivateKey: Secret) {
        self.apiKey = apiKey
        self.sdkEndpoint = sdkEndpoint
        self.jwtPrivateKey = jwtPrivateKey
    }

    /// The SDK script the loader injects.
    public var scriptURL: String {
        sdkURL ?? "https://js.appboycdn.com/web-sdk/\(sdkVersion)/braze.min.js"
    }
}

extension ConfigLoader {
    /// `shops[i].braze.web_sdk`: refused at start, naming the key, when the API key is missing or a
    /// JWT key is not an RSA private key usable for RS256.
    static func webSDKConfig(_ node: Node, path: String, env: [String: String]) throws -> WebSDKConfig {
        let w = try MappingReader(node, path: path, allowed: [
            "api_key", "api_key_env", "sdk_endpoint", "sdk_url", "sdk_version", "in_browser_messages", "content_cards",
            "jwt_private_key", "jwt_private_key_env", "jwt_key_id", "jwt_previous_private_key", "jwt_previous_private_key_env",
            "jwt_audience", "token_ttl_seconds",
        ])
        guard let apiKey = try w.secret("api_key", env: env) else {
            throw w.error("api_key_env", "is required: the environment variable holding the Braze Web SDK API key of the shop's web app")
        }
        guard apiKey.value.utf8.allSatisfy(isPlainCharacter) else {
            throw w.error(w.node("api_key") != nil ? "api_key" : "api_key_env", "must be letters, digits, '-', '_' or '.' (a Braze Web SDK API key)")
        }
        guard let endpoint = try w.string("sdk_endpoint") else {
            throw w.error("sdk_endpoint", "is required: the cluster's SDK endpoint, e.g. sdk.fra-02.braze.eu")
        }
        guard !endpoint.isEmpty, endpoint.utf8.allSatisfy({ isPlainCharacter($0) || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: "/") }) else {
            throw w.error("sdk_endpoint", "must be a host name like sdk.fra-02.braze.eu, got '\(endpoint)'")
        }
        guard let keyText = try w.secret("jwt_private_key", env: env) else {
            throw w.error("jwt_private_key_env", "is required: SDK Authentication needs the RSA private key that signs each visitor's token")
        }
        let keyName = w.node("jwt_private_key") != nil ? "jwt_private_key" : "jwt_private_key_env"
        let privateKey = Secret(SDKAuthKeys.unescapedPEM(keyText.value))
        if let problem = SDKAuthKeys.problem(privateKeyPEM: privateKey) { throw w.error(keyName, problem) }
        var config = WebSDKConfig(apiKey: apiKey.value, sdkEndpoint: endpoint, jwtPrivateKey: privateKey)
        if let previous = try w.secret("jwt_previous_private_key", env: env) {
            let name = w.node("jwt_previous_private_key") != nil ? "jwt_previous_private_key" : "jwt_previous_private_key_env"
            let pem = Secret(SDKAuthKeys.unescapedPEM(previous.value))
            if let problem = SDKAuthKeys.problem(privateKeyPEM: pem) { throw w.error(name, problem) }
            config.jwtPreviousPrivateKey = pem
        }
        if let version = try w.string("sdk_version") {
            guard version.wholeMatch(of: /[0-9]{1,3}\.[0-9]{1,3}(\.[0-9]{1,3})?/) != nil else {
                throw w.error("sdk_version", "must be a Web SDK version like 5.4 or 5.4.0, got '\(version)'")
            }
            config.sdkVersion = version
        }
        if let url = try w.string("sdk_url") {
            // The loader puts it in a script element's src: an http(s) URL and nothing a template could misread.
            guard isHTTPURL(url), !url.contains("{{"), !url.contains("{%"), !url.contains("\"") else {
                throw w.error("sdk_url", "must be an http:// or https:// URL of the Braze Web SDK script, got '\(url)'")
            }
            config.sdkURL = url
        }
        if let v = try w.bool("in_browser_messages") { config.inBrowserMessages = v }
        if let v = try w.bool("content_cards") { config.contentCards = v }
        if let kid = try w.string("jwt_key_id") {
            guard (1...64).contains(kid.utf8.count), kid.utf8.allSatisfy(isPlainCharacter) else {
                throw w.error("jwt_key_id", "must be 1 to 64 letters, digits, '-', '_' or '.'")
            }
            config.jwtKeyId = kid
        }
        if let aud = try w.string("jwt_audience") {
            guard (1...255).contains(aud.utf8.count) else { throw w.error("jwt_audience", "must be 1 to 255 characters") }
            config.jwtAudience = aud
        }
        if let ttl = try w.int("token_ttl_seconds", in: 60...86_400) { config.tokenTTLSeconds = ttl }
        return config
    }

    static func isPlainCharacter(_ c: UInt8) -> Bool {
        (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c == UInt8(ascii: "-") || c == UInt8(ascii: "_") || c == UInt8(ascii: ".")
    }
}

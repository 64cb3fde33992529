import Crypto
import CryptoExtras
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
@testable import ShopTrail

/// RSA keys for the SDK Authentication tests, made once per run (2048 bits, as Braze recommends).
enum TestRSA {
    static let current = make()
    static let previous = make()
    static let stranger = make()
    /// A 1024-bit key: too small for RS256 (a fixture, worthless outside these tests).
    static let small = """
-----BEGIN PRIVATE KEY-----
MIICeQIBADANBgkqhkiG9w0BAQEFAASCAmMwggJfAgEAAoGBAJ8rlf+QxRXYx341
Wj8jzWygaNVQ57oPMeJLM0PaaAHYUPiQealarT23tsL6DAlHHz8Ue72wziECh+LJ
OdJ9uVc+WLkmYmmmAmP+orz31iqTbCBfpztpr+rj75rEQdJi3mWdZL/MTIsBOrVb
3XHcgyE+hmr5nGkVhQiYAPVQaLv3AgMBAAECgYEAk1rGgtKDorYN+clqwwliJC5c
3x8HaDio9daonyiTISIh0/vspdxMhdaOW/MhMXWmd79+zx3ftq+hHVMtNLEv4x6i
Zpqo7ZvmUq1lN9bHKXlZKcScctCwlW0GCI1a9JTdQNM4EdbDGSdwyasDER8+A1Gr
G9OCZy50AuIyXL+3uAECQQDT54Gu/gIG6ZFxYLLDNsOX3UKCotkGGV51zV6C+P2v
oybu81S6TI+Sns2sJnKu0kozgMPQiBplN6uPeXLg8wAtAkEAwErZO+rZ1DYPf4Uf
jkfoVKkuwBisdc00z8Xsx+K/Kj6p9CTXBky98/fIPoNvXwttqRInKpJwggKfo9lW
NQtfMwJBAMH1jqNxRsOy+PjRLO84alHQKbfPfVxyzh5/y3mQlQw2B0YCnlQkDeqD
xvhC/Qf93gNEYne2jIqHKVabMMasRkUCQQCrVAUptZ5PzbsRS3NKOhdvFy5oSZOf
gi7D0P2fOxBIe3zB4vES092LOgJYcJMShAQ418u9yqwjqmLCgiqlKHSxAkEAkJ6S
9G8Z+8OdjOepSnNPJzD98rRslFjvFufP1un4O0ahkrD9Wki09p+2SXP8avYBpROs
7LKE3IeiB3oP9HiuSw==
-----END PRIVATE KEY-----
"""

    static func make() -> String {
        (try? _RSA.Signing.PrivateKey(keySize: .bits2048).pemRepresentation) ?? ""
    }

    static func publicPEM(_ privatePEM: String) -> String {
        (try? _RSA.Signing.PrivateKey(pemRepresentation: privatePEM).publicKey.pemRepresentation) ?? ""
    }

    static func sdk(_ key: String = current, previous: String? = nil) -> WebSDKConfig {
        var config = WebSDKConfig(apiKey: "web-api-key-1", sdkEndpoint: "sdk.fra-02.braze.eu", jwtPrivateKey: Secret(key))
        config.jwtPreviousPrivateKey = previous.map(Secret.init)
        return config
    }
}

/// Tokens: Braze's claims, RS256 only, refused when forged or expired by a verifier holding public keys only.
@Suite struct SDKAuthTokenTests {
    let now = Date(timeIntervalSince1970: 1_795_428_000)

    func verifier(_ pems: [String] = [TestRSA.current]) async throws -> SDKAuthVerifier {
        try await SDKAuthVerifier(publicKeys: pems.map { (TestRSA.publicPEM($0), SDKAuthKeys.keyId(publicKeyDER: try _RSA.Signing.PrivateKey(pemRepresentation: $0).publicKey.derRepresentation)) })
    }

    func segment(_ json: String) -> String {
        Data(json.utf8).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    func refusal(_ token: String, _ verifier: SDKAuthVerifier, at time: Date? = nil) async -> SDKAuthVerifier.Failure? {
        do {
            _ = try await verifier.verify(token, now: time ?? now)
            return nil
        } catch {
            return error
        }
    }

    @Test func aMintedTokenCarriesBrazesClaimsAndVerifiesWithThePublicKeyOnly() async throws {
        var config = TestRSA.sdk()
        config.jwtAudience = "braze"
        let token = try await SDKTokenMinter(config: config).mint(externalId: "7001234567890", now: now)
        #expect(token.expiresAt == 1_795_428_000 + 900)
        let parts = token.token.split(separator: ".").map(String.init)
        let headerData = try #require(Data(base64URL: parts[0]))
        let header = try #require(try JSONParser.parse(Array(headerData)).objectValue)
        #expect(header["alg"]?.stringValue == "RS256" && header["typ"]?.stringValue == "JWT")
        let kid = try SDKAuthKeys.publicKey(privateKeyPEM: Secret(TestRSA.current)).kid
        #expect(header["kid"]?.stringValue == kid && kid.count == 16)
        let claims = try await verifier().verify(token.token, now: now)
        #expect(claims.sub.value == "7001234567890")
        #expect(claims.exp.value == now.addingTimeInterval(900))
        #expect(claims.aud?.value == ["braze"])
    }

    @Test func forgedTokensAreRefused() async throws {
        let verifier = try await verifier()
        let good = try await SDKTokenMinter(config: TestRSA.sdk()).mint(externalId: "1001", now: now).token
        let parts = good.split(separator: ".").map(String.init)
        let exp = Int(now.timeIntervalSince1970) + 600

        // Signed with a key Braze does not know.
        let stranger = try await SDKTokenMinter(config: TestRSA.sdk(TestRSA.stranger)).mint(externalId: "1001", now: now).token
        #expect(await refusal(stranger, verifier) == .signature)
        // The payload changed to name someone else, the signature kept.
        let tampered = [parts[0], segment(#"{"sub":"2002","exp":\#(exp)}"#), parts[2]].joined(separator: ".")
        #expect(await refusal(tampered, verifier) == .signature)
        // alg none, no signature.
        let none = [segment(#"{"alg":"none","typ":"JWT"}"#), segment(#"{"sub":"2002","exp":\#(exp)}"#), ""].joined(separator: ".")
        #expect(await refusal(none, verifier) == .algorithm)
        // HS256 keyed with the public key (the classic confusion), with and without the honest alg name.
        let publicPEM = TestRSA.publicPEM(TestRSA.current)
        for alg in ["HS256", "RS256"] {
            let signingInput = segment(#"{"alg":"\#(alg)","typ":"JWT"}"#) + "." + segment(#"{"sub":"2002","exp":\#(exp)}"#)
            let mac = HMAC<SHA256>.authenticationCode(for: Array(signingInput.utf8), using: SymmetricKey(data: Array(publicPEM.utf8)))
            let forged = signingInput + "." + Data(mac).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
            #expect(await refusal(forged, verifier) == (alg == "HS256" ? .algorithm : .signature))
        }
        // Not a JWT at all.
        for junk in ["", "a.b", "a.b.c.d", "!!!.???.***", parts[0]] {
            #expect(await refusal(junk, verifier) != nil)
        }
    }

    @Test func anExpiredTokenIsRefused() async throws {
        let token = try await SDKTokenMinter(config: TestRSA.sdk()).mint(externalId: "1001", now: now).token
        let verifier = try await verifier()
        #expect(await refusal(token, verifier, at: now.addingTimeInterval(899)) == nil)
        #expect(await refusal(token, verifier, at: now.addingTimeInterval(900)) == .expired)
        #expect(await refusal(token, verifier, at: now.addingTimeInterval(86_400)) == .expired)
    }

    /// Rotation: the new key signs (its kid in the header); tokens of the previous key still verify
    /// until it is removed; a key never listed does not.
    @Test func rotationSignsWithTheCurrentKeyAndStillAcceptsThePrevious() async throws {
        let rotated = TestRSA.sdk(TestRSA.current, previous: TestRSA.previous)
        let verifier = try await SDKAuthVerifier.of(rotated)
        let old = try await SDKTokenMinter(config: TestRSA.sdk(TestRSA.previous)).mint(externalId: "1001", now: now).token
        let new = try await SDKTokenMinter(config: rotated).mint(externalId: "1001", now: now).token
        #expect(await refusal(old, verifier) == nil)
        #expect(await refusal(new, verifier) == nil)
        #expect(try await SDKTokenMinter(config: rotated).keyId() == SDKAuthKeys.publicKey(privateKeyPEM: Secret(TestRSA.current)).kid)
        let after = try await SDKAuthVerifier.of(TestRSA.sdk(TestRSA.current))
        #expect(await refusal(old, after) == .signature, "once the previous key is removed its tokens are refused")
        let stranger = try await SDKTokenMinter(config: TestRSA.sdk(TestRSA.stranger)).mint(externalId: "1001", now: now).token
        #expect(await refusal(stranger, verifier) == .signature)
    }
}

/// `braze.web_sdk` in the config: refused at start, naming the key, for a missing API key or a key unusable for RS256.
@Suite struct WebSDKConfigTests {
    static let head = "shops:\n  - domain: a.myshopify.com\n    write_key: pk_a_1\n    braze:\n      web_sdk:\n"
    static let env = ["BRAZE_WEB_KEY": "web-api-key-1", "JWT_KEY": TestRSA.current, "JWT_OLD": TestRSA.previous,
                      "JWT_PUBLIC": TestRSA.publicPEM(TestRSA.current), "JWT_SMALL": TestRSA.small,
                      "JWT_EC": P256.Signing.PrivateKey().pemRepresentation, "JWT_TEXT": "not a key at all",
                      "JWT_ESCAPED": TestRSA.current.replacingOccurrences(of: "\n", with: "\\n")]

    func parse(_ lines: String, env: [String: String] = env) throws -> ShopTrailConfig {
        try ConfigLoader.parse(yaml: Self.head + lines, origin: "test.yml", environment: env)
    }

    func error(_ lines: String) -> String {
        do {
            _ = try parse(lines)
            return "no error"
        } catch {
            return "\(error)"
        }
    }

    static let valid = "        api_key_env: BRAZE_WEB_KEY\n        sdk_endpoint: sdk.fra-02.braze.eu\n        jwt_private_key_env: JWT_KEY\n"

    @Test func aValidSectionWithItsDefaults() throws {
        let sdk = try #require(try parse(Self.valid).shops[0].braze.webSDK)
        #expect(sdk.apiKey == "web-api-key-1" && sdk.sdkEndpoint == "sdk.fra-02.braze.eu")
        #expect(sdk.scriptURL == "https://js.appboycdn.com/web-sdk/5.4/braze.min.js")
        #expect(sdk.inBrowserMessages && !sdk.contentCards && sdk.tokenTTLSeconds == 900 && sdk.jwtPreviousPrivateKey == nil)
        let full = try #require(try parse(Self.valid + "        sdk_url: https://cdn.example.com/braze.js\n        content_cards: true\n        in_browser_messages: false\n"
            + "        jwt_previous_private_key_env: JWT_OLD\n        jwt_key_id: key-2026-11\n        token_ttl_seconds: 300\n").shops[0].braze.webSDK)
        #expect(full.scriptURL == "https://cdn.example.com/braze.js" && full.contentCards && !full.inBrowserMessages)
        #expect(full.jwtKeyId == "key-2026-11" && full.tokenTTLSeconds == 300 && full.jwtPreviousPrivateKey?.value == TestRSA.previous)
        // A PEM pasted into an environment variable with \n escapes is read as the PEM.
        let escaped = try #require(try parse(Self.valid.replacingOccurrences(of: "JWT_KEY", with: "JWT_ESCAPED")).shops[0].braze.webSDK)
        #expect(escaped.jwtPrivateKey.value == TestRSA.current)
    }

    @Test(arguments: [
        ("        sdk_endpoint: sdk.fra-02.braze.eu\n        jwt_private_key_env: JWT_KEY\n", "shops[0].braze.web_sdk.api_key_env", "is required"),
        ("        api_key_env: NOT_SET\n        sdk_endpoint: sdk.fra-02.braze.eu\n        jwt_private_key_env: JWT_KEY\n", "shops[0].braze.web_sdk.api_key_env", "NOT_SET is not set"),
        ("        api_key_env: BRAZE_WEB_KEY\n        jwt_private_key_env: JWT_KEY\n", "shops[0].braze.web_sdk.sdk_endpoint", "is required"),
        ("        api_key_env: BRAZE_WEB_KEY\n        sdk_endpoint: sdk.fra-02.braze.eu\n", "shops[0].braze.web_sdk.jwt_private_key_env", "is required"),
        ("        api_key_env: BRAZE_WEB_KEY\n        sdk_endpoint: sdk.fra-02.braze.eu\n        jwt_private_key_env: JWT_TEXT\n", "shops[0].braze.web_sdk.jwt_private_key_env", "is not a PEM"),
        ("        api_key_env: BRAZE_WEB_KEY\n        sdk_endpoint: sdk.fra-02.braze.eu\n        jwt_private_key_env: JWT_EC\n", "shops[0].braze.web_sdk.jwt_private_key_env", "not an RSA private key"),
        ("        api_key_env: BRAZE_WEB_KEY\n        sdk_endpoint: sdk.fra-02.braze.eu\n        jwt_private_key_env: JWT_PUBLIC\n", "shops[0].braze.web_sdk.jwt_private_key_env", "holds a public key"),
        ("        api_key_env: BRAZE_WEB_KEY\n        sdk_endpoint: sdk.fra-02.braze.eu\n        jwt_private_key_env: JWT_SMALL\n", "shops[0].braze.web_sdk.jwt_private_key_env", "fewer than 2048 bits"),
        (WebSDKConfigTests.valid + "        jwt_previous_private_key_env: JWT_EC\n", "shops[0].braze.web_sdk.jwt_previous_private_key_env", "not an RSA private key"),
        (WebSDKConfigTests.valid + "        sdk_version: latest\n", "shops[0].braze.web_sdk.sdk_version", "like 5.4"),
        (WebSDKConfigTests.valid + "        sdk_url: \"javascript:alert(1)\"\n", "shops[0].braze.web_sdk.sdk_url", "http:// or https://"),
        (WebSDKConfigTests.valid + "        token_ttl_seconds: 5\n", "shops[0].braze.web_sdk.token_ttl_seconds", "between 60 and 86400"),
        (WebSDKConfigTests.valid + "        enforce: true\n", "shops[0].braze.web_sdk.enforce", "unknown key"),
    ])
    func badSectionsAreRefusedNamingTheKey(lines: String, key: String, fragment: String) {
        let message = error(lines)
        #expect(message.hasPrefix(key), "\(message)")
        #expect(message.contains(fragment), "\(message)")
        // The message never carries key material.
        for secret in [TestRSA.current, TestRSA.small, "MII"] { #expect(!message.contains(secret)) }
    }
}

/// The token endpoint: a token only for the customer the evidence names, for nobody else, by any request.
@Suite struct BrazeTokenEndpointTests {
    static let nowMillis: EpochMillis = 1_795_428_000_000
    static let shopA: ShopConfig = {
        var shop = KitFixtures.proxyShop
        shop.braze.webSDK = TestRSA.sdk()
        return shop
    }()
    static let shopC: ShopConfig = {
        var shop = ShopConfig(domain: "c-shop.myshopify.com", writeKey: "pk_c_1", allowedOrigins: ["https://c-shop.myshopify.com"],
                              snippetSecret: Secret("snippet-secret-c"), shopify: ShopifyConfig(apiSecret: Secret("api-secret-c")), braze: BrazeConfig())
        shop.braze.webSDK = TestRSA.sdk()
        shop.braze.externalId = .email
        return shop
    }()
    static let config = ShopTrailConfig(server: ServerConfig(publicURL: "https://track.example.com"), shops: [shopA, shopC, Fixtures.shopB], origin: "tests")

    func withApp(_ body: @escaping @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let temp = try TempStore()
        let app = buildApplication(AppDependencies(config: Self.config, store: temp.store, clock: ManualClock(Self.nowMillis), logger: Fixtures.logger()),
                                   host: "127.0.0.1", port: 0)
        try await app.test(.router) { client in try await body(client) }
    }

    static func claim(_ id: String, email: String = "ada@example.com", shop: String = "a-shop.myshopify.com", secret: String = "snippet-secret-a",
                      ageSeconds: Int64 = 5, signedId: String? = nil) -> String {
        let ts = String(nowMillis / 1000 - ageSeconds)
        let sig = CustomerClaims.signature(shop: shop, customerId: signedId ?? id, email: email, timestamp: ts, secret: Secret(secret))
        return #"{"id":"\#(id)","email":"\#(email)","ts":"\#(ts)","sig":"\#(sig)"}"#
    }

    static func body(_ customer: String?, writeKey: String = "pk_a_1") -> String {
        #"{"write_key":"\#(writeKey)""# + (customer.map { #","customer":\#($0)"# } ?? "") + "}"
    }

    func post(_ client: any TestClientProtocol, _ uri: String, _ body: String, origin: String? = nil) async throws -> (HTTPResponse.Status, [String: Any], HTTPFields) {
        var headers: HTTPFields = [.contentType: "text/plain;charset=UTF-8"]
        if let origin { headers[.origin] = origin }
        let (status, data, answerHeaders) = try await client.execute(uri: uri, method: .post, headers: headers, body: ByteBuffer(string: body)) { response in
            (response.status, Data(buffer: response.body), response.headers)
        }
        return (status, (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:], answerHeaders)
    }

    func subject(_ token: Any?) async throws -> String {
        let verifier = try await SDKAuthVerifier.of(TestRSA.sdk())
        return try await verifier.verify(try #require(token as? String), now: Date(timeIntervalSince1970: Double(Self.nowMillis) / 1000)).sub.value
    }

    @Test func theSignedCustomerGetsATokenForThemselvesOnly() async throws {
        try await withApp { client in
            let (status, json, headers) = try await post(client, "/v1/braze/token", Self.body(Self.claim("7001234567890")), origin: "https://a-shop.myshopify.com")
            #expect(status == .ok, "\(json)")
            #expect(json["external_id"] as? String == "7001234567890")
            #expect(try await subject(json["token"]) == "7001234567890")
            #expect(json["expires_at"] as? Int == Int(Self.nowMillis / 1000) + 900)
            #expect(headers[.cacheControl] == "no-store" && headers[.accessControlAllowOrigin] == "https://a-shop.myshopify.com")
            // The email strategy derives the id from the signed email, through the one ExternalId rule.
            let (_, byEmail, _) = try await post(client, "/v1/braze/token",
                                                 Self.body(Self.claim("42", email: " Ada@Example.COM", shop: "c-shop.myshopify.com", secret: "snippet-secret-c"), writeKey: "pk_c_1"))
            #expect(byEmail["external_id"] as? String == "ada@example.com")
            #expect(try await subject(byEmail["token"]) == "ada@example.com")
        }
    }

    @Test(arguments: [
        // (body, status, error)
        (BrazeTokenEndpointTests.body(nil), 403, "anonymous"),
        (BrazeTokenEndpointTests.body(#"{"id":"7001"}"#), 403, "unsigned"),
        (BrazeTokenEndpointTests.body(#"{"id":"7001","email":"a@b.c","ts":"1795427995","sig":"00"}"#), 403, "bad_signature"),
        // Customer A's signature with customer B's id (a visitor naming another customer).
        (BrazeTokenEndpointTests.body(BrazeTokenEndpointTests.claim("2002", signedId: "7001")), 403, "bad_signature"),
        // A's signature with another email (the email strategies would name someone else).
        (BrazeTokenEndpointTests.body(BrazeTokenEndpointTests.claim("7001").replacingOccurrences(of: "ada@example.com", with: "eve@example.com")), 403, "bad_signature"),
        // A valid signature from shop C, replayed on shop A.
        (BrazeTokenEndpointTests.body(BrazeTokenEndpointTests.claim("7001", shop: "c-shop.myshopify.com", secret: "snippet-secret-c")), 403, "bad_signature"),
        // Signed for shop A with shop C's secret.
        (BrazeTokenEndpointTests.body(BrazeTokenEndpointTests.claim("7001", secret: "snippet-secret-c")), 403, "bad_signature"),
        // A stale page's signature, replayed after the claim's 48 h.
        (BrazeTokenEndpointTests.body(BrazeTokenEndpointTests.claim("7001", ageSeconds: 49 * 3600)), 403, "expired_signature"),
        (BrazeTokenEndpointTests.body(BrazeTokenEndpointTests.claim("7001", ageSeconds: -3600)), 403, "expired_signature"),
        // Shop B has no web_sdk.
        (BrazeTokenEndpointTests.body(BrazeTokenEndpointTests.claim("7001"), writeKey: "pk_b_1"), 404, "web_sdk_not_enabled"),
        (BrazeTokenEndpointTests.body(BrazeTokenEndpointTests.claim("7001"), writeKey: "pk_nope"), 401, "unknown_write_key"),
        ("not json", 400, "invalid_json"),
        ("[1,2]", 400, "invalid_json"),
        (#"{"write_key":"pk_a_1","customer":{"id":{"nested":[1]}}}"#, 403, "anonymous"),
        (String(repeating: " ", count: 5000), 413, "body_too_large"),
    ])
    func noTokenWithoutTheSignedCustomer(body: String, status: Int, code: String) async throws {
        try await withApp { client in
            let (got, json, headers) = try await post(client, "/v1/braze/token", body)
            #expect(Int(got.code) == status, "\(json)")
            #expect(json["error"] as? String == code, "\(json)")
            #expect(json["token"] == nil && headers[.cacheControl] == "no-store")
        }
    }

    @Test func aForeignOriginIsRefused() async throws {
        try await withApp { client in
            let (status, json, headers) = try await post(client, "/v1/braze/token", Self.body(Self.claim("7001")), origin: "https://evil.example")
            #expect(status == .forbidden && json["error"] as? String == "origin_not_allowed" && headers[.accessControlAllowOrigin] == nil)
            // Shop C's origin may not ask for shop A's customers either.
            let (other, _, _) = try await post(client, "/v1/braze/token", Self.body(Self.claim("7001")), origin: "https://c-shop.myshopify.com")
            #expect(other == .forbidden)
        }
    }

    @Test func theAppProxyGivesATokenForShopifysLoggedInCustomerOnly() async throws {
        let ts = Self.nowMillis / 1000
        try await withApp { client in
            let ok = "/proxy/v1/braze/token?" + KitFixtures.proxyQuery(customer: "5005", timestamp: ts)
            let (status, json, _) = try await post(client, ok, "")
            #expect(status == .ok, "\(json)")
            #expect(try await subject(json["token"]) == "5005")
            // A signed page claim for another customer does not change whom the token names.
            let (_, mixed, _) = try await post(client, ok, Self.body(Self.claim("7001")))
            #expect(mixed["external_id"] as? String == "5005")
            // Logged out: Shopify sends the id blank.
            let (anon, anonJSON, _) = try await post(client, "/proxy/v1/braze/token?" + KitFixtures.proxyQuery(customer: "", timestamp: ts), "")
            #expect(anon == .forbidden && anonJSON["error"] as? String == "anonymous")
            // Tampered customer id, wrong secret, stale timestamp, no signature, a shop without app_proxy.
            let tampered = ok.replacingOccurrences(of: "logged_in_customer_id=5005", with: "logged_in_customer_id=5006")
            let cases: [(String, Int, String)] = [
                (tampered, 401, "invalid_signature"),
                ("/proxy/v1/braze/token?" + KitFixtures.proxyQuery(customer: "5005", timestamp: ts, secret: "api-secret-c"), 401, "invalid_signature"),
                ("/proxy/v1/braze/token?" + KitFixtures.proxyQuery(customer: "5005", timestamp: ts - 3600), 401, "signature_expired"),
                ("/proxy/v1/braze/token?shop=a-shop.myshopify.com&logged_in_customer_id=5005&timestamp=\(ts)", 401, "invalid_signature"),
                ("/proxy/v1/braze/token?" + KitFixtures.proxyQuery(shop: "c-shop.myshopify.com", customer: "5005", timestamp: ts, secret: "api-secret-c"), 403, "app_proxy_not_configured"),
                ("/proxy/v1/braze/token?" + KitFixtures.proxyQuery(customer: "5005", timestamp: ts, extra: [("logged_in_customer_id", "7001")]), 401, "invalid_signature"),
            ]
            for (uri, expected, code) in cases {
                let (got, body, _) = try await post(client, uri, "")
                #expect(Int(got.code) == expected && body["error"] as? String == code, "\(uri): \(body)")
                #expect(body["token"] == nil)
            }
        }
    }

    @Test func theLoaderIsServedAndReferencedOnlyForShopsWithTheWebSDK() async throws {
        let generator = SnippetGenerator(config: Self.config)
        let withSDK = try generator.snippet(for: Self.shopA)
        #expect(withSDK.contains(#"<script id="shoptrail-braze" src="https://track.example.com/sdk/v1/braze-loader.js?v=\#(TrackerAsset.brazeLoader.version)" async"#))
        // The App Proxy shop asks for tokens on its own domain; the config is HTML-escaped JSON, no secret in it.
        #expect(withSDK.contains("&quot;token_url&quot;:&quot;/apps/shoptrail/v1/braze/token&quot;"))
        #expect(withSDK.contains("&quot;sdk_url&quot;:&quot;https://js.appboycdn.com/web-sdk/5.4/braze.min.js&quot;"))
        #expect(!withSDK.contains("PRIVATE KEY") && !withSDK.contains("MII"))
        #expect(try generator.snippet(for: Self.shopC).contains("&quot;token_url&quot;:&quot;https://track.example.com/v1/braze/token&quot;"))
        #expect(!(try generator.snippet(for: Fixtures.shopB)).contains("braze-loader"))
        // Inline or not, the loader stays a separate file.
        let inline = try generator.snippet(for: Self.shopA, inline: true)
        #expect(inline.contains("braze-loader.js?v=") && !inline.contains("subscribeToSdkAuthenticationFailures"))
        #expect(!TrackerAsset.embedded.javaScript.contains("braze"))
        try await withApp { client in
            try await client.execute(uri: "/sdk/v1/braze-loader.js?v=\(TrackerAsset.brazeLoader.version)", method: .get, headers: [.acceptEncoding: "gzip"]) { response in
                #expect(response.status == .ok && response.headers[.contentEncoding] == "gzip")
                #expect(response.headers[.cacheControl] == "public, max-age=31536000, immutable")
                #expect(Array(buffer: response.body) == TrackerAsset.brazeLoader.gzipped)
            }
        }
    }
}

/// One identity: the SDK's anonymous user (the visitor's alias) ends on the customer's profile when
/// the server links the visitor, here through an order; no duplicate profile.
@Suite struct WebSDKIdentityTests {
    /// What the SDK does for an anonymous visitor: a profile holding the visitor's alias (Public/braze-loader.js).
    static func sdkAnonymousUser(_ p: IdentityScenarioTests.Pipeline, visitor: String) async throws {
        let body = #"{"attributes":[{"user_alias":{"alias_name":"\#(visitor)","alias_label":"shoptrail_visitor"},"_update_existing_only":false,"sdk_seen":true}]}"#
        let status = try await p.sandbox.execute(uri: "/users/track", method: .post,
                                                 headers: [.authorization: "Bearer \(IdentityScenarioTests.brazeKey)", .contentType: "application/json"],
                                                 body: ByteBuffer(string: body)) { $0.status }
        #expect(status == .created || status == .ok)
    }

    static func browseAndOrder(_ p: IdentityScenarioTests.Pipeline, visitor: String) async throws {
        try await sdkAnonymousUser(p, visitor: visitor)
        try await p.send(visitor, [("e1", "product_viewed", 1, IdentityScenarioTests.product(5)), ("e2", "cart_updated", 2, IdentityScenarioTests.cart("tokS", lines: [(5, 1)]))])
        _ = try await p.temp.store.append([NewEvent(shop: IdentityScenarioTests.shop, source: .pixel, eventId: "px-s", name: "checkout_started", visitorId: visitor, sessionId: nil,
                                                clientTime: nil, time: p.t0 + 3 * 60_000, receivedAt: SystemClock().now(), context: nil,
                                                properties: #"{"checkout":{"token":"ckS","cart_token":"tokS"}}"#)])
        _ = try await p.temp.store.append([NewEvent(shop: IdentityScenarioTests.shop, source: .webhook, eventId: "wh-s", name: "orders/create", visitorId: nil, sessionId: nil,
                                                clientTime: nil, time: p.t0 + 4 * 60_000, receivedAt: SystemClock().now(), context: nil,
                                                properties: #"{"id":5501,"checkout_token":"ckS","customer":{"id":6006,"email":"s@example.com"}}"#)])
        try await p.flush()
    }

    @Test(arguments: [AnonymousMode.hold, .forward])
    func anSDKVisitorWhoOrdersHasOneProfile(mode: AnonymousMode) async throws {
        var braze = BrazeConfig()
        braze.anonymous = mode
        braze.webSDK = TestRSA.sdk()
        try await IdentityScenarioTests.with(braze) { p in
            try await Self.browseAndOrder(p, visitor: "v_sdk_000001")
            let users = try await p.users()
            #expect(users.count == 1, "the SDK's anonymous user was merged into the customer: \(users)")
            let user = try #require(try await p.user("6006"))
            #expect((user["attributes"] as? [String: Any])?["sdk_seen"] as? Bool == true, "\(user)")
            let aliases = (user["user_aliases"] as? [[String: Any]] ?? []).compactMap { $0["alias_name"] as? String }
            #expect(aliases.contains("v_sdk_000001"))
            let names = try await p.eventNames("6006")
            #expect(names.contains("ecommerce.product_viewed") && names.contains("ecommerce.order_placed"), "\(names)")
        }
    }

    /// Without web_sdk, hold mode never identifies an alias: the same SDK user would stay a second profile.
    @Test func withoutTheWebSDKSettingTheAliasProfileStaysApart() async throws {
        try await IdentityScenarioTests.with(BrazeConfig()) { p in
            try await Self.browseAndOrder(p, visitor: "v_sdk_000002")
            #expect(try await p.users().count == 2)
        }
    }
}

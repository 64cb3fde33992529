import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
@testable import ShopTrail

@Suite struct SnippetHTTPTests {
    // ManualClock's default start, in seconds.
    let now: Int64 = 1_795_428_000

    @Test func trackerIsServedGzipWithETagAndLongCachingForTheCurrentVersion() async throws {
        let temp = try TempStore()
        let asset = TrackerAsset.embedded
        try await KitFixtures.app(store: temp.store).test(.router) { client in
            try await client.execute(uri: "/sdk/v1/shoptrail.js?v=\(asset.version)", method: .get, headers: [.acceptEncoding: "gzip, deflate, br"]) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentEncoding] == "gzip")
                #expect(response.headers[.contentType] == "application/javascript; charset=utf-8")
                #expect(response.headers[.cacheControl] == "public, max-age=31536000, immutable")
                #expect(response.headers[.vary] == "Accept-Encoding")
                #expect(response.headers[.eTag] == "\"\(asset.version)-gz\"")
                #expect(Array(buffer: response.body) == asset.gzipped)
            }
            try await client.execute(uri: "/sdk/v1/shoptrail.js", method: .get) { response in
                #expect(response.headers[.contentEncoding] == nil)
                #expect(response.headers[.cacheControl] == "public, max-age=300")
                #expect(String(buffer: response.body) == asset.javaScript)
            }
            try await client.execute(uri: "/sdk/v1/shoptrail.js", method: .get, headers: [.acceptEncoding: "gzip;q=0"]) { response in
                #expect(response.headers[.contentEncoding] == nil)
            }
            try await client.execute(uri: "/sdk/v1/shoptrail.js?v=\(asset.version)", method: .get, headers: [.ifNoneMatch: "\"\(asset.version)\""]) { response in
                #expect(response.status == .notModified)
                #expect(response.body.readableBytes == 0)
            }
        }
    }

    @Test func snippetEndpointNeedsTheAdminToken() async throws {
        let temp = try TempStore()
        try await KitFixtures.app(store: temp.store).test(.router) { client in
            try await client.execute(uri: "/v1/shops/a-shop.myshopify.com/snippet.liquid", method: .get) { response in
                #expect(response.status == .unauthorized)
                #expect(String(buffer: response.body).contains(#""error":"unauthorized""#))
                #expect(!String(buffer: response.body).contains("snippet-secret-a"))
            }
            try await client.execute(uri: "/v1/shops/a-shop.myshopify.com/snippet.liquid", method: .get, headers: [.authorization: "Bearer wrong-token-wrong-token"]) { response in
                #expect(response.status == .unauthorized)
            }
            let auth: HTTPFields = [.authorization: "Bearer \(KitFixtures.adminToken.value)"]
            try await client.execute(uri: "/v1/shops/a-shop.myshopify.com/snippet.liquid", method: .get, headers: auth) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.cacheControl] == "no-store")
                let expected = try SnippetGenerator(config: KitFixtures.config).snippet(for: KitFixtures.proxyShop)
                #expect(String(buffer: response.body) == expected)
            }
            try await client.execute(uri: "/v1/shops/a-shop.myshopify.com/snippet.liquid?inline=1", method: .get, headers: auth) { response in
                #expect(String(buffer: response.body).contains("{% raw %}"))
            }
            try await client.execute(uri: "/v1/shops/a-shop.myshopify.com/pixel.js", method: .get, headers: auth) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body).contains("analytics.subscribe"))
            }
            try await client.execute(uri: "/v1/shops/nope.myshopify.com/snippet.liquid", method: .get, headers: auth) { response in
                #expect(response.status == .notFound)
                #expect(String(buffer: response.body).contains(#""error":"unknown_shop""#))
            }
        }
    }

    @Test func withoutAnAdminTokenTheEndpointIsOff() async throws {
        let temp = try TempStore()
        try await Fixtures.app(store: temp.store).test(.router) { client in
            try await client.execute(uri: "/v1/shops/a-shop.myshopify.com/snippet.liquid", method: .get, headers: [.authorization: "Bearer anything-at-all-here"]) { response in
                #expect(response.status == .serviceUnavailable)
                #expect(String(buffer: response.body).contains("admin_disabled"))
            }
        }
    }

    @Test func adminTokenFileIsCreatedOnceWithMode0600() throws {
        let temp = try TempStore()
        let server = ServerConfig(publicURL: "http://x", dataDir: temp.dir.appendingPathComponent("nested").path)
        let (token, origin) = try AdminToken.loadOrCreate(server: server)
        let path = temp.dir.appendingPathComponent("nested/admin_token").path
        #expect(origin == .file(path: path, created: true))
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber
        #expect(mode?.intValue == 0o600)
        let (again, origin2) = try AdminToken.loadOrCreate(server: server)
        #expect(again == token)
        #expect(origin2 == .file(path: path, created: false))
        #expect(AdminToken.authorizes("Bearer \(token.value)", token: token))
        #expect(AdminToken.authorizes("bearer  \(token.value) ", token: token))
        #expect(!AdminToken.authorizes("Bearer \(token.value)x", token: token))
        #expect(!AdminToken.authorizes(token.value, token: token))
        var configured = server
        configured.adminToken = Secret("configured-token-0123456789")
        #expect(try AdminToken.loadOrCreate(server: configured).origin == .config)
    }

    func postProxy(_ client: some TestClientProtocol, query: String, body: String) async throws -> (HTTPResponse.Status, String) {
        try await client.execute(uri: "/proxy/v1/batch?\(query)", method: .post, headers: [.contentType: "text/plain;charset=UTF-8"], body: ByteBuffer(string: body)) { response in
            (response.status, String(buffer: response.body))
        }
    }

    @Test func appProxyBeaconIsVerifiedAndRecordsTheLoggedInCustomer() async throws {
        let temp = try TempStore()
        try await KitFixtures.app(store: temp.store).test(.router) { client in
            let query = KitFixtures.proxyQuery(customer: "7001234567890", timestamp: now - 20)
            let (status, text) = try await postProxy(client, query: query, body: Fixtures.batch(events: [("p1", "page_viewed")]))
            #expect(status == .ok, "\(text)")
            let anonymous = KitFixtures.proxyQuery(timestamp: now + 10)
            let (status2, _) = try await postProxy(client, query: anonymous, body: #"{"write_key":"pk_a_1","visitor_id":"v_0123456789","events":[{"id":"p2","name":"page_viewed"}]}"#)
            #expect(status2 == .ok)
        }
        let events = try await temp.store.events(after: 0, limit: 10)
        #expect(events.map(\.event.eventId) == ["p1", "p2"])
        #expect(events[0].event.source == .storefront)
        // The verified identity has its own column; the page's context is stored as the page sent it.
        #expect(events[0].event.context == #"{"page":{"type":"product"}}"#)
        #expect(events[0].event.verified == #"{"app_proxy":{"shop":"a-shop.myshopify.com","logged_in_customer_id":"7001234567890","timestamp":\#(now - 20)}}"#)
        #expect(events[1].event.context == nil)
        #expect(events[1].event.verified == #"{"app_proxy":{"shop":"a-shop.myshopify.com","logged_in_customer_id":null,"timestamp":\#(now + 10)}}"#)
    }

    @Test func appProxyRefusesWhatItCannotVerify() async throws {
        let temp = try TempStore()
        try await KitFixtures.app(store: temp.store).test(.router) { client in
            let body = Fixtures.batch()
            let cases: [(String, HTTPResponse.Status, String)] = [
                (KitFixtures.proxyQuery(customer: "1", timestamp: now, secret: "wrong"), .unauthorized, "invalid_signature"),
                (KitFixtures.proxyQuery(timestamp: now - 3600), .unauthorized, "signature_expired"),
                (KitFixtures.proxyQuery(timestamp: now) + "&shop=a-shop.myshopify.com", .unauthorized, "invalid_signature"),
                (KitFixtures.proxyQuery(shop: "b-shop.myshopify.com", timestamp: now, secret: "x"), .forbidden, "app_proxy_not_configured"),
                ("shop=a-shop.myshopify.com", .unauthorized, "invalid_signature"),
                ("", .forbidden, "app_proxy_not_configured"),
            ]
            for (query, status, code) in cases {
                let (got, text) = try await postProxy(client, query: query, body: body)
                #expect(got == status, "\(query)")
                #expect(text.contains(#""error":"\#(code)""#), "\(text)")
            }
            // Tampering with the customer after signing breaks the signature.
            let signed = KitFixtures.proxyQuery(customer: "111", timestamp: now)
            let (got, _) = try await postProxy(client, query: signed.replacingOccurrences(of: "logged_in_customer_id=111", with: "logged_in_customer_id=222"), body: body)
            #expect(got == .unauthorized)
            // A signed request for shop A carrying shop B's write key.
            let (mismatch, text) = try await postProxy(client, query: KitFixtures.proxyQuery(timestamp: now), body: Fixtures.batch(writeKey: "pk_b_1"))
            #expect(mismatch == .forbidden)
            #expect(text.contains("shop_mismatch"))
        }
        #expect(try await temp.store.eventCount() == 0)
    }

    @Test func clientCannotWriteServerContextKeys() async throws {
        let temp = try TempStore()
        try await KitFixtures.app(store: temp.store).test(.router) { client in
            let forged = #"{"write_key":"pk_a_1","visitor_id":"v_0123456789","context":{"page":{},"$app_proxy":{"logged_in_customer_id":"1"}},"events":[{"id":"f1","name":"page_viewed"}]}"#
            let (status, text, _) = try await client.postBatch(forged)
            #expect(status == .badRequest)
            #expect(text.contains(#""error":"reserved_field""#))
            #expect(text.contains(#""field":"context.$app_proxy""#))
            let (proxied, _) = try await postProxy(client, query: KitFixtures.proxyQuery(timestamp: now), body: forged)
            #expect(proxied == .badRequest)
            // A "$" inside a value or a nested key is ordinary data.
            let fine = #"{"write_key":"pk_a_1","visitor_id":"v_0123456789","context":{"page":{"title":"\"$5 off\"","x":{"$k":1}}},"events":[{"id":"f2","name":"page_viewed"}]}"#
            let (ok, okText, _) = try await client.postBatch(fine)
            #expect(ok == .ok, "\(okText)")
        }
        #expect(try await temp.store.eventCount() == 1)
    }

    @Test func pixelBeaconsAreStoredAsPixelEventsWhateverTheOrigin() async throws {
        let temp = try TempStore()
        try await KitFixtures.app(store: temp.store).test(.router) { client in
            let body = #"{"write_key":"pk_a_1","visitor_id":"px_0123456789","context":{"source":"custom_pixel"},"events":[{"id":"px.1","name":"checkout_started","properties":{"checkout_token":"abc"}}]}"#
            try await client.execute(uri: "/v1/pixel/batch", method: .post, headers: [.contentType: "text/plain", .origin: "null"], body: ByteBuffer(string: body)) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body) == #"{"ok":true,"accepted":1,"duplicates":0}"#)
            }
        }
        let events = try await temp.store.events(after: 0, limit: 10)
        #expect(events.first?.event.source == .pixel)
        #expect(events.first?.event.name == "checkout_started")
    }

    @Test func signatureMatchesAnIndependentImplementation() throws {
        // Computed with Python's hmac over "extra=1,2logged_in_customer_id=path_prefix=/apps/awesome_reviews
        // shop=shop-name.myshopify.comtimestamp=1317327555" with the key "hush".
        let query = "extra=1&extra=2&shop=shop-name.myshopify.com&logged_in_customer_id=&path_prefix=%2Fapps%2Fawesome_reviews&timestamp=1317327555&signature=e072b6d7e6622d85912a5214b860d3100dc1e73d9bc29f43796ac8c9ff8093cb"
        let identity = try AppProxySignature.verify(query: query, secrets: [Secret("hush")], now: 1_317_327_600)
        #expect(identity == AppProxyIdentity(shop: "shop-name.myshopify.com", loggedInCustomerId: nil, timestamp: 1_317_327_555))
        #expect(throws: APIError.self) { try AppProxySignature.verify(query: query, secrets: [Secret("hush")], now: 1_317_337_555) }
    }
}

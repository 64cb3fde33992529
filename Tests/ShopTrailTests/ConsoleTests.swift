import Foundation
import Hummingbird
import HummingbirdTesting
import Prometheus
import Testing
@testable import ShopTrail

/// The operator console: login and CSRF, escaping of shop-supplied strings, the person page with
/// Braze's answers from the delivery log, dead letters, the live feed's bounds and `/metrics`.
@Suite struct ConsoleTests {
    static let token = Secret("console-admin-token-0123456789")

    static func app(_ store: SQLiteEventStore, config: ShopTrailConfig = Fixtures.config, signals: OperatorSignals = OperatorSignals()) -> some ApplicationProtocol {
        var deps = AppDependencies(config: config, store: store, logger: Fixtures.logger(), adminToken: token)
        deps.signals = signals
        return buildApplication(deps, host: "127.0.0.1", port: 0)
    }

    static func cookies(_ headers: HTTPFields) -> [String: String] {
        var out: [String: String] = [:]
        for value in headers[values: .setCookie] {
            let pair = value.split(separator: ";")[0].split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            out[String(pair[0])] = pair.count > 1 ? String(pair[1]) : ""
        }
        return out
    }

    /// Logs in through the login page as a browser does; returns the session cookie.
    static func login(_ client: some TestClientProtocol) async throws -> String {
        let csrf = try await client.execute(uri: "/console/login", method: .get) { response in
            #expect(response.status == .ok)
            return cookies(response.headers)[ConsoleSession.loginCookieName] ?? ""
        }
        return try await client.execute(uri: "/console/login", method: .post,
                                        headers: [.contentType: "application/x-www-form-urlencoded", .cookie: "\(ConsoleSession.loginCookieName)=\(csrf)"],
                                        body: ByteBuffer(string: "csrf=\(csrf)&next=%2Fconsole&token=\(token.value)")) { response in
            #expect(response.status == .seeOther)
            #expect(response.headers[.location] == "/console")
            let header = response.headers[values: .setCookie].first { $0.hasPrefix(ConsoleSession.cookieName + "=") } ?? ""
            #expect(header.contains("HttpOnly") && header.contains("SameSite=Strict") && header.contains("Max-Age="), "\(header)")
            return cookies(response.headers)[ConsoleSession.cookieName] ?? ""
        }
    }

    static func csrf(in html: String) -> String? {
        guard let range = html.range(of: #"name="csrf" value=""#) else { return nil }
        return String(html[range.upperBound...].prefix { $0 != "\"" })
    }

    @Test func anonymousBrowsersGoToTheLoginPageAndScriptsGet401WithoutLeaks() async throws {
        let temp = try TempStore()
        try await Self.app(temp.store).test(.router) { client in
            try await client.execute(uri: "/console?shop=a-shop.myshopify.com", method: .get, headers: [.accept: "text/html"]) { response in
                #expect(response.status == .seeOther)
                #expect(response.headers[.location]?.hasPrefix("/console/login?next=") == true)
            }
            for uri in ["/console/person?q=x", "/console/dead-letters", "/console/live/stream", "/metrics"] {
                try await client.execute(uri: uri, method: .get, headers: [.accept: "application/json"]) { response in
                    #expect(response.status == .unauthorized, "\(uri)")
                    let body = String(buffer: response.body)
                    #expect(!body.contains(Self.token.value) && !body.contains("a-shop.myshopify.com"), "\(uri): \(body)")
                    #expect(response.headers[.contentSecurityPolicy]?.contains("frame-ancestors 'none'") == true, "\(uri)")
                }
            }
            // A forged session cookie, a wrong token: still nothing.
            try await client.execute(uri: "/console", method: .get, headers: [.accept: "text/html", .cookie: "\(ConsoleSession.cookieName)=v1.99999999999999.abc.def"]) { response in
                #expect(response.status == .seeOther)
            }
            try await client.execute(uri: "/metrics", method: .get, headers: [.authorization: "Bearer wrong-token-wrong-token"]) { response in
                #expect(response.status == .unauthorized)
            }
        }
    }

    @Test func loginNeedsTheTokenAndTheLoginFormsCookieThenTheSessionOpensThePages() async throws {
        let temp = try TempStore()
        try await Self.app(temp.store).test(.router) { client in
            // Without the login page's cookie (a cross-site form): refused.
            try await client.execute(uri: "/console/login", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                                     body: ByteBuffer(string: "csrf=abc&token=\(Self.token.value)")) { response in
                #expect(response.status == .forbidden)
                #expect(Self.cookies(response.headers)[ConsoleSession.cookieName] == nil)
            }
            // A wrong token: the page again, no session.
            try await client.execute(uri: "/console/login", method: .post,
                                     headers: [.contentType: "application/x-www-form-urlencoded", .cookie: "\(ConsoleSession.loginCookieName)=\(String(repeating: "a", count: 32))"],
                                     body: ByteBuffer(string: "csrf=\(String(repeating: "a", count: 32))&token=not-the-token")) { response in
                #expect(response.status == .unauthorized)
                #expect(Self.cookies(response.headers)[ConsoleSession.cookieName] == nil)
                #expect(String(buffer: response.body).contains("not the admin token"))
            }
            // An outside `next` is never followed.
            #expect(ConsoleController.safeNext("https://evil.example/") == "/console")
            #expect(ConsoleController.safeNext("//evil.example/console") == "/console")
            let session = try await Self.login(client)
            for uri in ["/console", "/console/person", "/console/dead-letters", "/console/live", "/console/install"] {
                try await client.execute(uri: uri, method: .get, headers: [.cookie: "\(ConsoleSession.cookieName)=\(session)"]) { response in
                    #expect(response.status == .ok, "\(uri)")
                    let html = String(buffer: response.body)
                    #expect(!html.contains(Self.token.value), "\(uri)")
                    #expect(Self.csrf(in: html)?.isEmpty == false, "\(uri) has the logout form's CSRF token")
                    let policy = response.headers[.contentSecurityPolicy] ?? ""
                    #expect(policy.contains("script-src 'self'") && !policy.contains("unsafe"), "\(uri): \(policy)")
                }
            }
            // Another app on the same host (cookies ignore ports) sending a cookie of the same name first does not hide the session.
            try await client.execute(uri: "/console", method: .get,
                                     headers: [.cookie: "\(ConsoleSession.cookieName)=other-app; \(ConsoleSession.cookieName)=\(session)"]) { response in
                #expect(response.status == .ok)
            }
            // Basic stays for scripts.
            let basic = "Basic " + Data("admin:\(Self.token.value)".utf8).base64EncodedString()
            try await client.execute(uri: "/console", method: .get, headers: [.authorization: basic]) { response in
                #expect(response.status == .ok)
            }
        }
    }

    @Test func formsNeedTheSessionsCSRFTokenOrABearerToken() async throws {
        let temp = try TempStore()
        try await Self.app(temp.store).test(.router) { client in
            let session = try await Self.login(client)
            let cookie = "\(ConsoleSession.cookieName)=\(session)"
            let html = try await client.execute(uri: "/console/dead-letters", method: .get, headers: [.cookie: cookie]) { String(buffer: $0.body) }
            let csrf = try #require(Self.csrf(in: html))
            let form: HTTPFields = [.contentType: "application/x-www-form-urlencoded", .cookie: cookie]
            let shop = "shop=a-shop.myshopify.com"
            for body in ["\(shop)", "\(shop)&csrf=wrong", "\(shop)&csrf=\(csrf)x"] {
                try await client.execute(uri: "/console/dead-letters/retry-all", method: .post, headers: form, body: ByteBuffer(string: body)) { response in
                    #expect(response.status == .forbidden, "\(body)")
                }
            }
            try await client.execute(uri: "/console/dead-letters/retry-all", method: .post, headers: form, body: ByteBuffer(string: "\(shop)&csrf=\(csrf)")) { response in
                #expect(response.status == .seeOther)
                #expect(response.headers[.location]?.contains("notice=Retrying%200%20operations") == true, "\(response.headers)")
            }
            // Basic is replayed by browsers on forged forms: not enough for a form. Bearer is.
            let basic = "Basic " + Data("admin:\(Self.token.value)".utf8).base64EncodedString()
            try await client.execute(uri: "/console/dead-letters/discard-all", method: .post,
                                     headers: [.contentType: "application/x-www-form-urlencoded", .authorization: basic], body: ByteBuffer(string: shop)) { response in
                #expect(response.status == .unauthorized)
            }
            try await client.execute(uri: "/console/dead-letters/discard-all", method: .post,
                                     headers: [.contentType: "application/x-www-form-urlencoded", .authorization: "Bearer \(Self.token.value)"],
                                     body: ByteBuffer(string: shop)) { response in
                #expect(response.status == .seeOther)
            }
            // A session signed with another token is void.
            let other = ConsoleSession(adminToken: Secret("another-token-another-token"), secure: false).issue(now: SystemClock().now()).cookie
            try await client.execute(uri: "/console", method: .get, headers: [.cookie: "\(ConsoleSession.cookieName)=\(other)", .accept: "text/html"]) { response in
                #expect(response.status == .seeOther)
            }
        }
    }

    @Test func sessionsExpireAndTheirSignatureCoversTheExpiry() {
        let session = ConsoleSession(adminToken: Self.token, secure: true, lifetimeMillis: 1_000)
        let (cookie, established) = session.issue(now: 10_000)
        #expect(session.verify(cookie, now: 10_500) == established)
        #expect(session.verify(cookie, now: 11_000) == nil)
        let stretched = cookie.replacingOccurrences(of: "v1.11000.", with: "v1.99000.")
        #expect(stretched != cookie && session.verify(stretched, now: 10_500) == nil)
        #expect(session.setCookie("a", "b", maxAgeSeconds: 1).hasSuffix("; Secure"))
        #expect(!session.checkCSRF(nil, session: established) && session.checkCSRF(session.csrfToken(for: established), session: established))
    }

    @Test func theEmbeddedTemplatesMatchTemplatesConsole() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Templates/console")
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".mustache") || $0.hasSuffix(".css") || $0.hasSuffix(".js") }
        #expect(Set(names) == Set(ConsoleAssets.files.keys), "run scripts/build-console")
        for name in names {
            #expect(try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8) == ConsoleAssets.files[name], "\(name) is stale: run scripts/build-console")
        }
        // No template writes outside data unescaped.
        for (name, text) in ConsoleAssets.files where name.hasSuffix(".mustache") {
            #expect(!text.contains("{{{") && !text.contains("{{&"), "\(name)")
        }
    }

    static let hostile = #"</script><img src=x onerror=alert(1)>"#

    @Test func aPersonsTimelineShowsEachBrazeOperationWithItsAnswerAndEscapesShopStrings() async throws {
        try await IdentityScenarioTests.with { p in
            let product = #"{"product_id":"1","variant_id":"11","title":"\#(Self.hostile)","price":2500,"currency":"EUR","url":"/products/p1"}"#
            try await p.send("v_console_1", [("e1", "product_viewed", 1, product)])
            try await p.send("v_console_1", [("e2", "page_viewed", 2, #"{"url":"/account"}"#)],
                             customer: IdentityScenarioTests.signedCustomer("7001", email: "ada@example.com"))
            try await p.flush()
            try await Self.app(p.temp.store, config: p.config).test(.router) { client in
                let session = try await Self.login(client)
                let page = { (query: String) async throws -> String in
                    try await client.execute(uri: "/console/person?shop=\(p.shopDomain)&q=\(query)", method: .get,
                                             headers: [.cookie: "\(ConsoleSession.cookieName)=\(session)"]) { response in
                        #expect(response.status == .ok)
                        return String(buffer: response.body)
                    }
                }
                for query in ["7001", "ADA%40example.com", "v_console_1"] {
                    let html = try await page(query)
                    #expect(html.contains("Customer 7001"), "\(query)")
                    #expect(html.contains("v_console_1") && html.contains("product_viewed") && html.contains("page_viewed"), "\(query)")
                    // Braze's answers, under the events they came from.
                    #expect(html.contains("POST /users/track") && html.contains(#"<b class="status">20"#), "\(query)")
                    #expect(html.contains("&quot;message&quot;"), "\(query)")
                    // The hostile title is text, never markup.
                    #expect(!html.contains("<img src=x"), "\(query)")
                    #expect(html.contains("&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"), "\(query)")
                }
                let missing = try await page("nobody-at-all")
                #expect(missing.contains("id=\"not-found\""))
            }
            let records = try await SQLiteOperatorViews(database: p.temp.store.database).records(shop: p.shopDomain, userKeys: ["v:v_console_1"], limit: 50)
            #expect(!records.isEmpty && records.allSatisfy { $0.receipt.outcome == "delivered" && $0.receipt.endpoint.hasPrefix("POST /users/") })
        }
    }

    @Test func theDeliveryLogKeepsItsRowCap() async throws {
        let temp = try TempStore()
        var retention = DeliveryLogRetention()
        retention.maxRows = 5
        let outbox = SQLiteOutbox(database: temp.store.database, deliveryLog: retention)
        let now = SystemClock().now()
        for i in 0..<12 {
            try await outbox.enqueue([BrazeOperation(id: "op\(i)", shop: "a-shop.myshopify.com", userKey: "v:x", kind: .event, payload: #"{"name":"e"}"#, createdAt: now)])
            let claimed = try await outbox.claim(shop: "a-shop.myshopify.com", now: now, limit: 10, leaseMillis: 1_000)
            try await outbox.complete(claimed.map(\.seq), receipt: DeliveryReceipt(endpoint: "POST /users/track", status: 201, outcome: "delivered", response: "{}", at: now))
        }
        let records = try await SQLiteOperatorViews(database: temp.store.database).records(shop: "a-shop.myshopify.com", userKeys: ["v:x"], limit: 100)
        #expect(records.map(\.opId) == ["op11", "op10", "op9", "op8", "op7"])
        // The age bound: a record far in the future pushes every older one out.
        try await outbox.enqueue([BrazeOperation(id: "late", shop: "a-shop.myshopify.com", userKey: "v:x", kind: .event, payload: "{}", createdAt: now)])
        let late = try await outbox.claim(shop: "a-shop.myshopify.com", now: now, limit: 10, leaseMillis: 1_000)
        try await outbox.complete(late.map(\.seq), receipt: DeliveryReceipt(endpoint: "POST /users/track", status: 201, outcome: "delivered", response: "{}",
                                                                            at: now + retention.maxAgeMillis + 1))
        let after = try await SQLiteOperatorViews(database: temp.store.database).records(shop: "a-shop.myshopify.com", userKeys: ["v:x"], limit: 100)
        #expect(after.map(\.opId) == ["late"])
    }

    @Test func deadLettersAreRetriedOrDiscardedOneByOne() async throws {
        let temp = try TempStore()
        let outbox = SQLiteOutbox(database: temp.store.database)
        let now = SystemClock().now()
        let shop = "a-shop.myshopify.com"
        try await outbox.enqueue((0..<3).map { BrazeOperation(id: "dead\($0)", shop: shop, userKey: "v:\($0)", kind: .event, payload: #"{"title":"\#(Self.hostile)"}"#, createdAt: now) })
        let claimed = try await outbox.claim(shop: shop, now: now, limit: 10, leaseMillis: 1_000)
        try await outbox.deadLetter(claimed.map(\.seq), reason: "400: \(Self.hostile)", now: now)
        try await Self.app(temp.store).test(.router) { client in
            let session = try await Self.login(client)
            let cookie = "\(ConsoleSession.cookieName)=\(session)"
            let html = try await client.execute(uri: "/console/dead-letters?shop=\(shop)", method: .get, headers: [.cookie: cookie]) { String(buffer: $0.body) }
            #expect(html.contains("dead0") && html.contains("dead2") && !html.contains("<img src=x") && html.contains("&lt;img src=x"))
            let csrf = try #require(Self.csrf(in: html))
            let form: HTTPFields = [.contentType: "application/x-www-form-urlencoded", .cookie: cookie]
            try await client.execute(uri: "/console/dead-letters/retry", method: .post, headers: form,
                                     body: ByteBuffer(string: "csrf=\(csrf)&shop=\(shop)&op_id=dead1")) { #expect($0.status == .seeOther) }
            try await client.execute(uri: "/console/dead-letters/discard", method: .post, headers: form,
                                     body: ByteBuffer(string: "csrf=\(csrf)&shop=\(shop)&op_id=dead2")) { #expect($0.status == .seeOther) }
            try await client.execute(uri: "/console/dead-letters/discard", method: .post, headers: form,
                                     body: ByteBuffer(string: "csrf=\(csrf)&shop=\(shop)&op_id=dead2")) { #expect($0.status == .notFound) }
        }
        let status = try await outbox.status(shop: shop, now: now)
        #expect(status.pending == 1 && status.dead == 1)
        #expect(try await outbox.deadLetters(shop: shop, limit: 10).map(\.operation.id) == ["dead0"])
    }

    @Test func theLiveFeedDropsTheOldestForASlowSubscriberAndCapsSubscribers() async throws {
        let live = LiveEvents(maxSubscribers: 2, bufferPerSubscriber: 3)
        let event = { (i: Int) in NewEvent(shop: "s", source: .storefront, eventId: "e\(i)", name: i % 2 == 0 ? "page_viewed" : "cart_viewed", visitorId: "v",
                                           sessionId: nil, clientTime: nil, time: 0, receivedAt: 0, context: nil, properties: #"{"title":"\#(Self.hostile)"}"#) }
        let all = try #require(live.subscribe(.init()))
        let pages = try #require(live.subscribe(.init(name: "page_viewed")))
        #expect(live.subscribe(.init()) == nil, "a third subscriber is refused")
        live.publish((0..<10).map(event))
        var seen: [String] = []
        for await item in all {
            seen.append(item.json)
            if seen.count == 3 { break }
        }
        #expect(seen.map { $0.contains(#""event_id":"e7""#) || $0.contains(#""event_id":"e8""#) || $0.contains(#""event_id":"e9""#) } == [true, true, true])
        var names: [String] = []
        for await item in pages {
            names.append(item.name)
            if names.count == 3 { break }
        }
        #expect(names == ["page_viewed", "page_viewed", "page_viewed"])
        // A reader that goes away (its task cancelled, as when a browser disconnects) frees its slot.
        for stream in [all, pages] {
            let reader = Task { for await _ in stream {} }
            reader.cancel()
            await reader.value
        }
        for _ in 0..<1_000 where live.subscriberCount > 0 { try await Task.sleep(for: .milliseconds(5)) }
        #expect(live.subscriberCount == 0)
    }

    /// Readers leaving while beacons are published: a stream's cancellation unsubscribes (taking the
    /// broadcaster's lock) while holding the stream's own lock, so publishing must never yield under the
    /// broadcaster's lock. Before the fix this hung ingest for good within a few hundred rounds.
    @Test(.timeLimit(.minutes(2))) func readersLeavingWhileEventsArePublishedNeverBlockIngest() async throws {
        let live = LiveEvents(maxSubscribers: 64, bufferPerSubscriber: 4)
        let event = NewEvent(shop: "s", source: .storefront, eventId: "e", name: "page_viewed", visitorId: "v", sessionId: nil,
                             clientTime: nil, time: 0, receivedAt: 0, context: nil, properties: "{}")
        // Publishers on several threads, readers that are waiting for an event when they are cancelled.
        let publishers = (0..<3).map { _ in
            Task.detached {
                var published = 0
                while !Task.isCancelled {
                    live.publish([event])
                    published += 1
                    // The cooperative pool has as many threads as cores: a publisher that never suspends would starve the readers.
                    await Task.yield()
                }
                return published
            }
        }
        for _ in 0..<2_000 {
            guard let stream = live.subscribe(.init()) else { continue }
            let reader = Task.detached { for await _ in stream {} }
            try await Task.sleep(for: .microseconds(50))
            reader.cancel()
            await reader.value
        }
        var published = 0
        for publisher in publishers {
            publisher.cancel()
            published += await publisher.value
        }
        #expect(published > 0)
        #expect(live.subscriberCount == 0)
    }

    @Test func metricsCountBeaconsAndRefusalsAndShowTheStoragesGauges() async throws {
        let temp = try TempStore()
        let signals = OperatorSignals()
        try await Self.app(temp.store, signals: signals).test(.router) { client in
            let (ok, _, _) = try await client.postBatch(Fixtures.batch(sentAt: nil, time: nil))
            #expect(ok == .ok)
            let (refused, _, _) = try await client.postBatch(Fixtures.batch(writeKey: "pk_nobody"))
            #expect(refused == .unauthorized)
            let text = try await client.execute(uri: "/metrics", method: .get, headers: [.authorization: "Bearer \(Self.token.value)"]) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType]?.hasPrefix("text/plain; version=0.0.4") == true)
                return String(buffer: response.body)
            }
            #expect(text.contains(#"shoptrail_beacons_total{shop="a-shop.myshopify.com",route="batch",outcome="accepted"} 1"#), "\(text)")
            #expect(text.contains(#"shoptrail_beacon_refusals_total{route="batch",reason="unknown_write_key"} 1"#), "\(text)")
            #expect(text.contains(#"shoptrail_events_total{shop="a-shop.myshopify.com",source="storefront"} 1"#), "\(text)")
            #expect(text.contains("shoptrail_ingest_duration_seconds_bucket"), "\(text)")
            #expect(text.contains(#"shoptrail_outbox_depth{shop="b-shop.myshopify.com"} 0"#), "\(text)")
            #expect(text.contains("shoptrail_processor_lag_events 1"), "\(text)")
        }
        #expect(signals.counters(shop: "a-shop.myshopify.com").beaconsAccepted == 1)
        #expect(signals.unattributedRefusals()["unknown_write_key"] == 1)
    }
}

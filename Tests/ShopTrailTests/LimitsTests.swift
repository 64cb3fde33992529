import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
@testable import ShopTrail

/// Issue 14, part 2: rate limits and their configuration.
@Suite struct LimitsTests {
    @Test func tokenBucketRefusesBeyondTheBurstAndRefills() {
        let limiter = RateLimiter(perMinute: 60, burst: 3)
        #expect(limiter.take("a", now: 0) == nil && limiter.take("a", now: 0) == nil && limiter.take("a", now: 0) == nil)
        let wait = limiter.take("a", now: 0)
        #expect(wait.map { $0 > 0 && $0 <= 1_000 } == true, "\(String(describing: wait))")
        #expect(limiter.take("b", now: 0) == nil, "another key has its own bucket")
        #expect(limiter.take("a", now: 1_000) == nil, "one token per second comes back")
        #expect(RateLimiter(perMinute: 0).take("x", cost: 1_000_000, now: 0) == nil, "0 turns the limit off")
    }

    @Test func inventedKeysCannotGrowTheTableWithoutBound() {
        let limiter = RateLimiter(perMinute: 600, maxKeys: 1_000)
        for i in 0..<50_000 { _ = limiter.take("ip-\(i)", now: EpochMillis(i)) }
        #expect(limiter.trackedKeys <= 1_001)
    }

    static func config(perIP: Int = 1200, perKey: Int = 120_000, trustForwardedFor: Bool = false) -> ShopTrailConfig {
        var config = Fixtures.config
        config.server.limits.eventsPerIPPerMinute = perIP
        config.server.limits.eventsPerWriteKeyPerMinute = perKey
        config.server.limits.trustForwardedFor = trustForwardedFor
        return config
    }

    static func post(_ client: some TestClientProtocol, _ body: String, forwardedFor: String?) async throws -> (HTTPResponse.Status, String, HTTPFields) {
        var headers: HTTPFields = [.contentType: "text/plain"]
        if let forwardedFor { headers[.xForwardedFor] = forwardedFor }
        return try await client.execute(uri: "/v1/batch", method: .post, headers: headers, body: ByteBuffer(string: body)) {
            ($0.status, String(buffer: $0.body), $0.headers)
        }
    }

    @Test func eventsBeyondThePerIPLimitGet429WithRetryAfter() async throws {
        let temp = try TempStore()
        // Behind a trusted reverse proxy: the client is the last X-Forwarded-For hop.
        let deps = AppDependencies(config: Self.config(perIP: 60, trustForwardedFor: true), store: temp.store, clock: ManualClock(), logger: Fixtures.logger())
        let app = buildApplication(deps, host: "127.0.0.1", port: 0)
        try await app.test(.live) { client in
            // A client's burst is one full batch: 100 events pass, the next event is refused.
            let full = (0..<100).map { ("ip\($0)", "page_viewed") }
            let (first, _, _) = try await Self.post(client, Fixtures.batch(events: full), forwardedFor: "10.0.0.2, 203.0.113.7")
            #expect(first == .ok)
            let (status, text, headers) = try await Self.post(client, Fixtures.batch(events: [("ip-more", "page_viewed")]), forwardedFor: "10.0.0.2, 203.0.113.7")
            #expect(status == .tooManyRequests && text.contains(#""error":"rate_limited""#), "\(text)")
            #expect(headers[.retryAfter].flatMap(Int.init).map { $0 >= 1 } == true)
            // Another client behind the same proxy has its own budget.
            let (other, _, _) = try await Self.post(client, Fixtures.batch(events: [("other", "page_viewed")]), forwardedFor: "198.51.100.9")
            #expect(other == .ok)
            // Health and webhooks are not beacons: never limited by IP.
            let health = try await client.execute(uri: "/healthz", method: .get) { $0.status }
            #expect(health == .ok)
        }
        #expect(try await temp.store.eventCount() == 101)
    }

    @Test func aLoopbackOrPrivatePeerWithoutTrustedForwardingIsAProxyNotAClient() async throws {
        let temp = try TempStore()
        let deps = AppDependencies(config: Self.config(perIP: 60), store: temp.store, clock: ManualClock(), logger: Fixtures.logger())
        try await buildApplication(deps, host: "127.0.0.1", port: 0).test(.live) { client in
            for i in 0..<3 {
                let (status, _, _) = try await client.postBatch(Fixtures.batch(events: (0..<100).map { ("lo\(i)-\($0)", "page_viewed") }))
                #expect(status == .ok)
            }
        }
        for ip in ["127.0.0.1", "10.1.2.3", "172.20.0.1", "192.168.1.1", "::1", "fd00::1", "::ffff:127.0.0.1"] {
            #expect(ClientAddress.isProxyAddress(ip), "\(ip)")
        }
        for ip in ["203.0.113.7", "172.32.0.1", "8.8.8.8", "2001:db8::1"] {
            #expect(!ClientAddress.isProxyAddress(ip), "\(ip)")
        }
    }

    @Test func eventsBeyondTheWriteKeyLimitGet429() async throws {
        let temp = try TempStore()
        let deps = AppDependencies(config: Self.config(perKey: 150), store: temp.store, clock: ManualClock(), logger: Fixtures.logger())
        try await buildApplication(deps, host: "127.0.0.1", port: 0).test(.router) { client in
            let hundred = (0..<100).map { ("k\($0)", "page_viewed") }
            let (first, _, _) = try await client.postBatch(Fixtures.batch(events: hundred))
            #expect(first == .ok)
            let (second, text, headers) = try await client.postBatch(Fixtures.batch(events: (0..<100).map { ("l\($0)", "page_viewed") }))
            #expect(second == .tooManyRequests && text.contains("write key") && headers[.retryAfter] != nil, "\(text)")
            // Another shop's key is not affected.
            let (other, _, _) = try await client.postBatch(Fixtures.batch(writeKey: "pk_b_1", events: [("b1", "page_viewed")]))
            #expect(other == .ok)
        }
    }

    @Test func limitsAreReadStrictly() throws {
        let yaml = """
            server:
              limits:
                max_connections: 512
                idle_timeout: 30s
                request_timeout: 5s
                events_per_ip_per_minute: 0
                events_per_write_key_per_minute: 1000
                trust_forwarded_for: true
            shops:
              - domain: a.myshopify.com
                write_key: pk_a_1
            """
        let config = try ConfigLoader.parse(yaml: yaml, origin: "t.yml", environment: [:])
        #expect(config.server.limits.maxConnections == 512 && config.server.limits.idleTimeoutMillis == 30_000)
        #expect(config.server.limits.requestTimeoutMillis == 5_000 && config.server.limits.eventsPerIPPerMinute == 0)
        #expect(config.server.limits.eventsPerWriteKeyPerMinute == 1000 && config.server.limits.trustForwardedFor)
        for (bad, key) in [("max_connections: 3", "server.limits.max_connections"), ("idle_timeout: 2h", "server.limits.idle_timeout"),
                           ("per_ip: 5", "server.limits.per_ip")] {
            let text = "server:\n  limits:\n    \(bad)\nshops:\n  - domain: a.myshopify.com\n    write_key: pk_a_1\n"
            #expect(throws: ConfigError.self) { try ConfigLoader.parse(yaml: text, origin: "t.yml", environment: [:]) }
            do { _ = try ConfigLoader.parse(yaml: text, origin: "t.yml", environment: [:]) } catch let error as ConfigError { #expect(error.key == key, "\(error)") }
        }
    }

    @Test func theConnectionCapLeavesDescriptorsFree() {
        let cap = ConnectionCounter.effectiveLimit(configured: 1_000_000)
        #expect(cap >= 16)
        #expect(ConnectionCounter.effectiveLimit(configured: 20) <= 20)
    }
}

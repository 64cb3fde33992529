import AsyncHTTPClient
import BrazeSandbox
import Foundation
import GRDB
import Hummingbird
import HummingbirdTesting
import Testing
@testable import ShopTrail

/// A generated day of storefront traffic replayed through the processor, the outbox, the forwarder
/// and the Braze sandbox, in `hold` and in `forward` mode. Size from `SHOPTRAIL_REPLAY_EVENTS`
/// (default 20,000 events; the closing note's figures use 100,000); prints what it measured.
@Suite(.serialized) struct TrafficReplayTests {
    static let shop = "a-shop.myshopify.com"
    static let secret = Secret("snippet-secret-a")

    /// Deterministic traffic: ~10 events a visitor, a fifth of the visitors log in at some point.
    struct Traffic {
        var events: [NewEvent] = []
        /// Visitor → the customer it logs in as.
        var logins: [String: String] = [:]

        init(events count: Int, loginShare: Double = 0.2, now: EpochMillis) {
            var rng = FuzzRNG(seed: 42)
            let visitors = max(1, count / 10)
            let start = now - 6 * 3_600_000
            for v in 0..<visitors {
                let visitor = String(format: "v_replay_%06d", v)
                let loginAt: Int? = Double(rng.next() % 1000) / 1000 < loginShare ? Int(rng.next() % 10) : nil
                if loginAt != nil { logins[visitor] = String(7_000_000_000_000 + v) }
                var cartLines: [(Int, Int)] = []
                for i in 0..<10 {
                    let time = start + EpochMillis(v) * 2_000 + EpochMillis(i) * 30_000
                    let loggedIn = loginAt.map { i >= $0 } ?? false
                    var context = #"{"page":{"type":"product"}"#
                    if loggedIn, let customer = logins[visitor] {
                        let ts = String(now / 1000)
                        let email = "c\(customer)@example.com"
                        let sig = CustomerClaims.signature(shop: TrafficReplayTests.shop, customerId: customer, email: email, timestamp: ts, secret: TrafficReplayTests.secret)
                        context += #","customer":{"id":"\#(customer)","email":"\#(email)","ts":"\#(ts)","sig":"\#(sig)"}"#
                    }
                    context += "}"
                    let product = Int(rng.next() % 200)
                    let (name, properties): (String, String)
                    if loginAt == i {
                        (name, properties) = ("customer_identified", #"{"customer_id":"\#(logins[visitor] ?? "")"}"#)
                    } else if i % 4 == 3 {
                        cartLines.append((product, 1 + Int(rng.next() % 3)))
                        (name, properties) = ("cart_updated", IdentityScenarioTests.cart("cart\(v)", lines: cartLines))
                    } else if i % 3 == 0 {
                        (name, properties) = ("page_viewed", #"{"url":"https://a-shop.myshopify.com/collections/all"}"#)
                    } else {
                        (name, properties) = ("product_viewed", IdentityScenarioTests.product(product))
                    }
                    events.append(NewEvent(shop: TrafficReplayTests.shop, source: .storefront, eventId: "\(visitor)-\(i)", name: name, visitorId: visitor,
                                           sessionId: "s1", clientTime: time, time: time, receivedAt: now, context: context, properties: properties))
                }
            }
            // Interleave visitors as a real log would.
            events.sort { ($0.time, $0.eventId) < ($1.time, $1.eventId) }
        }
    }

    static var size: Int { Int(ProcessInfo.processInfo.environment["SHOPTRAIL_REPLAY_EVENTS"] ?? "") ?? 20_000 }

    @Test(arguments: [AnonymousMode.hold, .forward])
    func replayStitchesEveryLoginIntoExactlyOneProfile(_ mode: AnonymousMode) async throws {
        let traffic = Traffic(events: Self.size, now: SystemClock().now())
        var braze = BrazeConfig()
        braze.anonymous = mode
        let shop = ShopConfig(domain: Self.shop, writeKey: "pk_a_1", allowedOrigins: [], snippetSecret: Self.secret, shopify: ShopifyConfig(), braze: braze)
        let config = ShopTrailConfig(server: ServerConfig(publicURL: "http://127.0.0.1:8080"), shops: [shop], origin: "tests")
        let temp = try TempStore()
        for chunk in stride(from: 0, to: traffic.events.count, by: 1_000) {
            _ = try await temp.store.append(Array(traffic.events[chunk..<min(chunk + 1_000, traffic.events.count)]))
        }
        let processor = ProcessorService(log: temp.store.processorLog, config: config, logger: Fixtures.logger())
        let started = ContinuousClock.now
        try await processor.drain()
        let processing = ContinuousClock.now - started
        let seconds = Double(processing.components.seconds) + Double(processing.components.attoseconds) / 1e18

        let httpClient = HTTPClient(eventLoopGroupProvider: .singleton)
        let app = buildBrazeSandboxApplication(configuration: BrazeSandboxConfiguration(apiKeys: [BrazeAPIKey("k")]), host: "127.0.0.1", port: 0)
        do {
            try await app.test(.live) { sandbox in
                let port = try #require(sandbox.port)
                let client = BrazeClient(httpClient: httpClient, restEndpoint: "http://127.0.0.1:\(port)", apiKey: Secret("k"), timeout: .seconds(120))
                var settings = ForwarderSettings()
                settings.lingerMillis = 0
                let outbox = SQLiteOutbox(database: temp.store.database)
                let forwarder = BrazeForwarder(outbox: outbox, senders: [Self.shop: client], settings: settings, logger: Fixtures.logger())
                let operations = try await outbox.status(shop: Self.shop, now: SystemClock().now()).pending
                while try await outbox.status(shop: Self.shop, now: SystemClock().now()).pending > 0 {
                    if try await !forwarder.round(shop: Self.shop).sent { try await Task.sleep(for: .milliseconds(1)) }
                }
                #expect(try await outbox.status(shop: Self.shop, now: SystemClock().now()).dead == 0)

                let usersText = try await sandbox.execute(uri: "/_sandbox/users", method: .get) { String(buffer: $0.body) }
                let users = try JSONSerialization.jsonObject(with: Data(usersText.utf8)) as? [[String: Any]] ?? []
                let statsText = try await sandbox.execute(uri: "/_sandbox/stats", method: .get) { String(buffer: $0.body) }
                let stats = try JSONSerialization.jsonObject(with: Data(statsText.utf8)) as? [String: Any] ?? [:]
                let requests = stats["requests_total"] as? Int ?? -1
                let dataPoints = (stats["data_points"] as? [String: Any])?["total"] as? Int ?? -1

                // Every login: exactly one profile with that external id, holding the visitor's events.
                let byExternalId = Dictionary(grouping: users.compactMap { $0["external_id"] as? String }, by: { $0 })
                for customer in traffic.logins.values {
                    #expect(byExternalId[customer]?.count == 1, "customer \(customer)")
                }
                #expect(byExternalId.count == Set(traffic.logins.values).count)
                let aliasOnly = users.filter { $0["external_id"] is NSNull || $0["external_id"] == nil }
                switch mode {
                case .hold:
                    #expect(aliasOnly.isEmpty, "hold mode sends nothing for visitors who never log in")
                case .forward:
                    // Alias profiles of visitors who logged in were merged; the others remain, one each.
                    #expect(aliasOnly.count <= traffic.events.count / 10 - traffic.logins.count)
                    let labels = aliasOnly.flatMap { ($0["user_aliases"] as? [[String: Any]] ?? []).compactMap { $0["alias_name"] as? String } }
                    #expect(Set(labels).isDisjoint(with: traffic.logins.keys), "a logged-in visitor's alias profile was left unmerged")
                }
                print(String(format: "replay %@: %d events, %d visitors, %d logins; processor %.0f events/s (%.2f s); %d operations; Braze requests %d, data points %d, profiles %d",
                             mode.rawValue, traffic.events.count, traffic.events.count / 10, traffic.logins.count, Double(traffic.events.count) / seconds, seconds,
                             operations, requests, dataPoints, users.count))
            }
        } catch {
            try await httpClient.shutdown()
            throw error
        }
        try await httpClient.shutdown()
    }
}

import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Synchronization
import Testing
@testable import ShopTrail

/// The throttle math, and `ShopifyAdminClient` against a scripted Admin API over real sockets.
@Suite struct ShopifyAdminClientTests {
    static let token = "shpat_test_token_9f8e7d6c5b4a"
    static let shop = "stub-shop.myshopify.com"

    // MARK: bucket math

    static func status(_ current: Double, max: Double = 1_000, rate: Double = 50) -> ShopifyThrottleStatus {
        ShopifyThrottleStatus(maximumAvailable: max, currentlyAvailable: current, restoreRate: rate)
    }

    @Test func anUnknownBucketLetsTheFirstQueryGo() {
        let bucket = ShopifyThrottleBucket()
        #expect(bucket.estimatedAvailable(at: 0) == nil)
        #expect(bucket.waitMillis(for: 10_000, at: 0) == 0)
    }

    @Test func theBucketRefillsAtTheRestoreRateUpToItsSize() {
        var bucket = ShopifyThrottleBucket()
        bucket.complete(reserved: 0, status: Self.status(100), at: 10_000)
        #expect(bucket.estimatedAvailable(at: 10_000) == 100)
        #expect(bucket.estimatedAvailable(at: 12_000) == 200)
        #expect(bucket.estimatedAvailable(at: 100_000) == 1_000, "capped at maximumAvailable")
        // 300 points needed, 100 there, 50 a second: 4 s; 2 s later, 2 s more.
        #expect(bucket.waitMillis(for: 300, at: 10_000) == 4_000)
        #expect(bucket.waitMillis(for: 300, at: 12_000) == 2_000)
        #expect(bucket.waitMillis(for: 300, at: 14_000) == 0)
        #expect(bucket.waitMillis(for: 100, at: 10_000) == 0)
        // Fractions round up, never down (a query sent early would be throttled).
        #expect(bucket.waitMillis(for: 100.01, at: 10_000) == 1)
    }

    @Test func queriesInFlightCountAgainstTheBucketUntilAnswered() {
        var bucket = ShopifyThrottleBucket()
        bucket.complete(reserved: 0, status: Self.status(500), at: 0)
        bucket.reserve(300)
        #expect(bucket.inFlight == 300)
        #expect(bucket.estimatedAvailable(at: 0) == 200)
        #expect(bucket.waitMillis(for: 300, at: 0) == 2_000, "a concurrent query waits for the first one's points")
        // The answer reports what Shopify has left; our reservation is released.
        bucket.complete(reserved: 300, status: Self.status(260), at: 1_000)
        #expect(bucket.inFlight == 0)
        #expect(bucket.estimatedAvailable(at: 1_000) == 260)
        // An answer without a status (a failure) counts the points as spent.
        bucket.reserve(100)
        bucket.complete(reserved: 100, status: nil, at: 2_000)
        #expect(bucket.estimatedAvailable(at: 2_000) == 210.0, "260 + 50 restored - 100 spent")
    }

    @Test func aCostAboveTheBucketWaitsForAFullBucketAndNoRefillPollsEverySecond() {
        var bucket = ShopifyThrottleBucket()
        bucket.complete(reserved: 0, status: Self.status(900, max: 1_000, rate: 100), at: 0)
        #expect(bucket.waitMillis(for: 5_000, at: 0) == 1_000, "waits for 1,000 (the bucket's size), not 5,000")
        bucket.complete(reserved: 0, status: Self.status(0, rate: 0), at: 0)
        #expect(bucket.waitMillis(for: 10, at: 0) == 1_000)
    }

    // MARK: scripted Admin API

    /// One scripted answer.
    struct Answer: Sendable {
        var status = 200
        var headers: [String: String] = [:]
        var body: String
    }

    /// The stub's answers (in order) and the requests it got.
    final class Script: Sendable {
        private let state: Mutex<(answers: [Answer], requests: [(body: String, token: String?)])>
        init(_ answers: [Answer]) { state = Mutex((answers, [])) }
        func next(body: String, token: String?) -> Answer {
            state.withLock { state in
                state.requests.append((body, token))
                return state.answers.isEmpty ? Answer(status: 500, body: #"{"errors":"script exhausted"}"#) : state.answers.removeFirst()
            }
        }
        var requests: [(body: String, token: String?)] { state.withLock { $0.requests } }
    }

    /// A manual clock whose sleeps advance it, recording each wait.
    final class SleepRecorder: Sendable {
        let clock = ManualClock(1_000_000)
        private let waits = Mutex<[EpochMillis]>([])
        var recorded: [EpochMillis] { waits.withLock { $0 } }
        var sleep: ShopifyAdminClient.Sleep {
            { [self] millis in
                waits.withLock { $0.append(millis) }
                clock.set(clock.now() + millis)
            }
        }
    }

    static func answer(data: String, requested: Double = 10, actual: Double = 8, current: Double = 990, max: Double = 1_000, rate: Double = 50) -> Answer {
        Answer(body: #"{"data":\#(data),"extensions":{"cost":{"requestedQueryCost":\#(requested),"actualQueryCost":\#(actual),"throttleStatus":{"maximumAvailable":\#(max),"currentlyAvailable":\#(current),"restoreRate":\#(rate)}}}}"#)
    }

    static func throttled(current: Double, requested: Double = 10, max: Double = 1_000, rate: Double = 50) -> Answer {
        Answer(body: #"{"errors":[{"message":"Throttled","extensions":{"code":"THROTTLED","documentation":"https://shopify.dev/api/usage/rate-limits"}}],"extensions":{"cost":{"requestedQueryCost":\#(requested),"actualQueryCost":null,"throttleStatus":{"maximumAvailable":\#(max),"currentlyAvailable":\#(current),"restoreRate":\#(rate)}}}}"#)
    }

    static func withStub(_ answers: [Answer], settings: ShopifyAdminClient.Settings = .init(),
                         _ body: @escaping @Sendable (ShopifyAdminClient, Script, SleepRecorder) async throws -> Void) async throws {
        let script = Script(answers)
        let router = Router()
        router.post("/admin/api/2025-10/graphql.json") { request, _ -> Response in
            var request = request
            let bytes = try await request.collectBody(upTo: 1 << 20)
            let answer = script.next(body: String(buffer: bytes), token: request.headers[HTTPField.Name("X-Shopify-Access-Token")!])
            var headers: HTTPFields = [.contentType: "application/json"]
            for (name, value) in answer.headers { if let field = HTTPField.Name(name) { headers[field] = value } }
            return Response(status: .init(code: answer.status), headers: headers, body: .init(byteBuffer: ByteBuffer(string: answer.body)))
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        let httpClient = HTTPClient(eventLoopGroupProvider: .singleton)
        do {
            try await app.test(.live) { test in
                let port = try #require(test.port)
                let shop = ShopConfig(domain: shop, writeKey: "pk", allowedOrigins: [], snippetSecret: nil,
                                      shopify: ShopifyConfig(adminAPIURL: "http://127.0.0.1:\(port)", adminAccessToken: Secret(token)), braze: BrazeConfig())
                let recorder = SleepRecorder()
                let client = try ShopifyAdminClient(shop: shop, httpClient: httpClient, logger: Fixtures.logger(), settings: settings,
                                                    clock: recorder.clock, sleep: recorder.sleep)
                try await body(client, script, recorder)
            }
        } catch {
            try await httpClient.shutdown()
            throw error
        }
        try await httpClient.shutdown()
    }

    @Test func aQueryReturnsExactDataAndCostAndSendsTheToken() async throws {
        try await Self.withStub([Self.answer(data: #"{"product":{"id":"gid://shopify/Product/8123456789012345678","legacyResourceId":8123456789012345679}}"#)]) { client, script, _ in
            let response = try await client.query("query($id: ID!) { product(id: $id) { id legacyResourceId } }", variables: ["id": .string("gid://shopify/Product/1")])
            #expect(response.value(at: ["product", "legacyResourceId"]) == .number("8123456789012345679"), "ids beyond 2^53 keep every digit")
            #expect(response.cost?.requestedQueryCost == 10 && response.cost?.actualQueryCost == 8)
            #expect(response.cost?.throttleStatus == ShopifyThrottleStatus(maximumAvailable: 1_000, currentlyAvailable: 990, restoreRate: 50))
            let request = try #require(script.requests.first)
            #expect(request.token == Self.token)
            #expect(request.body.contains(#""variables":{"id":"gid://shopify/Product/1"}"#))
            #expect(client.stats.requests == 1 && client.stats.queries == 1 && client.stats.totalCost == 8 && client.stats.throttled == 0)
        }
    }

    @Test func aQueryWaitsForTheBucketToHoldItsLastRequestedCost() async throws {
        // After the first answer: 20 of 100 points left, 10 a second; the query asks 50 → wait 3 s.
        let answers = [Self.answer(data: "{}", requested: 50, current: 20, max: 100, rate: 10), Self.answer(data: "{}", requested: 50, current: 40, max: 100, rate: 10),
                       Self.answer(data: "{}", requested: 45, current: 0, max: 100, rate: 10)]
        try await Self.withStub(answers) { client, _, sleeps in
            _ = try await client.query("{ shop { name } }")
            _ = try await client.query("{ shop { name } }")
            #expect(sleeps.recorded == [3_000])
            #expect(client.stats.waitedMillis == 3_000 && client.stats.throttled == 0)
            // A query never sent before uses the caller's estimate: 45 asked, 40 there, 10 a second → 0.5 s.
            _ = try await client.query("{ shop { id } }", estimatedCost: 45)
            #expect(sleeps.recorded == [3_000, 500])
        }
    }

    @Test func throttledAnswersWaitForTheRefillAndTryAgain() async throws {
        let answers = [Self.throttled(current: 5, requested: 25, rate: 10), Self.answer(data: #"{"ok":true}"#)]
        try await Self.withStub(answers) { client, script, sleeps in
            let response = try await client.query("{ ok }")
            #expect(response.data == .object(JSONObject([("ok", .bool(true))])))
            #expect(sleeps.recorded == [2_000], "(25 - 5) / 10 per second")
            #expect(client.stats.throttled == 1 && client.stats.requests == 2 && script.requests.count == 2)
        }
    }

    @Test func http429HonoursRetryAfter() async throws {
        let answers = [Answer(status: 429, headers: ["Retry-After": "2.5"], body: #"{"errors":"Exceeded 2 calls per second"}"#), Self.answer(data: "{}")]
        try await Self.withStub(answers) { client, _, sleeps in
            _ = try await client.query("{ shop { name } }")
            #expect(sleeps.recorded == [2_500])
            #expect(client.stats.throttled == 1)
        }
    }

    @Test func serverErrorsAreRetriedWithBackoffThenGiveUp() async throws {
        var settings = ShopifyAdminClient.Settings()
        settings.maxAttempts = 3
        let answers = [Answer(status: 503, body: "unavailable"), Answer(status: 502, body: "bad gateway"), Self.answer(data: "{}"),
                       Answer(status: 500, body: "x"), Answer(status: 500, body: "x"), Answer(status: 500, body: "x")]
        try await Self.withStub(answers, settings: settings) { client, _, sleeps in
            _ = try await client.query("{ a }")
            #expect(sleeps.recorded.count == 2)
            #expect((800...1_200).contains(sleeps.recorded[0]) && (1_600...2_400).contains(sleeps.recorded[1]), "\(sleeps.recorded)")
            await #expect(throws: ShopifyAdminError.unavailable(shop: Self.shop, reason: "HTTP 500", attempts: 3)) { _ = try await client.query("{ b }") }
            #expect(client.stats.retries == 5)
        }
    }

    @Test func aRefusedTokenNamesTheShopNeverTheToken() async throws {
        try await Self.withStub([Answer(status: 401, body: #"{"errors":"[API] Invalid API key or access token (unrecognized login or wrong password) \#(Self.token)"}"#)]) { client, _, _ in
            do {
                _ = try await client.query("{ shop { name } }")
                Issue.record("expected an error")
            } catch let error as ShopifyAdminError {
                #expect(error == .unauthorized(shop: Self.shop, status: 401))
                #expect(error.description.contains(Self.shop) && !error.description.contains(Self.token))
            }
        }
    }

    @Test func graphQLErrorsWithoutDataThrowAndPartialDataReturnsTheErrors() async throws {
        let answers = [
            Answer(body: #"{"errors":[{"message":"Field 'nope' doesn't exist on type 'Shop'","locations":[{"line":1,"column":9}],"path":["query","shop","nope"],"extensions":{"code":"undefinedField"}}]}"#),
            Answer(body: #"{"data":{"shop":{"name":"S"},"orders":null},"errors":[{"message":"Access denied for orders field.","path":["orders"],"extensions":{"code":"ACCESS_DENIED"}}]}"#),
            Answer(status: 404, body: "Not Found"),
            Answer(body: "<html>proxy error</html>"),
        ]
        try await Self.withStub(answers) { client, _, _ in
            await #expect(throws: ShopifyAdminError.graphQL(shop: Self.shop, errors: [GraphQLError(message: "Field 'nope' doesn't exist on type 'Shop'", code: "undefinedField", path: "query.shop.nope")])) {
                _ = try await client.query("{ shop { nope } }")
            }
            let partial = try await client.query("{ shop { name } orders(first: 1) { nodes { id } } }")
            #expect(partial.errors.map(\.code) == ["ACCESS_DENIED"])
            #expect(partial.value(at: ["shop", "name"]) == .string("S"))
            await #expect(throws: ShopifyAdminError.http(shop: Self.shop, status: 404, message: "Not Found")) { _ = try await client.query("{ x }") }
            await #expect(throws: ShopifyAdminError.self) { _ = try await client.query("{ y }") }
        }
    }

    @Test func paginateFollowsCursorsAndStopsOnTheLastPage() async throws {
        func page(_ ids: [Int], next: String?) -> Answer {
            let nodes = ids.map { #"{"id":"gid://shopify/Product/\#($0)"}"# }.joined(separator: ",")
            let info = next.map { #"{"hasNextPage":true,"endCursor":"\#($0)"}"# } ?? #"{"hasNextPage":false,"endCursor":"last"}"#
            return Self.answer(data: #"{"products":{"pageInfo":\#(info),"nodes":[\#(nodes)]}}"#)
        }
        try await Self.withStub([page([1, 2], next: "c1"), page([3], next: "c2"), page([4], next: nil)]) { client, script, _ in
            var seen: [String] = []
            let pages = try await client.paginate("query($cursor: String) { products(first: 2, after: $cursor) { pageInfo { hasNextPage endCursor } nodes { id } } }",
                                                  connection: ["products"]) { page in
                seen += page.nodes.compactMap { $0.objectValue?["id"]?.stringValue }
            }
            #expect(pages == 3)
            #expect(seen == (1...4).map { "gid://shopify/Product/\($0)" })
            let cursors = script.requests.map { $0.body.contains(#""cursor":null"#) ? "null" : $0.body.contains(#""cursor":"c1""#) ? "c1" : $0.body.contains(#""cursor":"c2""#) ? "c2" : "?" }
            #expect(cursors == ["null", "c1", "c2"])
        }
    }

    @Test func aShopWithoutTokenIsNotConfigured() throws {
        let httpClient = HTTPClient(eventLoopGroupProvider: .singleton)
        defer { try? httpClient.syncShutdown() }
        #expect(throws: ShopifyAdminError.notConfigured(shop: "a-shop.myshopify.com", reason: "no shopify.admin_access_token (or admin_access_token_env)")) {
            _ = try ShopifyAdminClient(shop: Fixtures.shopA, httpClient: httpClient, logger: Fixtures.logger())
        }
    }
}

import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Synchronization

/// A GraphQL client for one shop's Admin API that stays inside Shopify's rate limit.
///
/// - **Throttling.** Every answer's `extensions.cost.throttleStatus` updates an estimate of the shop's
///   leaky bucket (`ShopifyThrottleBucket`). Before a query leaves, the client waits until the estimate
///   holds the query's expected cost: the `requestedQueryCost` Shopify reported for the same query
///   text last time, else the caller's `estimatedCost`, else `Settings.defaultCost`. So it normally
///   never gets THROTTLED. If it still does (HTTP 200 with `errors[].extensions.code == "THROTTLED"`,
///   or HTTP 429), it waits (`Retry-After`, else the computed refill time) and sends again.
/// - **Failures.** 5xx answers and transport errors are retried with exponential backoff
///   (`Settings.maxAttempts`); 401/403 end with `ShopifyAdminError.unauthorized` naming the shop.
///   GraphQL errors without data end with `.graphQL`. The access token is never logged, and is
///   scrubbed from any text taken from an answer.
/// - **Numbers.** Answers are parsed with `JSONParser`, so ids beyond 2^53 keep every digit.
///
/// One instance per shop; it is `Sendable` and may be shared by concurrent tasks (they share the bucket).
/// Used by `shoptrail catalog sync`, and meant for any Admin API reader (e.g. the 90-day backfill).
public final class ShopifyAdminClient: Sendable {
    /// Retry and throttle knobs.
    public struct Settings: Sendable {
        /// Attempts per query for 5xx answers and transport failures (the first one included).
        public var maxAttempts = 4
        /// Backoff after a failure: base × 2^(attempt-1), ±20 % jitter, capped.
        public var backoffBaseMillis: EpochMillis = 1_000
        public var backoffMaxMillis: EpochMillis = 16_000
        /// Answers that may be THROTTLED in a row before giving up.
        public var maxThrottledAttempts = 20
        /// Wait after a THROTTLED answer when neither `Retry-After` nor the bucket says how long (Shopify's clients: 1 s).
        public var throttleFallbackMillis: EpochMillis = 1_000
        /// Expected cost of a query never seen before when the caller gives no estimate.
        public var defaultCost: Double = 50
        /// Timeout of one HTTP exchange.
        public var timeout: Duration = .seconds(30)
        /// Larger answers are refused (a bulk result is downloaded elsewhere, not through `query`).
        public var maxAnswerBytes = 32 * 1024 * 1024
        /// How often `runBulkQuery` polls the operation.
        public var bulkPollInterval: Duration = .seconds(1)
        /// How long `runBulkQuery` waits for the operation to finish.
        public var bulkTimeout: Duration = .seconds(6 * 3600)
        /// Timeout of a bulk result download; a line longer than `maxBulkLineBytes` fails it.
        public var bulkDownloadTimeout: Duration = .seconds(1800)
        public var maxBulkLineBytes = 16 * 1024 * 1024

        public init() {}
    }

    /// How the client sleeps (tests inject one that advances a manual clock).
    public typealias Sleep = @Sendable (EpochMillis) async throws -> Void

    public let shopDomain: String
    /// `https://{shop}/admin/api/{version}/graphql.json` (or the configured `admin_api_url`).
    public let endpoint: String
    private let token: Secret
    let httpClient: HTTPClient
    let logger: Logger
    let settings: Settings
    let clock: any WallClock
    let sleep: Sleep
    private let state = Mutex(State())

    private struct State {
        var bucket = ShopifyThrottleBucket()
        /// Last `requestedQueryCost` per query text.
        var costs: [String: Double] = [:]
        var stats = ShopifyAdminStats()
    }

    /// A client for `shop`'s Admin API (`shop.shopify.adminAPIURL`, `apiVersion`, `adminAccessToken`).
    /// `httpClient` is shared and owned by the caller, who shuts it down. Throws `.notConfigured`
    /// when the shop has no access token.
    public init(shop: ShopConfig, httpClient: HTTPClient, logger: Logger, settings: Settings = .init(),
                clock: any WallClock = SystemClock(),
                sleep: @escaping Sleep = { try await Task.sleep(for: .milliseconds($0)) }) throws(ShopifyAdminError) {
        guard let token = shop.shopify.adminAccessToken, !token.value.isEmpty else {
            throw .notConfigured(shop: shop.domain, reason: "no shopify.admin_access_token (or admin_access_token_env)")
        }
        self.shopDomain = shop.domain
        var url = shop.shopify.graphQLURL(shop: shop.domain)
        if shop.shopify.adminAPIURL?.hasSuffix("/") == true {
            url = url.replacingOccurrences(of: "//admin/api/", with: "/admin/api/")
        }
        self.endpoint = url
        self.token = token
        self.httpClient = httpClient
        self.logger = logger
        self.settings = settings
        self.clock = clock
        self.sleep = sleep
    }

    /// What the client has done so far.
    public var stats: ShopifyAdminStats { state.withLock { $0.stats } }

    /// The current bucket estimate (for progress output and tests).
    public var bucket: ShopifyThrottleBucket { state.withLock { $0.bucket } }

    /// Runs one query (or mutation) and returns its `data` and cost.
    ///
    /// - Parameters:
    ///   - query: the GraphQL document; its text also keys the remembered cost.
    ///   - variables: the `variables` object.
    ///   - estimatedCost: the expected `requestedQueryCost` when this text was never sent by this client.
    /// - Throws: `ShopifyAdminError` (never with the token in its text), or `CancellationError`.
    public func query(_ query: String, variables: [String: JSONValue] = [:], estimatedCost: Double? = nil) async throws -> GraphQLResponse {
        let body = Array(JSONValue.object(JSONObject([
            ("query", .string(query)),
            ("variables", .object(JSONObject(variables.sorted { $0.key < $1.key }.map { (key: $0.key, value: $0.value) }))),
        ])).serialized.utf8)
        var failures = 0
        var throttles = 0
        while true {
            let cost = try await waitForPoints(query: query, estimatedCost: estimatedCost)
            let outcome = await send(body)
            switch outcome {
            case .answer(let status, let headers, let bytes):
                let parsed = parse(bytes)
                let reported = parsed?.cost
                settle(query: query, reserved: cost, cost: reported)
                if status == 401 || status == 403 {
                    logger.error("shopify admin api refused the access token", metadata: ["shop": .string(shopDomain), "status": "\(status)"])
                    throw ShopifyAdminError.unauthorized(shop: shopDomain, status: status)
                }
                if status == 429 || (status == 200 && parsed?.isThrottled == true) {
                    throttles += 1
                    state.withLock { $0.stats.throttled += 1 }
                    guard throttles < settings.maxThrottledAttempts else { throw ShopifyAdminError.throttled(shop: shopDomain, attempts: throttles) }
                    let wait = throttleWait(retryAfter: headers.first(name: "Retry-After"), requested: reported?.requestedQueryCost ?? cost)
                    logger.notice("shopify admin api throttled; waiting", metadata: ["shop": .string(shopDomain), "wait_ms": "\(wait)"])
                    try await sleep(wait)
                    continue
                }
                if status >= 500 || status == 408 {
                    failures += 1
                    try await backoff(after: failures, reason: "HTTP \(status)")
                    continue
                }
                guard (200..<300).contains(status) else {
                    throw ShopifyAdminError.http(shop: shopDomain, status: status, message: excerpt(bytes, json: parsed))
                }
                guard let parsed else {
                    throw ShopifyAdminError.invalidResponse(shop: shopDomain, reason: "not a JSON object: " + excerpt(bytes, json: nil))
                }
                if parsed.response.data == .null {
                    if parsed.response.errors.isEmpty {
                        throw ShopifyAdminError.invalidResponse(shop: shopDomain, reason: "neither data nor errors")
                    }
                    throw ShopifyAdminError.graphQL(shop: shopDomain, errors: parsed.response.errors)
                }
                state.withLock {
                    $0.stats.queries += 1
                    $0.stats.totalCost += reported?.actualQueryCost ?? reported?.requestedQueryCost ?? 0
                }
                logger.debug("shopify admin query", metadata: [
                    "shop": .string(shopDomain), "requested_cost": "\(reported?.requestedQueryCost ?? -1)",
                    "actual_cost": "\(reported?.actualQueryCost ?? -1)", "available": "\(reported?.throttleStatus?.currentlyAvailable ?? -1)",
                ])
                return parsed.response
            case .failed(let reason):
                settle(query: query, reserved: cost, cost: nil)
                failures += 1
                try await backoff(after: failures, reason: reason)
            }
        }
    }

    /// Counts a query's stats without the HTTP layer (bulk downloads are not GraphQL requests).
    func record(_ update: (inout ShopifyAdminStats) -> Void) {
        state.withLock { update(&$0.stats) }
    }

    /// Reads every page of a connection: runs `query` with `$cursor` (the variable named `cursorVariable`)
    /// set to null, then to each page's `pageInfo.endCursor` while `pageInfo.hasNextPage` is true, and
    /// hands each page to `page` before asking for the next (so the caller's work paces the reading).
    ///
    /// - Parameters:
    ///   - connection: the keys from `data` to the connection, e.g. `["products"]`; the connection must
    ///     select `pageInfo { hasNextPage endCursor }` and `nodes` (or `edges { node }`).
    ///   - startCursor: resume after this cursor (nil: from the start).
    ///   - maxPages: stop after this many pages (nil: all).
    /// - Returns: the number of pages read.
    @discardableResult
    public func paginate(_ query: String, variables: [String: JSONValue] = [:], connection: [String], cursorVariable: String = "cursor",
                         startCursor: String? = nil, estimatedCost: Double? = nil, maxPages: Int? = nil,
                         page: (GraphQLPage) async throws -> Void) async throws -> Int {
        var variables = variables
        variables[cursorVariable] = startCursor.map(JSONValue.string) ?? .null
        var number = 0
        var seen = Set<String>()
        while maxPages.map({ number < $0 }) ?? true {
            let response = try await self.query(query, variables: variables, estimatedCost: estimatedCost)
            guard let object = response.value(at: connection)?.objectValue else {
                throw ShopifyAdminError.invalidResponse(shop: shopDomain, reason: "no connection at data.\(connection.joined(separator: "."))")
            }
            number += 1
            let nodes = object["nodes"]?.arrayValue
                ?? object["edges"]?.arrayValue?.compactMap { $0.objectValue?["node"] } ?? []
            try await page(GraphQLPage(number: number, nodes: nodes, connection: object, response: response))
            let info = object["pageInfo"]?.objectValue
            guard info?["hasNextPage"] == .bool(true), let cursor = info?["endCursor"]?.stringValue else { break }
            // A cursor seen before would loop forever.
            guard seen.insert(cursor).inserted else {
                throw ShopifyAdminError.invalidResponse(shop: shopDomain, reason: "pagination returned cursor \(cursor) twice")
            }
            variables[cursorVariable] = .string(cursor)
        }
        return number
    }

    // MARK: throttle

    /// Waits until the bucket holds the query's expected cost, then reserves it; returns the reservation.
    private func waitForPoints(query: String, estimatedCost: Double?) async throws -> Double {
        while true {
            let now = clock.now()
            let (wait, cost): (EpochMillis, Double) = state.withLock { state in
                let cost = state.costs[query] ?? estimatedCost ?? settings.defaultCost
                let wait = state.bucket.waitMillis(for: cost, at: now)
                if wait == 0 { state.bucket.reserve(cost) }
                return (wait, cost)
            }
            if wait == 0 { return cost }
            state.withLock { $0.stats.waitedMillis += wait }
            if wait >= 1_000 {
                logger.info("waiting for the shopify query cost bucket", metadata: ["shop": .string(shopDomain), "wait_ms": "\(wait)", "cost": "\(cost)"])
            }
            try await sleep(wait)
        }
    }

    /// Records an answer (or its absence) in the bucket and remembers the query's requested cost.
    private func settle(query: String, reserved: Double, cost: ShopifyQueryCost?) {
        let now = clock.now()
        state.withLock { state in
            state.bucket.complete(reserved: reserved, status: cost?.throttleStatus, at: now)
            if let requested = cost?.requestedQueryCost { state.costs[query] = requested }
        }
    }

    /// The wait after a THROTTLED answer: `Retry-After`, else the time the bucket needs for the cost, else 1 s.
    private func throttleWait(retryAfter: String?, requested: Double) -> EpochMillis {
        if let header = retryAfter.flatMap({ Double($0.trimmingCharacters(in: .whitespaces)) }), header.isFinite, header >= 0 {
            return max(1, Int64.boundedMillis(header * 1000))
        }
        let now = clock.now()
        let computed = state.withLock { $0.bucket.waitMillis(for: requested, at: now) }
        return computed > 0 ? computed : settings.throttleFallbackMillis
    }

    private func backoff(after failures: Int, reason: String) async throws {
        state.withLock { $0.stats.retries += 1 }
        guard failures < settings.maxAttempts else {
            throw ShopifyAdminError.unavailable(shop: shopDomain, reason: reason, attempts: failures)
        }
        let exponential = min(settings.backoffMaxMillis, settings.backoffBaseMillis << min(failures - 1, 20))
        let wait = EpochMillis(Double(exponential) * Double.random(in: 0.8...1.2))
        logger.warning("shopify admin api failed; retrying", metadata: ["shop": .string(shopDomain), "reason": .string(reason), "wait_ms": "\(wait)"])
        try await sleep(wait)
    }

    // MARK: HTTP

    private enum Outcome {
        case answer(status: Int, headers: HTTPHeaders, body: [UInt8])
        case failed(String)
    }

    private func send(_ body: [UInt8]) async -> Outcome {
        var request = HTTPClientRequest(url: endpoint)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "X-Shopify-Access-Token", value: token.value)
        request.body = .bytes(body)
        state.withLock { $0.stats.requests += 1 }
        do {
            let deadline = NIODeadline.now() + BrazeClient.timeAmount(settings.timeout)
            let response = try await httpClient.execute(request, deadline: deadline)
            let buffer = try await response.body.collect(upTo: settings.maxAnswerBytes)
            return .answer(status: Int(response.status.code), headers: response.headers, body: Array(buffer.readableBytesView))
        } catch is CancellationError {
            return .failed("cancelled")
        } catch {
            return .failed(scrub("\(error)"))
        }
    }

    private struct Parsed {
        var response: GraphQLResponse
        var cost: ShopifyQueryCost?
        var isThrottled: Bool
    }

    /// The answer's data, errors and cost; nil when the body is not a JSON object.
    private func parse(_ bytes: [UInt8]) -> Parsed? {
        guard let root = (try? JSONParser.parse(bytes, maxDepth: 128))?.objectValue else { return nil }
        let errors: [GraphQLError] = (root["errors"]?.arrayValue ?? []).map { entry in
            guard let object = entry.objectValue else { return GraphQLError(message: scrub(entry.stringValue ?? entry.serialized)) }
            let path = object["path"]?.arrayValue?.map { $0.stringValue ?? $0.serialized }.joined(separator: ".")
            return GraphQLError(message: scrub(object["message"]?.stringValue ?? ""), code: object["extensions"]?.objectValue?["code"]?.stringValue, path: path)
        }
        let cost = root["extensions"]?.objectValue?["cost"]?.objectValue.map { cost -> ShopifyQueryCost in
            let throttle = cost["throttleStatus"]?.objectValue
            var status: ShopifyThrottleStatus?
            if let maximum = throttle?["maximumAvailable"]?.doubleValue, let current = throttle?["currentlyAvailable"]?.doubleValue,
               let rate = throttle?["restoreRate"]?.doubleValue {
                status = ShopifyThrottleStatus(maximumAvailable: maximum, currentlyAvailable: current, restoreRate: rate)
            }
            return ShopifyQueryCost(requestedQueryCost: cost["requestedQueryCost"]?.doubleValue, actualQueryCost: cost["actualQueryCost"]?.doubleValue,
                                    throttleStatus: status)
        }
        let throttled = errors.contains { $0.code == "THROTTLED" }
        return Parsed(response: GraphQLResponse(data: root["data"] ?? .null, errors: errors, cost: cost), cost: cost, isThrottled: throttled)
    }

    /// The start of an error answer, for messages: GraphQL error texts, else the raw body.
    private func excerpt(_ bytes: [UInt8], json: Parsed?) -> String {
        if let errors = json?.response.errors, !errors.isEmpty { return errors.map(\.description).joined(separator: "; ") }
        let text = String(decoding: bytes.prefix(300), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return scrub(text.isEmpty ? "(empty body)" : text)
    }

    private func scrub(_ text: String) -> String {
        text.replacingOccurrences(of: token.value, with: "<redacted>")
    }
}

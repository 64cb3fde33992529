import Foundation
import Hummingbird
import NIOCore

/// The operator's view behind the admin token: `GET /dashboard` (HTML; a browser sends the token as
/// the Basic-auth password) and `GET /v1/admin/status` (JSON): the outbox and the abandonment
/// timers and the backfill job per shop.
public struct DashboardController: Sendable {
    public let config: ShopTrailConfig
    public let states: any StateTransactions
    public let outbox: any Outbox
    public let processorLog: any ProcessorLog
    public let backfillJobs: any BackfillJobStore
    public let adminToken: Secret?
    public let clock: any WallClock

    public init(config: ShopTrailConfig, states: any StateTransactions, outbox: any Outbox, processorLog: any ProcessorLog,
                backfillJobs: any BackfillJobStore, adminToken: Secret?, clock: any WallClock) {
        self.config = config
        self.states = states
        self.outbox = outbox
        self.processorLog = processorLog
        self.backfillJobs = backfillJobs
        self.adminToken = adminToken
        self.clock = clock
    }

    public func addRoutes<Context: RequestContext>(to router: Router<Context>) {
        router.get("/v1/admin/status") { request, _ in
            try self.authorize(request, basic: false)
            let shops = try await self.load()
            let body = JSONValue.object(JSONObject([("shops", .array(shops.map { shop in
                .object(JSONObject([
                    ("shop", .string(shop.abandonment.shop)),
                    ("outbox", .object(JSONObject([
                        ("pending", .number(String(shop.outbox.pending))), ("in_flight", .number(String(shop.outbox.inFlight))),
                        ("dead", .number(String(shop.outbox.dead))),
                        ("oldest_pending_age_ms", shop.outbox.oldestPendingAgeMillis.map { .number(String($0)) } ?? .null),
                    ]))),
                    ("processor", .object(JSONObject([("quarantined_events", .number(String(shop.quarantined)))]))),
                    ("abandonment", shop.abandonment.json),
                    ("backfill", shop.backfill.json),
                ]))
            }))]))
            return Self.response(body.serialized, type: "application/json")
        }
        router.get("/dashboard") { request, _ in
            try self.authorize(request, basic: true)
            var response = Self.response(Self.page(try await self.load(), now: self.clock.now()), type: "text/html; charset=utf-8")
            response.headers[.contentSecurityPolicy] = Self.pagePolicy
            return response
        }
    }

    struct ShopStatus {
        var outbox: OutboxStatus
        var abandonment: AbandonmentStatus
        var backfill: BackfillJob
        /// Events the processor set aside (`shoptrail processor status`).
        var quarantined: Int
    }

    private func load() async throws -> [ShopStatus] {
        let now = clock.now()
        var out: [ShopStatus] = []
        for status in try await AbandonmentStatus.load(database: states, config: config) {
            let quarantined = try await processorLog.quarantineCount(shop: status.shop)
            out.append(ShopStatus(outbox: try await outbox.status(shop: status.shop, now: now), abandonment: status,
                                  backfill: try await backfillJobs.job(shop: status.shop), quarantined: quarantined))
        }
        return out
    }

    private func authorize(_ request: Request, basic: Bool) throws(APIError) {
        try AdminToken.require(request, token: adminToken, basic: basic)
    }

    private static func response(_ body: String, type: String) -> Response {
        Response(status: .ok, headers: [.contentType: type, .cacheControl: "no-store"], body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    /// The page's only style block; its hash is the one style the page's CSP allows.
    static let style = "body{font:14px system-ui,sans-serif;margin:2em}table{border-collapse:collapse;margin:.5em 0 2em}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}th:first-child,td:first-child{text-align:left}"
    /// No script, no image, no frame, no form: the inline style alone (by hash), and never inside a frame.
    static let pagePolicy = AdminSecurityHeaders.policy(inlineStyle: style)

    /// A plain page: no script, no external asset.
    static func page(_ shops: [ShopStatus], now: EpochMillis) -> String {
        var html = """
            <!doctype html><html><head><meta charset="utf-8"><title>ShopTrail dashboard</title>
            <style>\(style)</style>
            </head><body><h1>ShopTrail</h1>
            """
        for shop in shops {
            let o = shop.outbox
            html += "<h2>\(escape(shop.abandonment.shop))</h2>"
            html += "<h3>Braze outbox</h3><table><tr><th>pending</th><th>in flight</th><th>dead</th><th>oldest pending</th><th>quarantined events</th></tr>"
            html += "<tr><td>\(o.pending)</td><td>\(o.inFlight)</td><td>\(o.dead)</td><td>\(o.oldestPendingAgeMillis.map { "\($0 / 1000) s" } ?? "-")</td>"
            html += "<td class=\"quarantined\">\(shop.quarantined)</td></tr></table>"
            html += "<h3>Abandonment timers</h3><table id=\"abandonment-\(escape(shop.abandonment.shop))\"><tr><th>kind</th><th>enabled</th><th>window</th><th>event</th><th>armed now</th><th>next due</th>"
            html += AbandonmentOutcome.allCases.map { "<th>\($0.rawValue)</th>" }.joined() + "</tr>"
            for kind in shop.abandonment.kinds {
                let due = kind.nextDueAt.map { "in \(max(0, $0 - now) / 1000) s" } ?? "-"
                html += "<tr class=\"\(kind.kind.rawValue)\"><td>\(kind.kind.rawValue)</td><td>\(kind.enabled ? "yes" : "no")</td><td>\(kind.windowMillis / 60_000) min</td>"
                html += "<td>\(escape(kind.eventName))</td><td class=\"armed_now\">\(kind.armedNow)</td><td>\(due)</td>"
                html += AbandonmentOutcome.allCases.map { "<td class=\"\($0.rawValue)\">\(kind.counts[$0] ?? 0)</td>" }.joined() + "</tr>"
            }
            html += "</table>"
            let b = shop.backfill
            html += "<h3>Backfill</h3><table id=\"backfill-\(escape(shop.abandonment.shop))\"><tr><th>state</th><th>phase</th><th>customers</th><th>orders</th><th>reason</th></tr>"
            html += "<tr><td>\(b.state.rawValue)</td><td>\(b.phase?.rawValue ?? "-")</td><td>\(b.counts.customersEnqueued) of \(b.counts.customersFetched)</td>"
            html += "<td>\(b.counts.ordersEnqueued) of \(b.counts.ordersFetched)</td><td>\(escape(b.reason ?? ""))</td></tr></table>"
        }
        return html + "</body></html>"
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}

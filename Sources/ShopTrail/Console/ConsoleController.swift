import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Mustache
import NIOCore
import ServiceLifecycle

/// The operator console under `/console`: login, overview, live events, person lookup, dead letters
/// and install check, server-rendered from the Mustache templates in `Templates/console/` (every
/// outside string goes through `{{ }}`, which escapes it). Pages accept the session cookie, or the
/// admin token as Bearer or Basic for scripts; forms need the session's CSRF token (or Bearer).
/// `/metrics` is here too, behind the admin token.
public struct ConsoleController: Sendable {
    public let config: ShopTrailConfig
    public let views: any OperatorViews
    public let states: any StateTransactions
    public let backfill: @Sendable (String) async throws -> BackfillJob
    public let signals: OperatorSignals
    public let adminToken: Secret?
    public let clock: any WallClock
    let session: ConsoleSession?
    let library: MustacheLibrary
    /// When the counters of this process started (the overview says so).
    let startedAt: EpochMillis

    /// Page types the install check looks for (Liquid's `request.page_type`, in each page view's context)
    /// and what to do when one is missing.
    static let installPages: [(id: String, label: String, pageType: String, missing: String)] = [
        ("home", "Home page", "index", "no home page seen in 24 h: is the snippet rendered from layout/theme.liquid?"),
        ("product", "Product page", "product", "no product page seen in 24 h: is the snippet in theme.liquid (not only in the home template)?"),
        ("collection", "Collection page", "collection", "no collection page seen in 24 h: open a collection on the storefront."),
        ("cart", "Cart", "cart", "no cart page seen in 24 h: open /cart on the storefront."),
        ("search", "Search", "search", "no search page seen in 24 h: search the storefront once."),
    ]
    static let installTopics = ["orders/create", "orders/paid", "checkouts/create", "checkouts/update", "customers/create", "customers/update"]

    public init(config: ShopTrailConfig, views: any OperatorViews, states: any StateTransactions,
                backfill: @escaping @Sendable (String) async throws -> BackfillJob, signals: OperatorSignals, adminToken: Secret?,
                clock: any WallClock) {
        self.config = config
        self.views = views
        self.states = states
        self.backfill = backfill
        self.signals = signals
        self.adminToken = adminToken
        self.clock = clock
        self.session = adminToken.map { ConsoleSession(adminToken: $0, secure: config.server.publicURL.lowercased().hasPrefix("https://")) }
        var library = MustacheLibrary()
        for (name, text) in ConsoleAssets.files where name.hasSuffix(".mustache") {
            // The templates are the binary's own: ConsoleTests renders every one of them.
            if let template = try? MustacheTemplate(string: text) { library.register(template, named: String(name.dropLast(9))) }
        }
        self.library = library
        self.startedAt = clock.now()
    }

    /// The console's policy: its own stylesheet and script, forms posting to itself, nothing else.
    static let policy = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

    public func addRoutes<Context: RequestContext>(to router: Router<Context>) {
        router.get("/console/console.css") { _, _ in self.asset("console.css", type: "text/css; charset=utf-8") }
        router.get("/console/console.js") { _, _ in self.asset("console.js", type: "text/javascript; charset=utf-8") }
        router.get("/console/login") { request, _ in try self.loginPage(request, error: nil) }
        router.post("/console/login") { request, _ in try await self.login(request) }
        router.post("/console/logout") { request, _ in
            _ = try await self.authorizeForm(request)
            let session = try self.requireSession()
            return self.redirect("/console/login", cookies: [session.setCookie(ConsoleSession.cookieName, "", maxAgeSeconds: 0)])
        }
        router.get("/console") { request, _ in try await self.page(request, "overview", nav: "nav_overview", title: "Overview") { shop in try await self.overview(shop) } }
        router.get("/console/person") { request, _ in
            try await self.page(request, "person", nav: "nav_person", title: "Person") { shop in try await self.person(shop, query: request.uri.queryParameters["q"].map(String.init)) }
        }
        router.get("/console/dead-letters") { request, _ in
            try await self.page(request, "dead-letters", nav: "nav_dead", title: "Dead letters") { shop in try await self.deadLetters(shop) }
        }
        router.get("/console/install") { request, _ in
            try await self.page(request, "install", nav: "nav_install", title: "Install check") { shop in try await self.install(shop) }
        }
        router.get("/console/live") { request, _ in try await self.page(request, "live", nav: "nav_live", title: "Live events") { _ in [:] } }
        router.get("/console/live/stream") { request, _ in try self.stream(request) }
        for action in ["retry", "discard", "retry-all", "discard-all"] {
            router.post("/console/dead-letters/\(action)") { request, _ in try await self.deadLetterAction(request, action: action) }
        }
        router.get("/metrics") { request, _ in
            try AdminToken.require(request, token: self.adminToken, basic: false)
            return try await self.metrics()
        }
    }

    // MARK: authentication

    private func requireSession() throws(APIError) -> ConsoleSession {
        guard let session else {
            throw APIError(.serviceUnavailable, "admin_disabled", "no admin token: set server.admin_token (or admin_token_env)")
        }
        return session
    }

    /// How a request proved it holds the token.
    enum Caller {
        case session(ConsoleSession.Established)
        case header
    }

    /// The session cookie, else the token as Bearer or Basic; nil when neither.
    func caller(_ request: Request) throws(APIError) -> Caller? {
        let session = try requireSession()
        if let established = session.session(in: request, now: clock.now()) {
            return .session(established)
        }
        if let token = adminToken, AdminToken.authorizesBearerOrBasic(request.headers[.authorization], token: token) { return .header }
        return nil
    }

    /// A form post: a session with its CSRF token, or a Bearer token (a browser never adds one by itself).
    /// Basic credentials are not enough: a browser replays them on a forged cross-site form.
    func authorizeForm(_ request: Request) async throws -> FormBody {
        let form = try await FormBody.read(request)
        let session = try requireSession()
        if let established = session.session(in: request, now: clock.now()) {
            guard session.checkCSRF(form["csrf"], session: established) else {
                throw APIError(.forbidden, "csrf_failed", "the form's CSRF token does not match the session: reload the page")
            }
            return form
        }
        if let token = adminToken, AdminToken.authorizes(request.headers[.authorization], token: token) { return form }
        throw Self.unauthorized()
    }

    func loginPage(_ request: Request, error: String?) throws -> Response {
        let session = try requireSession()
        let csrf = AdminToken.randomHex(bytes: 16)
        let next = Self.safeNext(request.uri.queryParameters["next"].map(String.init))
        let html = render("login", Self.present(["csrf": csrf, "next": next, "error": error]))
        var response = htmlResponse(html, status: error == nil ? .ok : .unauthorized)
        response.headers.append(HTTPField(name: .setCookie, value: session.setCookie(ConsoleSession.loginCookieName, csrf, maxAgeSeconds: 900)))
        return response
    }

    func login(_ request: Request) async throws -> Response {
        let session = try requireSession()
        let form = try await FormBody.read(request)
        // Double submit: the form's token must equal the cookie the login page set (a cross-site form has no such cookie).
        guard let sent = form["csrf"], sent.utf8.count >= 32,
              ConsoleSession.cookies(ConsoleSession.loginCookieName, in: request).contains(where: { ConstantTime.equal(Array($0.utf8), Array(sent.utf8)) }) else {
            throw APIError(.forbidden, "csrf_failed", "the login form expired: reload /console/login")
        }
        guard let token = form["token"], session.checkToken(token) else {
            return try loginPage(request, error: "That is not the admin token.")
        }
        let (cookieValue, _) = session.issue(now: clock.now())
        return redirect(Self.safeNext(form["next"]), cookies: [
            session.setCookie(ConsoleSession.cookieName, cookieValue, maxAgeSeconds: session.lifetimeMillis / 1000),
            session.setCookie(ConsoleSession.loginCookieName, "", maxAgeSeconds: 0),
        ])
    }

    /// The 401 of a console request without the session or the token: it names nothing but the way in.
    static func unauthorized() -> APIError {
        APIError(.unauthorized, "unauthorized", "log in at /console/login (or send the admin token as Authorization: Bearer)")
    }

    /// Only a console path: never an open redirect.
    static func safeNext(_ next: String?) -> String {
        guard let next, next.hasPrefix("/console"), !next.hasPrefix("//"), !next.contains("\\"), next.utf8.count < 512,
              !next.contains(where: { $0.isNewline }) else { return "/console" }
        return next
    }

    // MARK: pages

    /// Renders a page for the selected shop, or sends an anonymous browser to the login page.
    private func page(_ request: Request, _ template: String, nav: String, title: String,
                      _ load: @escaping @Sendable (ShopConfig) async throws -> [String: Any]) async throws -> Response {
        guard let caller = try caller(request) else {
            if request.headers[.authorization] != nil || request.headers[.accept]?.contains("text/html") == false {
                var error = Self.unauthorized()
                error.headers[.wwwAuthenticate] = #"Bearer realm="shoptrail-admin""#
                throw error
            }
            let next = request.uri.path + (request.uri.query.map { "?" + $0 } ?? "")
            return redirect("/console/login?next=" + (next.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "/console"), cookies: [])
        }
        guard let shop = selectedShop(request) else {
            throw APIError(.notFound, "unknown_shop", "no shop is configured under that domain")
        }
        var values = try await load(shop)
        values["title"] = title
        values["page"] = template
        values[nav] = true
        values["shop"] = shop.domain
        values["path"] = request.uri.path
        values["shops"] = config.shops.map { ["domain": $0.domain, "selected": $0.domain == shop.domain] as [String: Any] }
        if case .session(let established) = caller, let session { values["csrf"] = session.csrfToken(for: established) }
        if let notice = request.uri.queryParameters["notice"] { values["notice"] = String(notice.prefix(200)) }
        return htmlResponse(render(template, values), status: .ok)
    }

    private func selectedShop(_ request: Request) -> ShopConfig? {
        guard let domain = request.uri.queryParameters["shop"], !domain.isEmpty else { return config.shops.first }
        return config.shops.first { $0.domain == String(domain) }
    }

    func overview(_ shop: ShopConfig) async throws -> [String: Any] {
        let now = clock.now()
        let overview = try await views.overview(shop: shop.domain, now: now)
        let counters = signals.counters(shop: shop.domain)
        let minute = now / 60_000
        let counts = (0..<60).map { counters.eventsPerMinute[minute - 59 + Int64($0)] ?? 0 }
        let peak = max(counts.max() ?? 0, 1)
        let bars: [[String: Any]] = counts.enumerated().map { i, count in
            let height = count * 100 / peak
            return ["x": i * 10, "y": 110 - height, "h": height, "count": count, "label": "\(59 - i) min ago"]
        }
        let abandonment = try await AbandonmentStatus.load(database: states, config: config, shop: shop.domain).first
        let job = try await backfill(shop.domain)
        return [
            "since": Self.time(startedAt), "bars": bars, "max": peak,
            "beacons": counters.beaconsAccepted, "events": counters.eventsAccepted,
            "refusals": counters.refusals.sorted { $0.key < $1.key }.map { ["reason": $0.key, "count": $0.value] },
            "braze": ["2xx", "4xx", "429", "5xx", "none"].map { ["status": $0, "count": counters.brazeByStatus[$0] ?? 0] },
            "errors": counters.latestErrors.sorted { $0.key < $1.key }.map {
                ["endpoint": $0.key, "at": Self.time($0.value.at), "status": $0.value.status.map(String.init) ?? "no answer", "text": $0.value.text]
            },
            "has_errors": !counters.latestErrors.isEmpty,
            "ratelimits": counters.rateLimitRemaining.sorted { $0.key < $1.key }.map { ["endpoint": $0.key, "remaining": $0.value] },
            "has_ratelimits": !counters.rateLimitRemaining.isEmpty,
            "outbox": ["pending": overview.outbox.pending, "in_flight": overview.outbox.inFlight, "dead": overview.outbox.dead,
                       "oldest": overview.outbox.oldestPendingAgeMillis.map { "\($0 / 1000) s" } ?? "-"] as [String: Any],
            "lag": overview.processorLag, "quarantined": overview.quarantined,
            "outcomes": AbandonmentOutcome.allCases.map(\.rawValue),
            "abandonment": (abandonment?.kinds ?? []).map { kind in
                ["kind": kind.kind.rawValue, "enabled": kind.enabled ? "yes" : "no", "armed": kind.armedNow,
                 "due": kind.nextDueAt.map { "in \(max(0, $0 - now) / 1000) s" } ?? "-",
                 "counts": AbandonmentOutcome.allCases.map { kind.counts[$0] ?? 0 }] as [String: Any]
            },
            "backfill": Self.backfillValues(job, now: now),
        ]
    }

    /// The backfill's progress: phases done, and within an enqueue phase the share of what was fetched.
    static func backfillValues(_ job: BackfillJob, now: EpochMillis) -> [String: Any] {
        let phases: [BackfillJob.Phase] = [.scopes, .fetchCustomers, .fetchOrders, .plan, .enqueueCustomers, .enqueueOrders, .done]
        var percent = job.state == .done ? 100 : 0
        if job.state == .running, let phase = job.phase, let index = phases.firstIndex(of: phase) {
            var within = 0.0
            if phase == .enqueueCustomers, job.counts.customersFetched > 0 { within = Double(job.counts.customersEnqueued) / Double(job.counts.customersFetched) }
            if phase == .enqueueOrders, job.counts.ordersFetched > 0 { within = Double(job.counts.ordersEnqueued) / Double(job.counts.ordersFetched) }
            percent = min(99, Int((Double(index) + within) * 100 / Double(phases.count - 1)))
        }
        var values: [String: Any] = Self.present([
            "state": job.state.rawValue, "phase": job.phase?.rawValue, "reason": job.reason, "percent": percent,
            "customers": "\(job.counts.customersEnqueued) of \(job.counts.customersFetched)", "orders": "\(job.counts.ordersEnqueued) of \(job.counts.ordersFetched)",
        ])
        if job.state == .running, percent > 0, let started = job.startedAt {
            let left = (now - started) * EpochMillis(100 - percent) / EpochMillis(percent)
            values["estimate"] = left >= 60_000 ? "\(left / 60_000) min" : "\(left / 1000) s"
        }
        return values
    }

    static let personLimit = 200

    func person(_ shop: ShopConfig, query: String?) async throws -> [String: Any] {
        guard let query, !query.trimmingCharacters(in: .whitespaces).isEmpty else { return ["limit": Self.personLimit] }
        guard let person = try await views.person(shop: shop.domain, query: query, limit: Self.personLimit) else {
            return ["query": query, "not_found": true, "limit": Self.personLimit]
        }
        // Each operation under the event it came from: operation ids start with "{source}:{event id}:".
        var byEvent: [String: [[String: Any]]] = [:]
        var other: [[String: Any]] = []
        let eventKeys = Set(person.timeline.map { "\($0.event.source.rawValue):\($0.event.eventId)" })
        for record in person.deliveries {
            let values: [String: Any] = [
                "op_id": record.opId, "kind": record.kind, "endpoint": record.receipt.endpoint,
                "status": record.receipt.status.map(String.init) ?? "no answer", "outcome": record.receipt.outcome,
                "at": Self.time(record.receipt.at), "request": Self.pretty(record.request), "response": Self.pretty(record.receipt.response),
            ]
            if let key = eventKeys.first(where: { record.opId.hasPrefix($0 + ":") }) { byEvent[key, default: []].append(values) } else { other.append(values) }
        }
        let timeline: [[String: Any]] = person.timeline.map { logged in
            let e = logged.event
            return Self.present(["time": Self.time(e.time), "name": e.name, "source": e.source.rawValue, "visitor_id": e.visitorId,
                                 "json": Self.pretty(LiveEvents.item(e).json), "operations": byEvent["\(e.source.rawValue):\(e.eventId)"] ?? []])
        }
        let visitors: [[String: Any]] = person.visitors.map { v in
            ["visitor_id": v.visitorId, "customer_id": v.customerId ?? "-", "linked_at": v.linkedAt.map(Self.time) ?? "-", "evidence": v.evidence ?? "-",
             "first_seen": v.firstSeen > 0 ? Self.time(v.firstSeen) : "-", "last_seen": v.lastSeen > 0 ? Self.time(v.lastSeen) : "-",
             "history": v.history.map { ["customer_id": $0.customerId, "evidence": $0.evidence, "at": Self.time($0.at)] }]
        }
        let dead: [[String: Any]] = person.deadLetters.map {
            ["op_id": $0.operation.id, "kind": $0.operation.kind.rawValue, "reason": $0.reason, "died_at": Self.time($0.diedAt)]
        }
        let timers: [[String: Any]] = person.timers.map {
            ["kind": $0.kind, "subject": $0.subject, "state": $0.state, "armed_at": Self.time($0.armedAt), "due_at": Self.time($0.dueAt), "reason": $0.reason ?? ""]
        }
        return ["query": query, "limit": Self.personLimit, "person": Self.present([
            "customer_id": person.customerId, "email": person.email, "name": person.name, "shop": shop.domain,
            "visitors": visitors, "timeline": timeline, "timers": timers, "dead": dead, "has_dead": !dead.isEmpty,
            "other_operations": other, "has_other_operations": !other.isEmpty,
        ])]
    }

    static let deadLetterLimit = 200

    func deadLetters(_ shop: ShopConfig) async throws -> [String: Any] {
        let letters = try await views.deadLetters(shop: shop.domain, limit: Self.deadLetterLimit)
        return ["limit": Self.deadLetterLimit, "has_letters": !letters.isEmpty, "letters": letters.map { letter in
            ["op_id": letter.operation.id, "kind": letter.operation.kind.rawValue, "user_key": letter.operation.userKey, "attempts": letter.attempts,
             "died_at": Self.time(letter.diedAt), "reason": letter.reason, "payload": Self.pretty(letter.operation.payload)] as [String: Any]
        }]
    }

    func deadLetterAction(_ request: Request, action: String) async throws -> Response {
        let form = try await authorizeForm(request)
        guard let domain = form["shop"], let shop = config.shops.first(where: { $0.domain == domain }) else {
            throw APIError(.badRequest, "unknown_shop", "the form names no configured shop", field: "shop")
        }
        let notice: String
        switch action {
        case "retry", "discard":
            guard let opId = form["op_id"], !opId.isEmpty, opId.utf8.count <= 512 else {
                throw APIError(.badRequest, "missing_op_id", "the form names no operation", field: "op_id")
            }
            let done: Bool
            if action == "retry" {
                done = try await views.retryDeadLetter(shop: shop.domain, opId: opId)
            } else {
                done = try await views.discardDeadLetter(shop: shop.domain, opId: opId)
            }
            guard done else { throw APIError(.notFound, "unknown_dead_letter", "no such dead letter (already retried or discarded?)") }
            notice = action == "retry" ? "Retrying 1 operation." : "Discarded 1 operation."
        case "retry-all":
            let moved = try await views.retryDeadLetters(shop: shop.domain)
            notice = "Retrying \(moved) operations."
        default:
            let discarded = try await views.discardDeadLetters(shop: shop.domain)
            notice = "Discarded \(discarded) operations."
        }
        // Post/redirect/get: a reload never repeats the action.
        let query = "shop=\(Self.queryEscape(shop.domain))&notice=\(Self.queryEscape(notice))"
        return redirect("/console/dead-letters?" + query, cookies: [])
    }

    func install(_ shop: ShopConfig) async throws -> [String: Any] {
        let now = clock.now()
        let signals = try await views.installSignals(shop: shop.domain, pageTypes: Self.installPages.map(\.pageType), topics: Self.installTopics)
        let fresh = { (at: EpochMillis?) in at.map { now - $0 < 86_400_000 } ?? false }
        var checks: [[String: Any]] = []
        var missing: [String] = []
        for page in Self.installPages {
            let seen = signals.pageTypes[page.pageType]
            let context = seen?.context.flatMap { try? JSONParser.parse(Array($0.utf8)) }?.objectValue
            let version = context?["tracker"]?.scalarText
            let consent = context?["consent"].map { $0.serialized } ?? "granted (the tracker sends nothing before consent)"
            checks.append(["id": page.id, "label": page.label, "state": fresh(seen?.at) ? "green" : "red", "at": seen.map { Self.time($0.at) } ?? "never",
                           "detail": seen == nil ? "" : "tracker \(version ?? "?"), consent \(consent)"])
            if !fresh(seen?.at) { missing.append(page.missing) }
        }
        checks.append(["id": "pixel", "label": "Custom Pixel checkout", "state": fresh(signals.pixelCheckoutAt) ? "green" : "red",
                       "at": signals.pixelCheckoutAt.map(Self.time) ?? "never", "detail": ""])
        if !fresh(signals.pixelCheckoutAt) { missing.append("no checkout reported by the Custom Pixel in 24 h: is the pixel (shoptrail pixel) connected in Settings → Customer events?") }
        if shop.appProxy != nil {
            checks.append(["id": "app-proxy", "label": "App Proxy signature", "state": fresh(signals.appProxyAt) ? "green" : "red",
                           "at": signals.appProxyAt.map(Self.time) ?? "never", "detail": "beacons with a verified signature"])
            if !fresh(signals.appProxyAt) { missing.append("no App Proxy beacon verified in 24 h: check the proxy's URL and the app secret.") }
        } else {
            checks.append(["id": "app-proxy", "label": "App Proxy signature", "state": "grey", "at": "-", "detail": "not configured (beacons go to public_url)"])
        }
        for topic in Self.installTopics {
            let at = signals.webhookTopics[topic]
            checks.append(["id": "webhook-" + topic.replacingOccurrences(of: "/", with: "-"), "label": "Webhook \(topic)",
                           "state": at == nil ? "grey" : "green", "at": at.map(Self.time) ?? "not seen", "detail": ""])
        }
        for (topic, at) in signals.webhookTopics.sorted(by: { $0.key < $1.key }) where !Self.installTopics.contains(topic) {
            checks.append(["id": "webhook-other", "label": "Webhook \(topic)", "state": "green", "at": Self.time(at), "detail": ""])
        }
        if signals.webhookTopics.isEmpty { missing.append("no webhook has arrived: register them (README, Shopify webhooks) and check shopify.api_secret (it verifies their signature).") }
        return ["window": OperatorViewLimits.installWindow, "checks": checks, "missing": missing, "has_missing": !missing.isEmpty]
    }

    // MARK: live events

    func stream(_ request: Request) throws -> Response {
        guard try caller(request) != nil else {
            throw Self.unauthorized()
        }
        let q = request.uri.queryParameters
        let value = { (name: String) -> String? in q[Substring(name)].map(String.init).flatMap { $0.isEmpty ? nil : String($0.prefix(256)) } }
        let filter = LiveEvents.Filter(shop: value("shop"), name: value("name"), visitorId: value("visitor"), customerId: value("customer"))
        var headers: HTTPFields = [.contentType: "text/event-stream; charset=utf-8", .cacheControl: "no-store"]
        headers[.contentSecurityPolicy] = AdminSecurityHeaders.defaultPolicy
        guard let events = signals.live.subscribe(filter) else {
            // An event the page understands, then the end: the browser does not retry in a loop.
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: "retry: 60000\nevent: full\ndata: {}\n\n")))
        }
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            try await writer.write(ByteBuffer(string: "retry: 3000\n: connected\n\n"))
            // Events and a comment every 15 s (so proxies and idle timeouts keep a quiet stream open) merge
            // into one bounded stream; the loop ends when the browser goes away or the server stops.
            let (lines, line) = AsyncStream.makeStream(of: String.self, bufferingPolicy: .bufferingNewest(64))
            try await withGracefulShutdownHandler {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for await item in events { line.yield("data: \(item.json)\n\n") }
                        line.finish()
                    }
                    group.addTask {
                        while !Task.isCancelled {
                            try await Task.sleep(for: .seconds(15))
                            line.yield(": keep-alive\n\n")
                        }
                    }
                    for await text in lines { try await writer.write(ByteBuffer(string: text)) }
                    group.cancelAll()
                }
            } onGracefulShutdown: {
                line.finish()
            }
            try await writer.finish(nil)
        })
    }

    // MARK: metrics

    func metrics() async throws -> Response {
        let gauges = try await views.gauges()
        return Self.metricsResponse(signals.render(gauges, shops: config.shops.map(\.domain)))
    }

    /// The Prometheus text exposition.
    static func metricsResponse(_ body: [UInt8]) -> Response {
        Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8", .cacheControl: "no-store"],
                 body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    // MARK: helpers

    private func render(_ template: String, _ values: [String: Any]) -> String {
        library.render(values, withTemplate: template) ?? ""
    }

    private func htmlResponse(_ html: String, status: HTTPResponse.Status) -> Response {
        Response(status: status, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store", .contentSecurityPolicy: Self.policy],
                 body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    private func asset(_ name: String, type: String) -> Response {
        Response(status: .ok, headers: [.contentType: type, .cacheControl: "no-cache"], body: .init(byteBuffer: ByteBuffer(string: ConsoleAssets.files[name] ?? "")))
    }

    private func redirect(_ location: String, cookies: [String]) -> Response {
        var headers: HTTPFields = [.location: location, .cacheControl: "no-store"]
        for cookie in cookies { headers.append(HTTPField(name: .setCookie, value: cookie)) }
        return Response(status: .seeOther, headers: headers)
    }

    static func queryEscape(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
    }

    /// The values that are there: Mustache would print an absent optional as "nil".
    static func present(_ values: [String: Any?]) -> [String: Any] {
        values.compactMapValues { $0 }
    }

    /// UTC, to the second.
    static func time(_ millis: EpochMillis) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withFullDate, .withTime, .withColonSeparatorInTime, .withSpaceBetweenDateAndTime]
        return formatter.string(from: Date(timeIntervalSince1970: Double(millis) / 1000)) + " UTC"
    }

    /// JSON text indented for a <pre> (the template escapes it); other text as it is.
    static func pretty(_ text: String) -> String {
        guard let data = text.data(using: .utf8), let object = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]),
              JSONSerialization.isValidJSONObject(object),
              let out = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]) else { return text }
        return String(decoding: out, as: UTF8.self)
    }
}

/// The `server.metrics_listen` application: `GET /metrics` alone, without the admin token, for a
/// Prometheus on a private address; everything else is a 404.
public func buildMetricsApplication(config: ShopTrailConfig, views: any OperatorViews, signals: OperatorSignals, host: String, port: Int,
                                    logger: Logger, onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
    let router = Router(context: ShopTrailRequestContext.self)
    router.add(middleware: JSONErrorMiddleware())
    let shops = config.shops.map(\.domain)
    router.get("/metrics") { _, _ in
        ConsoleController.metricsResponse(signals.render(try await views.gauges(), shops: shops))
    }
    return Application(router: router, configuration: .init(address: .hostname(host, port: port), serverName: "ShopTrail metrics"),
                       onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? port) }, logger: logger)
}

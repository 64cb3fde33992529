import Foundation

/// Everything the sandbox remembers: profiles, catalogs, the request log, faults, rate-limit windows and stats.
/// One actor, so each Braze request is applied atomically, in arrival order.
public actor BrazeSandboxState {
    public let configuration: BrazeSandboxConfiguration
    private var store = ProfileStore()
    private var catalogs: [String: Catalog] = [:]
    private var catalogOrder: [String] = []
    private var dataPoints = DataPointCounter()
    private var rateLimiter = RateLimiter()
    private var faults = SandboxFaults()
    private var log: [LoggedRequest] = []
    private var sequence = 0
    private var stats = SandboxStats()

    public init(configuration: BrazeSandboxConfiguration = .init()) {
        self.configuration = configuration
    }

    private var validator: Validator { Validator(limits: configuration.limits) }

    /// Added latency (ms) to apply before answering, from the faults.
    public func latencyMs() -> Int { faults.latencyMs }

    /// Handles one Braze API request: injected faults, then auth, then rate limit, then the endpoint.
    public func handle(endpoint: BrazeEndpoint, path: String, authorization: String?, body: Data, catalogName: String? = nil) -> SandboxResponse {
        let now = configuration.now()
        let parsed = JSONValue.parse(body)
        let loggedBody: JSONValue = parsed ?? (body.isEmpty ? .null : .string(String(decoding: body, as: UTF8.self)))
        var injected = false
        let response: SandboxResponse
        if let fault = faults.consume(now: now) {
            injected = true
            response = Self.faultResponse(status: fault.status, retryAfter: fault.retryAfter, now: now)
        } else {
            response = answer(endpoint: endpoint, authorization: authorization, body: parsed, catalogName: catalogName, now: now)
        }
        sequence += 1
        log.append(LoggedRequest(sequence: sequence, time: now, method: endpoint.method, path: path, endpoint: endpoint.statsKey,
                                 status: response.status, body: loggedBody, response: response.body, injectedFault: injected))
        if log.count > configuration.maxLoggedRequests { log.removeFirst(log.count - configuration.maxLoggedRequests) }
        stats.record(endpoint: endpoint.statsKey, status: response.status)
        return response
    }

    /// Answers a request whose body is over `limits.maxBodyBytes`: 413, as `_docs/_api/endpoints/user_data.md` documents
    /// ("Attempts to post more data than 4 MB will fail with an HTTP 413 Request Entity Too Large"). Logged, not counted.
    public func refuseOversized(endpoint: BrazeEndpoint, path: String) -> SandboxResponse {
        let now = configuration.now()
        var response = SandboxResponse.fatal(413, "Request Entity Too Large")
        response.headers = rateLimiter.peek(endpoint.rateLimitGroup, limit: configuration.rateLimit(for: endpoint.rateLimitGroup), now: now)?.headers ?? []
        sequence += 1
        log.append(LoggedRequest(sequence: sequence, time: now, method: endpoint.method, path: path, endpoint: endpoint.statsKey,
                                 status: response.status, body: .string("(body over \(configuration.limits.maxBodyBytes) bytes)"),
                                 response: response.body, injectedFault: false))
        if log.count > configuration.maxLoggedRequests { log.removeFirst(log.count - configuration.maxLoggedRequests) }
        stats.record(endpoint: endpoint.statsKey, status: response.status)
        return response
    }

    private func answer(endpoint: BrazeEndpoint, authorization: String?, body: JSONValue?, catalogName: String?, now: Date) -> SandboxResponse {
        // "Every single API request sent to Braze returns" the X-RateLimit-* headers (api_limits.md): answers refused
        // before counting carry the window as it stands.
        let peek = rateLimiter.peek(endpoint.rateLimitGroup, limit: configuration.rateLimit(for: endpoint.rateLimitGroup), now: now)
        guard let key = Self.bearerToken(authorization), let apiKey = configuration.apiKeys.first(where: { $0.key == key }) else {
            var refused = SandboxResponse.fatal(401, "Unknown or missing REST API Key")
            refused.headers = peek?.headers ?? []
            return refused
        }
        if let permissions = apiKey.permissions, !permissions.contains(endpoint.permission) {
            var refused = SandboxResponse.fatal(403, "API key does not have the '\(endpoint.permission)' permission required by this endpoint")
            refused.headers = peek?.headers ?? []
            return refused
        }
        let decision = rateLimiter.count(endpoint.rateLimitGroup, limit: configuration.rateLimit(for: endpoint.rateLimitGroup), now: now)
        if let decision, !decision.allowed {
            var limited = SandboxResponse.fatal(429, "Over rate limit")
            limited.headers = decision.headers
            return limited
        }
        var response: SandboxResponse
        if let body {
            response = dispatch(endpoint, body: body, catalogName: catalogName, now: now)
        } else {
            response = .fatal(400, "Bad Request", errors: [["type": "request body is not valid JSON"]])
        }
        response.headers += decision?.headers ?? []
        return response
    }

    private func dispatch(_ endpoint: BrazeEndpoint, body: JSONValue, catalogName: String?, now: Date) -> SandboxResponse {
        let validator = self.validator
        switch endpoint {
        case .usersTrack:
            return UsersTrackEndpoint(validator: validator).handle(body, store: &store, dataPoints: &dataPoints, now: now)
        case .usersIdentify:
            return UsersIdentifyEndpoint(validator: validator).handle(body, store: &store, now: now)
        case .usersAliasNew:
            let before = store.profiles.reduce(0) { $0 + $1.aliases.count }
            let response = UsersAliasNewEndpoint(validator: validator).handle(body, store: &store, now: now)
            dataPoints.aliasesAdded += max(0, store.profiles.reduce(0) { $0 + $1.aliases.count } - before)
            return response
        case .usersMerge:
            return UsersMergeEndpoint(validator: validator).handle(body, store: &store, now: now)
        case .usersDelete:
            let before = store.profiles.count
            let response = UsersDeleteEndpoint(validator: validator).handle(body, store: &store)
            dataPoints.usersDeleted += max(0, before - store.profiles.count)
            return response
        case .usersExportIds:
            return UsersExportEndpoint(validator: validator).handle(body, store: store)
        case .subscriptionStatusSet:
            return SubscriptionStatusEndpoint(validator: validator).handleV1(body, store: &store, dataPoints: &dataPoints, now: now)
        case .subscriptionStatusSetV2:
            return SubscriptionStatusEndpoint(validator: validator).handleV2(body, store: &store, dataPoints: &dataPoints, now: now)
        case .catalogsCreate:
            return CatalogEndpoints(limits: configuration.limits).create(body, catalogs: &catalogs, order: &catalogOrder, now: now)
        case .catalogItemsCreate, .catalogItemsEdit, .catalogItemsReplace, .catalogItemsDelete:
            let operation: CatalogEndpoints.ItemOperation = switch endpoint {
            case .catalogItemsCreate: .create
            case .catalogItemsEdit: .edit
            case .catalogItemsReplace: .replace
            default: .delete
            }
            return CatalogEndpoints(limits: configuration.limits)
                .items(operation, catalogName: catalogName ?? "", body: body, catalogs: &catalogs, now: now)
        }
    }

    static func bearerToken(_ header: String?) -> String? {
        guard let header else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        let token = parts[1].trimmingCharacters(in: .whitespaces)
        return token.isEmpty ? nil : token
    }

    static func faultResponse(status: Int, retryAfter: Int?, now: Date) -> SandboxResponse {
        var response = SandboxResponse.fatal(status, status == 429 ? "Over rate limit" : "Injected fault: HTTP \(status)")
        if let retryAfter {
            response.headers.append(("Retry-After", String(retryAfter)))
            if status == 429 {
                response.headers += [
                    ("X-RateLimit-Remaining", "0"),
                    ("X-RateLimit-Reset", RateLimiter.epochSeconds(now.addingTimeInterval(Double(retryAfter)))),
                ]
            }
        }
        return response
    }

    // MARK: Inspection (`/_sandbox/*`)

    /// Every profile in the `/_sandbox/users` shape, oldest first.
    public func usersJSON() -> JSONValue { .array(store.profiles.map(\.inspectionJSON)) }

    /// One profile by external id, nil when absent.
    public func userJSON(externalId: String) -> JSONValue? {
        store.index(of: .externalId(externalId)).map { store[$0].inspectionJSON }
    }

    public func requestsJSON(path: String? = nil) -> JSONValue {
        .array(log.filter { path == nil || $0.path == path }.map(\.json))
    }

    public func catalogsJSON() -> JSONValue { .array(catalogOrder.compactMap { catalogs[$0]?.json }) }

    public func catalogItemsJSON(name: String) -> JSONValue? { catalogs[name]?.itemsJSON }

    public func faultsJSON() -> JSONValue { faults.json(now: configuration.now()) }

    /// Applies a faults body; returns the new fault state or a 400 answer.
    public func configureFaults(_ body: Data) -> SandboxResponse {
        guard let json = JSONValue.parse(body) else { return .fatal(400, "fault body is not valid JSON") }
        let now = configuration.now()
        do throws(ValidationFailure) {
            try faults.configure(json, now: now)
            return SandboxResponse(status: 200, body: faults.json(now: now))
        } catch {
            return .fatal(400, error.message)
        }
    }

    public func statsJSON() -> JSONValue {
        [
            "requests_total": .from(stats.total),
            "requests": stats.requestsJSON,
            "data_points": dataPoints.json,
            "profiles": .from(store.profiles.count),
            "catalogs": .from(catalogs.count),
        ]
    }

    /// Forgets everything: profiles, catalogs, requests, stats, faults, rate-limit windows.
    public func reset() {
        store.removeAll()
        catalogs.removeAll()
        catalogOrder.removeAll()
        dataPoints = DataPointCounter()
        rateLimiter.reset()
        faults = SandboxFaults()
        log.removeAll()
        sequence = 0
        stats = SandboxStats()
    }
}

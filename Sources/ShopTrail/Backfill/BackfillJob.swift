/// One shop's historical backfill as persisted in `backfill_jobs`: state, window, phase, checkpoint and counts.
public struct BackfillJob: Sendable, Equatable {
    /// Where the job is in its life.
    public enum State: String, Sendable, CaseIterable {
        case notStarted = "not_started"
        case running
        case done
        case failed
    }

    /// The step a running (or interrupted) job is at.
    public enum Phase: String, Sendable, CaseIterable {
        case scopes
        case fetchCustomers = "fetch_customers"
        case fetchOrders = "fetch_orders"
        case plan
        case enqueueCustomers = "enqueue_customers"
        case enqueueOrders = "enqueue_orders"
        case done
    }

    public var shop: String
    public var state: State = .notStarted
    /// Why the job failed (or was stopped), for the API and the next run's output.
    public var reason: String?
    public var phase: Phase?
    /// Orders created (and customers updated) at or after this time are imported.
    public var windowStart: EpochMillis?
    /// The days asked for, and the days actually used (60 without `read_all_orders`).
    public var requestedDays: Int?
    public var days: Int?
    /// Set when the window was clamped: the warning shown to the operator.
    public var warning: String?
    public var checkpoint = BackfillCheckpoint()
    public var counts = BackfillCounts()
    public var startedAt: EpochMillis?
    public var finishedAt: EpochMillis?
    /// Runs started (resumed and forced runs included).
    public var runs = 0

    public init(shop: String) { self.shop = shop }

    /// The job as the admin API returns it.
    public var json: JSONValue {
        func n(_ v: Int64?) -> JSONValue { v.map { .number(String($0)) } ?? .null }
        func s(_ v: String?) -> JSONValue { v.map(JSONValue.string) ?? .null }
        return .object(JSONObject([
            ("shop", .string(shop)), ("state", .string(state.rawValue)), ("phase", s(phase?.rawValue)), ("error", s(reason)),
            ("window_start", windowStart.map { .string(Timestamp.format($0)) } ?? .null),
            ("requested_days", n(requestedDays.map(Int64.init))), ("days", n(days.map(Int64.init))), ("warning", s(warning)),
            ("counts", counts.json),
            ("started_at", startedAt.map { .string(Timestamp.format($0)) } ?? .null),
            ("finished_at", finishedAt.map { .string(Timestamp.format($0)) } ?? .null),
            ("runs", .number(String(runs))),
        ]))
    }
}

/// How far a job got, so an interrupted run resumes without refetching or re-enqueuing.
public struct BackfillCheckpoint: Sendable, Equatable {
    /// The fetch of each resource finished (everything is staged).
    public var customersFetched = false
    public var ordersFetched = false
    /// Pages mode: the cursor after the last staged page.
    public var customersCursor: String?
    public var ordersCursor: String?
    /// The operator confirmed (a resumed run does not ask again).
    public var confirmed = false
    /// The last staged row (its `seq`) whose operations are in the outbox.
    public var customersEnqueuedSeq: Int64 = 0
    public var ordersEnqueuedSeq: Int64 = 0

    public init() {}

    var json: JSONValue {
        .object(JSONObject([
            ("customers_fetched", .bool(customersFetched)), ("orders_fetched", .bool(ordersFetched)),
            ("customers_cursor", customersCursor.map(JSONValue.string) ?? .null), ("orders_cursor", ordersCursor.map(JSONValue.string) ?? .null),
            ("confirmed", .bool(confirmed)),
            ("customers_enqueued_seq", .number(String(customersEnqueuedSeq))), ("orders_enqueued_seq", .number(String(ordersEnqueuedSeq))),
        ]))
    }

    init(json: JSONObject?) {
        guard let json else { return }
        customersFetched = json["customers_fetched"] == .bool(true)
        ordersFetched = json["orders_fetched"] == .bool(true)
        customersCursor = json["customers_cursor"]?.stringValue
        ordersCursor = json["orders_cursor"]?.stringValue
        confirmed = json["confirmed"] == .bool(true)
        customersEnqueuedSeq = json["customers_enqueued_seq"]?.idString.flatMap { Int64($0) } ?? 0
        ordersEnqueuedSeq = json["orders_enqueued_seq"]?.idString.flatMap { Int64($0) } ?? 0
    }
}

/// What a job fetched and enqueued so far.
public struct BackfillCounts: Sendable, Equatable {
    public var customersFetched = 0
    public var ordersFetched = 0
    public var customersEnqueued = 0
    /// Orders whose event was enqueued (guest and test orders are skipped).
    public var ordersEnqueued = 0
    public var ordersSkipped = 0
    /// Customers without an external id under the shop's strategy (e.g. no email with `email`).
    public var customersSkipped = 0
    /// Users the backfill creates in Braze, and those given subscription states.
    public var newUsers = 0
    public var subscriptionStates = 0
    public var operations = 0
    /// `/users/export/ids` requests made, and how many of them Braze answered 429 (all runs of the job).
    public var brazeLookups = 0
    public var brazeRateLimited = 0

    public init() {}

    private static var keys: [(String, WritableKeyPath<BackfillCounts, Int>)] { [
        ("customers_fetched", \.customersFetched), ("orders_fetched", \.ordersFetched), ("customers_enqueued", \.customersEnqueued),
        ("orders_enqueued", \.ordersEnqueued), ("orders_skipped", \.ordersSkipped), ("customers_skipped", \.customersSkipped),
        ("new_users", \.newUsers), ("subscription_states", \.subscriptionStates), ("operations", \.operations),
        ("braze_lookups", \.brazeLookups), ("braze_rate_limited", \.brazeRateLimited),
    ] }

    var json: JSONValue {
        .object(JSONObject(Self.keys.map { (key: $0.0, value: JSONValue.number(String(self[keyPath: $0.1]))) }))
    }

    init(json: JSONObject?) {
        guard let json else { return }
        for (key, path) in Self.keys { self[keyPath: path] = json[key]?.idString.flatMap { Int($0) } ?? 0 }
    }
}

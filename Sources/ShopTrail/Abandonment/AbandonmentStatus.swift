import GRDB

/// Timers per shop and kind for `shoptrail abandonment status` and the dashboard.
public struct AbandonmentStatus: Sendable, Equatable {
    /// One kind of one shop.
    public struct Kind: Sendable, Equatable {
        public var kind: AbandonmentKind
        public var enabled: Bool
        public var windowMillis: EpochMillis
        public var eventName: String
        /// Timers armed right now.
        public var armedNow: Int
        /// When the next armed timer is due (nil when none is armed).
        public var nextDueAt: EpochMillis?
        /// Cumulative counts since the database was created.
        public var counts: [AbandonmentOutcome: Int]
    }

    public var shop: String
    public var kinds: [Kind]

    /// Reads the status of `shops` (all configured shops when nil).
    public static func load(database: SQLiteDatabase, config: ShopTrailConfig, shop only: String? = nil) async throws -> [AbandonmentStatus] {
        let shops = config.shops.filter { only == nil || $0.domain == only }
        return try await database.pool.read { db in
            try shops.map { shop in
                let live = try Row.fetchAll(db, sql: """
                    SELECT kind, COUNT(*) AS armed, MIN(due_at) AS next FROM abandonment_timers WHERE shop = ? AND state = 'armed' GROUP BY kind
                    """, arguments: [shop.domain])
                let counts = try Row.fetchAll(db, sql: "SELECT kind, outcome, count FROM abandonment_counts WHERE shop = ?", arguments: [shop.domain])
                return AbandonmentStatus(shop: shop.domain, kinds: AbandonmentKind.allCases.map { kind in
                    let row = live.first { $0["kind"] == kind.rawValue }
                    var byOutcome: [AbandonmentOutcome: Int] = [:]
                    for count in counts where count["kind"] == kind.rawValue {
                        if let outcome = AbandonmentOutcome(rawValue: count["outcome"]) { byOutcome[outcome] = count["count"] }
                    }
                    let config = shop.abandonment[kind]
                    return Kind(kind: kind, enabled: config.enabled, windowMillis: config.windowMillis, eventName: config.eventName,
                                armedNow: row?["armed"] ?? 0, nextDueAt: row?["next"], counts: byOutcome)
                })
            }
        }
    }

    /// As JSON for the admin API.
    public var json: JSONValue {
        .object(JSONObject([
            ("shop", .string(shop)),
            ("kinds", .array(kinds.map { kind in
                .object(JSONObject([
                    ("kind", .string(kind.kind.rawValue)), ("enabled", .bool(kind.enabled)), ("window_ms", .number(String(kind.windowMillis))),
                    ("event_name", .string(kind.eventName)), ("armed_now", .number(String(kind.armedNow))),
                    ("next_due_at", kind.nextDueAt.map { .string(Timestamp.format($0)) } ?? .null),
                    ("counts", .object(JSONObject(AbandonmentOutcome.allCases.map { ($0.rawValue, .number(String(kind.counts[$0] ?? 0))) }))),
                ]))
            })),
        ]))
    }
}

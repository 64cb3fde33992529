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
    public static func load(database: any StateTransactions, config: ShopTrailConfig, shop only: String? = nil) async throws -> [AbandonmentStatus] {
        let shops = config.shops.filter { only == nil || $0.domain == only }
        return try await database.read { state in
            try shops.map { shop in
                let armed = try state.timers.armed(shop: shop.domain)
                let outcomes = try state.timers.outcomes(shop: shop.domain)
                return AbandonmentStatus(shop: shop.domain, kinds: AbandonmentKind.allCases.map { kind in
                    let config = shop.abandonment[kind]
                    return Kind(kind: kind, enabled: config.enabled, windowMillis: config.windowMillis, eventName: config.eventName,
                                armedNow: armed[kind]?.count ?? 0, nextDueAt: armed[kind]?.nextDueAt, counts: outcomes[kind] ?? [:])
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

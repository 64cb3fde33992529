import PostgresNIO

/// `AbandonmentTimerStore` inside one PostgreSQL transaction.
///
/// `due` locks the timers it returns `FOR UPDATE SKIP LOCKED`: two instances' schedulers asking at
/// once get different timers, and a timer is closed (fired, suppressed) in the same transaction that
/// locked it, so each fires once however many instances run.
struct PostgresAbandonmentTimers: AbandonmentTimerStore {
    let connection: PostgresBlockingConnection

    private static let columns = "shop, kind, subject, visitor_id, customer_id, state, armed_at, due_at, generation, detail, reason, closed_at"

    private static func timer(_ row: PostgresRow) throws -> AbandonmentTimer? {
        guard let kind = AbandonmentKind(rawValue: try row.value("kind", as: String.self)),
              let state = AbandonmentTimerState(rawValue: try row.value("state", as: String.self)) else { return nil }
        var timer = AbandonmentTimer(
            shop: try row.value("shop"), kind: kind, subject: try row.value("subject"), visitorId: try row.value("visitor_id"),
            customerId: try row.value("customer_id"), armedAt: try row.value("armed_at"), dueAt: try row.value("due_at"),
            generation: Int(try row.value("generation", as: Int64.self)), detail: try row.value("detail"), state: state)
        timer.reason = try row.value("reason")
        timer.closedAt = try row.value("closed_at")
        return timer
    }

    func timer(shop: String, kind: AbandonmentKind, subject: String) throws -> AbandonmentTimer? {
        try connection.rows("""
            SELECT \(unescaped: Self.columns) FROM abandonment_timers WHERE shop = \(shop) AND kind = \(kind.rawValue) AND subject = \(subject)
            """).first.flatMap(Self.timer)
    }

    func save(_ t: AbandonmentTimer) throws {
        try connection.rows("""
            INSERT INTO abandonment_timers (\(unescaped: Self.columns))
            VALUES (\(t.shop), \(t.kind.rawValue), \(t.subject), \(t.visitorId), \(t.customerId), \(t.state.rawValue), \(t.armedAt), \(t.dueAt),
                    \(Int64(t.generation)), \(t.detail), \(t.reason), \(t.closedAt))
            ON CONFLICT (shop, kind, subject) DO UPDATE SET visitor_id = excluded.visitor_id, customer_id = excluded.customer_id,
                state = excluded.state, armed_at = excluded.armed_at, due_at = excluded.due_at, generation = excluded.generation,
                detail = excluded.detail, reason = excluded.reason, closed_at = excluded.closed_at
            """)
    }

    func assignUnowned(shop: String, kinds: [AbandonmentKind], visitorId: String, customerId: String) throws {
        guard !kinds.isEmpty else { return }
        try connection.rows("""
            UPDATE abandonment_timers SET customer_id = \(customerId)
            WHERE shop = \(shop) AND state = 'armed' AND visitor_id = \(visitorId) AND customer_id IS NULL AND kind = ANY(\(kinds.map(\.rawValue)))
            """)
    }

    func cancelArmed(shop: String, kinds: [AbandonmentKind], visitorIds: [String], customerId: String?, subjects: [String],
                     except: String?, reason: String, at: EpochMillis) throws -> [AbandonmentKind] {
        guard !kinds.isEmpty else { return [] }
        var visitors = visitorIds
        if let customerId {
            visitors += try connection.column("SELECT visitor_id FROM visitors WHERE shop = \(shop) AND customer_id = \(customerId)", as: String.self)
                .filter { !visitorIds.contains($0) }
        }
        let cancelled = try connection.column("""
            UPDATE abandonment_timers SET state = 'cancelled', reason = \(reason), closed_at = \(at)
            WHERE shop = \(shop) AND state = 'armed' AND kind = ANY(\(kinds.map(\.rawValue)))
              AND (customer_id = \(customerId) OR visitor_id = ANY(\(visitors)) OR subject = ANY(\(subjects)))
              AND subject IS DISTINCT FROM \(except)
            RETURNING kind
            """, as: String.self)
        return cancelled.compactMap(AbandonmentKind.init(rawValue:))
    }

    func hasArmed(shop: String, kinds: [AbandonmentKind], visitorId: String, customerId: String?) throws -> Bool {
        try connection.column("""
            SELECT EXISTS (SELECT 1 FROM abandonment_timers WHERE shop = \(shop) AND state = 'armed' AND kind = ANY(\(kinds.map(\.rawValue)))
                           AND (visitor_id = \(visitorId) OR customer_id = \(customerId)))
            """, as: Bool.self).first ?? false
    }

    func due(before time: EpochMillis, limit: Int) throws -> [AbandonmentTimer] {
        try connection.rows("""
            SELECT \(unescaped: Self.columns) FROM abandonment_timers WHERE state = 'armed' AND due_at <= \(time)
            ORDER BY due_at LIMIT \(Int64(limit)) FOR UPDATE SKIP LOCKED
            """).compactMap(Self.timer)
    }

    func lastFired(shop: String, kind: AbandonmentKind, target: String) throws -> EpochMillis? {
        try connection.column("""
            SELECT fired_at FROM abandonment_cooldowns WHERE shop = \(shop) AND kind = \(kind.rawValue) AND target = \(target)
            """, as: Int64.self).first
    }

    func setLastFired(shop: String, kind: AbandonmentKind, target: String, at: EpochMillis) throws {
        try connection.rows("""
            INSERT INTO abandonment_cooldowns (shop, kind, target, fired_at) VALUES (\(shop), \(kind.rawValue), \(target), \(at))
            ON CONFLICT (shop, kind, target) DO UPDATE SET fired_at = excluded.fired_at
            """)
    }

    func count(shop: String, kind: AbandonmentKind, _ outcome: AbandonmentOutcome, by: Int) throws {
        guard by != 0 else { return }
        try connection.rows("""
            INSERT INTO abandonment_counts (shop, kind, outcome, count) VALUES (\(shop), \(kind.rawValue), \(outcome.rawValue), \(Int64(by)))
            ON CONFLICT (shop, kind, outcome) DO UPDATE SET count = abandonment_counts.count + excluded.count
            """)
    }

    func armed(shop: String) throws -> [AbandonmentKind: (count: Int, nextDueAt: EpochMillis?)] {
        var result: [AbandonmentKind: (count: Int, nextDueAt: EpochMillis?)] = [:]
        for row in try connection.rows("""
            SELECT kind, COUNT(*) AS armed, MIN(due_at) AS next FROM abandonment_timers WHERE shop = \(shop) AND state = 'armed' GROUP BY kind
            """) {
            if let kind = AbandonmentKind(rawValue: try row.value("kind")) {
                result[kind] = (Int(try row.value("armed", as: Int64.self)), try row.value("next", as: Int64?.self))
            }
        }
        return result
    }

    func outcomes(shop: String) throws -> [AbandonmentKind: [AbandonmentOutcome: Int]] {
        var result: [AbandonmentKind: [AbandonmentOutcome: Int]] = [:]
        for row in try connection.rows("SELECT kind, outcome, count FROM abandonment_counts WHERE shop = \(shop)") {
            if let kind = AbandonmentKind(rawValue: try row.value("kind")), let outcome = AbandonmentOutcome(rawValue: try row.value("outcome")) {
                result[kind, default: [:]][outcome] = Int(try row.value("count", as: Int64.self))
            }
        }
        return result
    }
}

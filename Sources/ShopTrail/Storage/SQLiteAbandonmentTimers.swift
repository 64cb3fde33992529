import GRDB

/// `AbandonmentTimerStore` inside one SQLite transaction.
struct SQLiteAbandonmentTimers: AbandonmentTimerStore {
    let db: Database

    private static let columns = "shop, kind, subject, visitor_id, customer_id, state, armed_at, due_at, generation, detail, reason, closed_at"

    private static func timer(_ row: Row) -> AbandonmentTimer? {
        guard let kind = AbandonmentKind(rawValue: row["kind"]), let state = AbandonmentTimerState(rawValue: row["state"]) else { return nil }
        var timer = AbandonmentTimer(shop: row["shop"], kind: kind, subject: row["subject"], visitorId: row["visitor_id"], customerId: row["customer_id"],
                                     armedAt: row["armed_at"], dueAt: row["due_at"], generation: row["generation"], detail: row["detail"], state: state)
        timer.reason = row["reason"]
        timer.closedAt = row["closed_at"]
        return timer
    }

    func timer(shop: String, kind: AbandonmentKind, subject: String) throws -> AbandonmentTimer? {
        try Row.fetchOne(db, sql: "SELECT \(Self.columns) FROM abandonment_timers WHERE shop = ? AND kind = ? AND subject = ?",
                         arguments: [shop, kind.rawValue, subject]).flatMap(Self.timer)
    }

    func save(_ t: AbandonmentTimer) throws {
        try db.cachedStatement(sql: "INSERT OR REPLACE INTO abandonment_timers (\(Self.columns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
            .execute(arguments: [t.shop, t.kind.rawValue, t.subject, t.visitorId, t.customerId, t.state.rawValue, t.armedAt, t.dueAt,
                                 t.generation, t.detail, t.reason, t.closedAt])
    }

    func cancelArmed(shop: String, kinds: [AbandonmentKind], visitorIds: [String], customerId: String?, subjects: [String],
                     except: String?, reason: String, at: EpochMillis) throws -> [AbandonmentKind] {
        guard !kinds.isEmpty else { return [] }
        var matches: [String] = []
        var arguments: StatementArguments = [reason, at, shop]
        let kindList = kinds.map { _ in "?" }.joined(separator: ", ")
        arguments += StatementArguments(kinds.map(\.rawValue))
        if !visitorIds.isEmpty {
            matches.append("visitor_id IN (\(visitorIds.map { _ in "?" }.joined(separator: ", ")))")
            arguments += StatementArguments(visitorIds)
        }
        if let customerId {
            matches.append("customer_id = ?")
            matches.append("visitor_id IN (SELECT visitor_id FROM visitors WHERE shop = ? AND customer_id = ?)")
            arguments += [customerId, shop, customerId]
        }
        if !subjects.isEmpty {
            matches.append("subject IN (\(subjects.map { _ in "?" }.joined(separator: ", ")))")
            arguments += StatementArguments(subjects)
        }
        guard !matches.isEmpty else { return [] }
        var sql = """
            UPDATE abandonment_timers SET state = 'cancelled', reason = ?, closed_at = ?
            WHERE shop = ? AND state = 'armed' AND kind IN (\(kindList)) AND (\(matches.joined(separator: " OR ")))
            """
        if let except {
            sql += " AND subject <> ?"
            arguments += [except]
        }
        sql += " RETURNING kind"
        return try String.fetchAll(db, sql: sql, arguments: arguments).compactMap(AbandonmentKind.init(rawValue:))
    }

    func hasArmed(shop: String, kinds: [AbandonmentKind], visitorId: String, customerId: String?) throws -> Bool {
        let kindList = kinds.map { _ in "?" }.joined(separator: ", ")
        var arguments: StatementArguments = [shop, visitorId]
        var customerMatch = ""
        if let customerId {
            customerMatch = " OR customer_id = ?"
            arguments += [customerId]
        }
        arguments += StatementArguments(kinds.map(\.rawValue))
        return try Bool.fetchOne(db, sql: """
            SELECT EXISTS (SELECT 1 FROM abandonment_timers WHERE shop = ? AND state = 'armed' AND (visitor_id = ?\(customerMatch)) AND kind IN (\(kindList)))
            """, arguments: arguments) ?? false
    }

    func due(before time: EpochMillis, limit: Int) throws -> [AbandonmentTimer] {
        try Row.fetchAll(db, sql: "SELECT \(Self.columns) FROM abandonment_timers WHERE state = 'armed' AND due_at <= ? ORDER BY due_at LIMIT ?",
                         arguments: [time, limit]).compactMap(Self.timer)
    }

    func lastFired(shop: String, kind: AbandonmentKind, target: String) throws -> EpochMillis? {
        try EpochMillis.fetchOne(db, sql: "SELECT fired_at FROM abandonment_cooldowns WHERE shop = ? AND kind = ? AND target = ?",
                                 arguments: [shop, kind.rawValue, target])
    }

    func setLastFired(shop: String, kind: AbandonmentKind, target: String, at: EpochMillis) throws {
        try db.execute(sql: "INSERT OR REPLACE INTO abandonment_cooldowns (shop, kind, target, fired_at) VALUES (?, ?, ?, ?)",
                       arguments: [shop, kind.rawValue, target, at])
    }

    func count(shop: String, kind: AbandonmentKind, _ outcome: AbandonmentOutcome, by: Int) throws {
        guard by != 0 else { return }
        try db.cachedStatement(sql: """
            INSERT INTO abandonment_counts (shop, kind, outcome, count) VALUES (?, ?, ?, ?)
            ON CONFLICT (shop, kind, outcome) DO UPDATE SET count = count + excluded.count
            """).execute(arguments: [shop, kind.rawValue, outcome.rawValue, by])
    }
}

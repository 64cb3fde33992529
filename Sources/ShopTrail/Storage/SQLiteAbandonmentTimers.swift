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
        try Row.fetchOne(db.cachedStatement(sql: "SELECT \(Self.columns) FROM abandonment_timers WHERE shop = ? AND kind = ? AND subject = ?"),
                         arguments: [shop, kind.rawValue, subject]).flatMap(Self.timer)
    }

    func save(_ t: AbandonmentTimer) throws {
        try db.cachedStatement(sql: "INSERT OR REPLACE INTO abandonment_timers (\(Self.columns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
            .execute(arguments: [t.shop, t.kind.rawValue, t.subject, t.visitorId, t.customerId, t.state.rawValue, t.armedAt, t.dueAt,
                                 t.generation, t.detail, t.reason, t.closedAt])
    }

    func assignUnowned(shop: String, kinds: [AbandonmentKind], visitorId: String, customerId: String) throws {
        guard !kinds.isEmpty else { return }
        var arguments: StatementArguments = [customerId, shop, visitorId]
        arguments += StatementArguments(kinds.map(\.rawValue))
        try db.execute(sql: """
            UPDATE abandonment_timers SET customer_id = ?
            WHERE shop = ? AND state = 'armed' AND visitor_id = ? AND customer_id IS NULL AND kind IN (\(Self.placeholders(kinds.count)))
            """, arguments: arguments)
    }

    func cancelArmed(shop: String, kinds: [AbandonmentKind], visitorIds: [String], customerId: String?, subjects: [String],
                     except: String?, reason: String, at: EpochMillis) throws -> [AbandonmentKind] {
        guard !kinds.isEmpty else { return [] }
        // One statement per way of matching, each on its own index: an OR of them would scan the table.
        var matches: [(String, StatementArguments)] = []
        var visitors = visitorIds
        if let customerId {
            matches.append(("customer_id = ?", [customerId]))
            // Looked up first: as a subquery SQLite would walk the primary key over every timer of the kind.
            visitors += try String.fetchAll(db.cachedStatement(sql: "SELECT visitor_id FROM visitors WHERE shop = ? AND customer_id = ?"),
                                            arguments: [shop, customerId])
                .filter { !visitorIds.contains($0) }
        }
        if !visitors.isEmpty { matches.append(("visitor_id IN (\(Self.placeholders(visitors.count)))", StatementArguments(visitors))) }
        if !subjects.isEmpty { matches.append(("subject IN (\(Self.placeholders(subjects.count)))", StatementArguments(subjects))) }
        var cancelled: [AbandonmentKind] = []
        for (match, matchArguments) in matches {
            var arguments: StatementArguments = [reason, at, shop]
            arguments += StatementArguments(kinds.map(\.rawValue))
            arguments += matchArguments
            var sql = """
                UPDATE abandonment_timers SET state = 'cancelled', reason = ?, closed_at = ?
                WHERE shop = ? AND state = 'armed' AND kind IN (\(Self.placeholders(kinds.count))) AND \(match)
                """
            if let except {
                sql += " AND subject <> ?"
                arguments += [except]
            }
            // Cached: in steady state the text repeats (one kind, one visitor), and preparing costs more than running.
            cancelled += try String.fetchAll(db.cachedStatement(sql: sql + " RETURNING kind"), arguments: arguments).compactMap(AbandonmentKind.init(rawValue:))
        }
        return cancelled
    }

    private static func placeholders(_ count: Int) -> String {
        Array(repeating: "?", count: count).joined(separator: ", ")
    }

    func hasArmed(shop: String, kinds: [AbandonmentKind], visitorId: String, customerId: String?) throws -> Bool {
        let kindList = Self.placeholders(kinds.count)
        let kindValues = StatementArguments(kinds.map(\.rawValue))
        let byVisitor = "SELECT 1 FROM abandonment_timers WHERE shop = ? AND state = 'armed' AND visitor_id = ? AND kind IN (\(kindList))"
        guard let customerId else {
            return try Bool.fetchOne(db.cachedStatement(sql: "SELECT EXISTS (\(byVisitor))"), arguments: [shop, visitorId] + kindValues) ?? false
        }
        let byCustomer = "SELECT 1 FROM abandonment_timers WHERE shop = ? AND state = 'armed' AND customer_id = ? AND kind IN (\(kindList))"
        return try Bool.fetchOne(db.cachedStatement(sql: "SELECT EXISTS (\(byVisitor)) OR EXISTS (\(byCustomer))"),
                                 arguments: [shop, visitorId] + kindValues + [shop, customerId] + kindValues) ?? false
    }

    func due(before time: EpochMillis, limit: Int) throws -> [AbandonmentTimer] {
        try Row.fetchAll(db, sql: "SELECT \(Self.columns) FROM abandonment_timers WHERE state = 'armed' AND due_at <= ? ORDER BY due_at LIMIT ?",
                         arguments: [time, limit]).compactMap(Self.timer)
    }

    func lastFired(shop: String, kind: AbandonmentKind, target: String) throws -> EpochMillis? {
        try EpochMillis.fetchOne(db.cachedStatement(sql: "SELECT fired_at FROM abandonment_cooldowns WHERE shop = ? AND kind = ? AND target = ?"),
                                 arguments: [shop, kind.rawValue, target])
    }

    func setLastFired(shop: String, kind: AbandonmentKind, target: String, at: EpochMillis) throws {
        try db.cachedStatement(sql: "INSERT OR REPLACE INTO abandonment_cooldowns (shop, kind, target, fired_at) VALUES (?, ?, ?, ?)")
            .execute(arguments: [shop, kind.rawValue, target, at])
    }

    func count(shop: String, kind: AbandonmentKind, _ outcome: AbandonmentOutcome, by: Int) throws {
        guard by != 0 else { return }
        try db.cachedStatement(sql: """
            INSERT INTO abandonment_counts (shop, kind, outcome, count) VALUES (?, ?, ?, ?)
            ON CONFLICT (shop, kind, outcome) DO UPDATE SET count = count + excluded.count
            """).execute(arguments: [shop, kind.rawValue, outcome.rawValue, by])
    }

    func armed(shop: String) throws -> [AbandonmentKind: (count: Int, nextDueAt: EpochMillis?)] {
        let rows = try Row.fetchAll(db.cachedStatement(sql: """
            SELECT kind, COUNT(*) AS armed, MIN(due_at) AS next FROM abandonment_timers WHERE shop = ? AND state = 'armed' GROUP BY kind
            """), arguments: [shop])
        var result: [AbandonmentKind: (count: Int, nextDueAt: EpochMillis?)] = [:]
        for row in rows {
            if let kind = AbandonmentKind(rawValue: row["kind"]) { result[kind] = (row["armed"], row["next"]) }
        }
        return result
    }

    func outcomes(shop: String) throws -> [AbandonmentKind: [AbandonmentOutcome: Int]] {
        var result: [AbandonmentKind: [AbandonmentOutcome: Int]] = [:]
        for row in try Row.fetchAll(db.cachedStatement(sql: "SELECT kind, outcome, count FROM abandonment_counts WHERE shop = ?"), arguments: [shop]) {
            if let kind = AbandonmentKind(rawValue: row["kind"]), let outcome = AbandonmentOutcome(rawValue: row["outcome"]) {
                result[kind, default: [:]][outcome] = row["count"]
            }
        }
        return result
    }
}

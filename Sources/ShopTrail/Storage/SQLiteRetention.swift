import GRDB

/// How long what grows with traffic is kept (`server.retention`; docs/operations.md, "Limits and cost bound").
public struct RetentionConfig: Sendable, Equatable {
    /// Events already processed, closed abandonment timers, carts and security counters older than this are deleted.
    public var days = 90
    /// A visitor linked to a customer and not seen for this long is forgotten (anonymous ones after `days`).
    public var linkedVisitorDays = 400

    public init() {}
}

/// Deletes what outlived the retention. Candidates are found in a read transaction (WAL readers
/// never block the writer), then deleted by key, a few thousand per write transaction with the
/// conditions checked again, so the writer that beacons wait for is never held for long.
enum SQLiteRetention {
    static let rowsPerStep = 2_000

    /// What one step deletes: per table, the keys found and the condition re-checked at deletion.
    struct Step {
        var deletes: [(sql: String, keys: [Int64], arguments: StatementArguments)] = []
        /// Bounded deletes that find their own rows.
        var direct: [(sql: String, arguments: StatementArguments)] = []
    }

    static func plan(_ db: Database, now: EpochMillis, retention: RetentionConfig, processedUpTo position: Int64) throws -> Step {
        let cutoff = now - EpochMillis(retention.days) * 86_400_000
        let linkedCutoff = now - EpochMillis(retention.linkedVisitorDays) * 86_400_000
        let limit = rowsPerStep
        var step = Step()
        func add(_ select: String, _ selectArguments: StatementArguments, delete: String, _ deleteArguments: StatementArguments) throws {
            let keys = try Int64.fetchAll(db, sql: select + " LIMIT \(limit)", arguments: selectArguments)
            step.deletes.append((delete, keys, deleteArguments))
        }
        // The oldest processed events (the log is in time order): the processor must see every event once.
        try add("SELECT position FROM (SELECT position, received_at FROM events WHERE position <= ? ORDER BY position LIMIT \(limit)) WHERE received_at < ?",
                [position, cutoff], delete: "DELETE FROM events WHERE position <= ? AND received_at < ? AND position IN", [position, cutoff])
        // Timers have no rowid (WITHOUT ROWID): their closed rows are found and deleted in one bounded statement.
        step.direct.append(("""
            DELETE FROM abandonment_timers WHERE (shop, kind, subject) IN
            (SELECT shop, kind, subject FROM abandonment_timers WHERE state <> 'armed' AND closed_at < ? LIMIT \(limit))
            """, [cutoff]))
        let ownerless = "COALESCE(sent_time, 0) < ? AND NOT EXISTS (SELECT 1 FROM visitors v WHERE v.shop = carts.shop AND v.visitor_id = carts.visitor_id)"
        try add("SELECT rowid FROM carts WHERE \(ownerless)", [cutoff], delete: "DELETE FROM carts WHERE \(ownerless) AND rowid IN", [cutoff])
        // Only the 30-minute de-duplication reads product views.
        try add("SELECT rowid FROM product_views WHERE time < ?", [now - 86_400_000], delete: "DELETE FROM product_views WHERE time < ? AND rowid IN", [now - 86_400_000])
        try add("SELECT rowid FROM security_counts WHERE day < ?", [cutoff / 86_400_000],
                delete: "DELETE FROM security_counts WHERE day < ? AND rowid IN", [cutoff / 86_400_000])
        try add("SELECT rowid FROM security_events WHERE at < ?", [cutoff], delete: "DELETE FROM security_events WHERE at < ? AND rowid IN", [cutoff])
        // Anonymous visitors after `days`, linked ones after `linked_visitor_days`; their carts lose their owner.
        let stale = "((customer_id IS NULL AND last_seen < ?) OR last_seen < ?)"
        try add("SELECT rowid FROM visitors WHERE \(stale)", [cutoff, linkedCutoff], delete: "DELETE FROM visitors WHERE \(stale) AND rowid IN", [cutoff, linkedCutoff])
        try add("SELECT l.id FROM visitor_links l WHERE l.linked_at < ? AND NOT EXISTS (SELECT 1 FROM visitors v WHERE v.shop = l.shop AND v.visitor_id = l.visitor_id)",
                [linkedCutoff], delete: "DELETE FROM visitor_links WHERE linked_at < ? AND id IN", [linkedCutoff])
        let orphan = "NOT EXISTS (SELECT 1 FROM events e WHERE e.context_id = event_contexts.id)"
        try add("SELECT id FROM event_contexts WHERE \(orphan)", [], delete: "DELETE FROM event_contexts WHERE \(orphan) AND id IN", [])
        return step
    }

    /// Deletes a planned step; returns the rows deleted.
    static func apply(_ step: Step, _ db: Database) throws -> Int {
        var deleted = 0
        for (sql, keys, arguments) in step.deletes where !keys.isEmpty {
            try db.execute(sql: sql + " (SELECT value FROM json_each(?))", arguments: arguments + [SQLiteList.of(keys)])
            deleted += db.changesCount
        }
        for (sql, arguments) in step.direct {
            try db.execute(sql: sql, arguments: arguments)
            deleted += db.changesCount
        }
        return deleted
    }
}

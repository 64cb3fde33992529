import GRDB

/// Which events of the SQLite log are a visitor's, without an index on the log itself.
///
/// An index on `events (shop, visitor_id, position)` put a random page of it into every group commit
/// (each beacon's visitor lands somewhere else in it): about half the pages a beacon's commit wrote,
/// and the checkpoint copied back. Instead the processor records `(shop, visitor_id, position)` in
/// `visitor_events` as its cursor moves past each event, in the transaction that moves it, and the
/// events it has not reached are found by scanning the log above the cursor (short, unless the
/// processor is far behind). A trigger removes a deleted event's row, whichever path deleted it.
enum SQLiteVisitorEvents {
    /// The processor's cursor, as an SQL expression.
    static let cursor = "(SELECT COALESCE(MAX(position), 0) FROM processor_position WHERE name = '\(SQLiteProcessorLog.positionName)')"

    /// A subquery of the positions of one visitor's events, for `position IN (…)`.
    /// Arguments: shop, visitor id, shop, visitor id. (`+shop`: the tail is read by its rowid range;
    /// SQLite would otherwise take `events_dedupe (shop, …)` and visit every event of the shop.)
    static let positionsOfOne = """
        SELECT position FROM visitor_events WHERE shop = ? AND visitor_id = ?
        UNION ALL SELECT position FROM events WHERE position > \(cursor) AND +shop = ? AND visitor_id = ?
        """

    /// The same for several visitors, `marks` being their placeholders (`?, ?, …`) or a subquery.
    /// Arguments: shop, those of `marks`, shop, those of `marks` again.
    static func positions(ofAny marks: String) -> String {
        """
        SELECT position FROM visitor_events WHERE shop = ? AND visitor_id IN (\(marks))
        UNION ALL SELECT position FROM events WHERE position > \(cursor) AND +shop = ? AND visitor_id IN (\(marks))
        """
    }

    /// Records the events after `from` up to `to` (the cursor's move); already recorded ones stay.
    static func record(_ db: Database, after from: Int64, upTo to: Int64) throws {
        guard to > from else { return }
        try db.cachedStatement(sql: """
            INSERT OR IGNORE INTO visitor_events (shop, visitor_id, position)
            SELECT shop, visitor_id, position FROM events WHERE position > ? AND position <= ? AND visitor_id IS NOT NULL
            """).execute(arguments: [from, to])
    }

    static func migrate(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v18-visitor-events") { db in
            // Every event with a visitor is recorded here once (the processor's later records are ignored).
            try db.execute(sql: """
                CREATE TABLE visitor_events (
                    shop TEXT NOT NULL, visitor_id TEXT NOT NULL, position INTEGER NOT NULL,
                    PRIMARY KEY (shop, visitor_id, position)
                ) WITHOUT ROWID;
                INSERT INTO visitor_events (shop, visitor_id, position) SELECT shop, visitor_id, position FROM events WHERE visitor_id IS NOT NULL;
                CREATE TRIGGER events_forget_visitor AFTER DELETE ON events WHEN OLD.visitor_id IS NOT NULL BEGIN
                    DELETE FROM visitor_events WHERE shop = OLD.shop AND visitor_id = OLD.visitor_id AND position = OLD.position;
                END;
                DROP INDEX events_visitor;
                """)
        }
    }
}

import GRDB

/// An event the processor set aside because handling it failed or stopped the process (issue 14's
/// crash-only safety net); it stays in the log and can be retried by command.
public struct QuarantinedEvent: Sendable, Equatable {
    public var position: Int64
    public var shop: String
    public var eventId: String
    public var name: String
    public var reason: String
    public var at: EpochMillis
}

/// The processor's crash-only bookkeeping, in the database: whether the last run stopped cleanly,
/// the event being handled alone right now, and the quarantine.
enum SQLiteProcessorRun {
    static let name = "storefront"

    static func migrate(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v14-processor-quarantine") { db in
            try db.execute(sql: """
                CREATE TABLE processor_run (name TEXT PRIMARY KEY, running INTEGER NOT NULL, attempting INTEGER, started_at INTEGER NOT NULL);
                CREATE TABLE processor_quarantine (
                    position INTEGER PRIMARY KEY, shop TEXT NOT NULL, event_id TEXT NOT NULL, name TEXT NOT NULL, reason TEXT NOT NULL, at INTEGER NOT NULL
                );
                CREATE INDEX processor_quarantine_shop ON processor_quarantine (shop);
                """)
        }
    }

    /// Starts a run: returns whether the previous one stopped uncleanly and the event it was handling
    /// alone when it stopped (if any), then records this run as running with nothing being attempted.
    static func begin(_ db: Database, at now: EpochMillis) throws -> (unclean: Bool, attempting: Int64?) {
        let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT running, attempting FROM processor_run WHERE name = ?"), arguments: [name])
        let unclean = (row?["running"] as Int64?) == 1
        let attempting: Int64? = row?["attempting"]
        try db.cachedStatement(sql: "INSERT OR REPLACE INTO processor_run (name, running, attempting, started_at) VALUES (?, 1, NULL, ?)").execute(arguments: [name, now])
        return (unclean, attempting)
    }

    static func end(_ db: Database) throws {
        try db.cachedStatement(sql: "UPDATE processor_run SET running = 0, attempting = NULL WHERE name = ?").execute(arguments: [name])
    }

    /// The event about to be handled alone (nil: none). Committed before handling, so a process that
    /// dies while handling it leaves its position behind.
    static func setAttempting(_ db: Database, _ position: Int64?) throws {
        try db.cachedStatement(sql: "UPDATE processor_run SET attempting = ? WHERE name = ?").execute(arguments: [position, name])
    }

    static func quarantine(_ db: Database, position: Int64, reason: String, at: EpochMillis) throws {
        let event = try Row.fetchOne(db.cachedStatement(sql: "SELECT shop, event_id, name FROM events WHERE position = ?"), arguments: [position])
        try db.execute(sql: "INSERT OR REPLACE INTO processor_quarantine (position, shop, event_id, name, reason, at) VALUES (?, ?, ?, ?, ?, ?)",
                       arguments: [position, event?["shop"] as String? ?? "", event?["event_id"] as String? ?? "", event?["name"] as String? ?? "",
                                   String(reason.prefix(500)), at])
    }

    static func quarantined(_ db: Database, shop: String?, limit: Int) throws -> [QuarantinedEvent] {
        var sql = "SELECT position, shop, event_id, name, reason, at FROM processor_quarantine"
        var arguments: StatementArguments = []
        if let shop { sql += " WHERE shop = ?"; arguments += [shop] }
        sql += " ORDER BY position LIMIT ?"
        arguments += [limit]
        return try Row.fetchAll(db, sql: sql, arguments: arguments).map {
            QuarantinedEvent(position: $0["position"], shop: $0["shop"], eventId: $0["event_id"], name: $0["name"], reason: $0["reason"], at: $0["at"])
        }
    }

    static func quarantineCount(_ db: Database, shop: String?) throws -> Int {
        guard let shop else { return try Int.fetchOne(db.cachedStatement(sql: "SELECT COUNT(*) FROM processor_quarantine")) ?? 0 }
        return try Int.fetchOne(db.cachedStatement(sql: "SELECT COUNT(*) FROM processor_quarantine WHERE shop = ?"), arguments: [shop]) ?? 0
    }

    static func release(_ db: Database, position: Int64) throws {
        try db.cachedStatement(sql: "DELETE FROM processor_quarantine WHERE position = ?").execute(arguments: [position])
    }

    /// The event at `position`, if the log still holds it.
    static func event(_ db: Database, position: Int64) throws -> LoggedEvent? {
        try Row.fetchOne(db, sql: "SELECT \(SQLiteEventStore.eventColumns) FROM events WHERE position = ?", arguments: [position]).map(SQLiteEventStore.loggedEvent)
    }
}

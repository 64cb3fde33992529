import Foundation
import GRDB

/// How hard SQLite works to make a commit durable (`PRAGMA synchronous`).
public enum SQLiteSynchronous: String, Sendable, CaseIterable {
    /// fsync the WAL on every commit: an acknowledged event survives power loss. The default.
    case full
    /// fsync only at checkpoints: survives a process crash, may lose the last commits on power loss.
    case normal
}

/// The embedded event log: one SQLite file in WAL mode, written through a group committer.
public final class SQLiteEventStore: EventStore {
    public let path: String
    private let pool: DatabasePool
    private let committer: GroupCommitter<[NewEvent], AppendResult>

    /// Opens (creating if needed) the database at `path` and runs pending migrations.
    public init(path: String, synchronous: SQLiteSynchronous = .full) throws {
        self.path = path
        var config = Configuration()
        config.busyMode = .timeout(10)
        config.label = "shoptrail"
        let pragma = synchronous.rawValue.uppercased()
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(pragma)")
        }
        let pool = try DatabasePool(path: path, configuration: config)
        try SQLiteMigrations.migrator.migrate(pool)
        self.pool = pool
        self.committer = GroupCommitter(label: "shoptrail.event-log") { groups in
            try pool.write { db in
                try SQLiteEventStore.insert(groups, db: db)
            }
        }
    }

    static let insertSQL = """
        INSERT INTO events (shop, source, event_id, name, visitor_id, session_id, client_time, time, received_at, context, properties)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (shop, source, event_id) DO NOTHING
        """

    static func insert(_ groups: [[NewEvent]], db: Database) throws -> [AppendResult] {
        let statement = try db.cachedStatement(sql: insertSQL)
        return try groups.map { events in
            var inserted = 0
            for e in events {
                try statement.execute(arguments: [
                    e.shop, e.source.rawValue, e.eventId, e.name, e.visitorId, e.sessionId,
                    e.clientTime, e.time, e.receivedAt, e.context, e.properties,
                ])
                if db.changesCount > 0 { inserted += 1 }
            }
            return AppendResult(inserted: inserted, duplicates: events.count - inserted)
        }
    }

    public func append(_ events: [NewEvent]) async throws -> AppendResult {
        try await committer.submit(events)
    }

    public func events(after position: Int64, limit: Int) async throws -> [LoggedEvent] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT position, shop, source, event_id, name, visitor_id, session_id, client_time, time, received_at, context, properties
                    FROM events WHERE position > ? ORDER BY position LIMIT ?
                    """,
                arguments: [position, limit]
            ).map { row in
                LoggedEvent(
                    position: row["position"],
                    event: NewEvent(
                        shop: row["shop"],
                        source: EventSource(rawValue: row["source"]) ?? .storefront,
                        eventId: row["event_id"], name: row["name"],
                        visitorId: row["visitor_id"], sessionId: row["session_id"],
                        clientTime: row["client_time"], time: row["time"], receivedAt: row["received_at"],
                        context: row["context"], properties: row["properties"]
                    )
                )
            }
        }
    }

    public func eventCount() async throws -> Int {
        try await pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM events") ?? 0 }
    }

    public func checkHealth() async throws {
        _ = try await pool.read { db in try Int.fetchOne(db, sql: "SELECT 1") }
    }

    public func commitStats() -> CommitStats { committer.stats }
}

/// Schema migrations, in code, applied at open.
enum SQLiteMigrations {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-event-log") { db in
            // position is the log's read cursor: AUTOINCREMENT so it never reuses a purged position.
            try db.execute(sql: """
                CREATE TABLE events (
                    position INTEGER PRIMARY KEY AUTOINCREMENT,
                    shop TEXT NOT NULL,
                    source TEXT NOT NULL,
                    event_id TEXT NOT NULL,
                    name TEXT NOT NULL,
                    visitor_id TEXT,
                    session_id TEXT,
                    client_time INTEGER,
                    time INTEGER NOT NULL,
                    received_at INTEGER NOT NULL,
                    context TEXT,
                    properties TEXT NOT NULL
                );
                CREATE UNIQUE INDEX events_dedupe ON events (shop, source, event_id);
                """)
        }
        return migrator
    }
}

import Foundation
import GRDB
import GRDBSQLite

/// How hard SQLite works to make a commit durable (`PRAGMA synchronous`).
public enum SQLiteSynchronous: String, Sendable, CaseIterable {
    /// fsync the WAL on every commit: an acknowledged event survives power loss. The default.
    case full
    /// fsync only at checkpoints: survives a process crash, may lose the last commits on power loss.
    case normal
}

/// The embedded database: one SQLite file in WAL mode holding the event log, the outbox and later
/// stages' state, migrated at open. Stores built on it share its connection pool.
public final class SQLiteDatabase: Sendable {
    public let path: String
    let pool: DatabasePool
    /// Every write to the file goes through it: ingest first, background work in the gaps.
    public let writes: SQLiteWriteScheduler
    /// Signalled after events are committed to the log (the processor waits on it).
    public let logAppended = StageWakeup()
    /// Signalled after a commit that may have added Braze operations to the outbox (the forwarder waits on it).
    public let outboxFilled = StageWakeup()
    /// Copies the WAL back into the file off the commit path.
    let checkpointer: SQLiteCheckpointer

    public init(path: String, synchronous: SQLiteSynchronous = .full) throws {
        self.path = path
        let checkpointer = SQLiteCheckpointer(path: path)
        self.checkpointer = checkpointer
        var config = Configuration()
        config.busyMode = .timeout(10)
        config.label = "shoptrail"
        let pragma = synchronous.rawValue.uppercased()
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(pragma)")
            // Deleted rows (a redacted customer) are overwritten with zeros, not left in free space.
            try db.execute(sql: "PRAGMA secure_delete = ON")
            // The writer's WAL is copied back by the checkpointer's thread, not inside a beacon's commit.
            if !db.configuration.readonly, let connection = db.sqliteConnection { checkpointer.install(on: connection) }
        }
        // The file is created 0600 before SQLite opens it: SQLite gives the -wal and -shm files the
        // database file's mode, so no file of the store is ever readable by another local user.
        if path != ":memory:", !path.isEmpty {
            if PrivateFiles.mode(path) == nil {
                do { try PrivateFiles.createNew(path, contents: Data()) } catch let error as PrivateFiles.Failure where error.code == EEXIST {}
            }
            for file in [path, path + "-wal", path + "-shm"] { PrivateFiles.tighten(file) }
        }
        pool = try DatabasePool(path: path, configuration: config)
        // Priorities on; `SHOPTRAIL_WRITE_SCHEDULER=off` (first come, first served) only for the benchmark's
        // before/after comparison in one run (docs/benchmarks.md).
        writes = SQLiteWriteScheduler(pool: pool, prioritizes: ProcessInfo.processInfo.environment["SHOPTRAIL_WRITE_SCHEDULER"] != "off")
        try SQLiteMigrations.migrator.migrate(pool)
    }

    /// One background write transaction (see `SQLiteWriteScheduler`).
    func backgroundWrite<T: Sendable>(_ budget: WriteBudget = .short, _ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await writes.background(budget, body)
    }
}

/// The embedded event log, written through a group committer.
public final class SQLiteEventStore: EventStore {
    public let database: SQLiteDatabase
    public var path: String { database.path }
    private var pool: DatabasePool { database.pool }
    private let committer: GroupCommitter<[NewEvent], AppendResult>

    /// Opens (creating if needed) the database at `path` and runs pending migrations.
    public convenience init(path: String, synchronous: SQLiteSynchronous = .full) throws {
        try self.init(database: SQLiteDatabase(path: path, synchronous: synchronous))
    }

    public init(database: SQLiteDatabase) {
        self.database = database
        let writes = database.writes
        let appended = database.logAppended
        self.committer = GroupCommitter(label: "shoptrail.event-log", activity: { writes.ingestActivity($0) }) { groups in
            let results = try writes.ingest(batches: groups.count) { db in
                try SQLiteEventStore.insert(groups, db: db)
            }
            appended.signal()
            return results
        }
    }

    static let insertSQL = """
        INSERT INTO events (shop, source, event_id, name, visitor_id, session_id, client_time, time, received_at, context, properties, verified, context_id)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (shop, source, event_id) DO NOTHING
        """
    static let insertContextSQL = "INSERT INTO event_contexts (shop, text) VALUES (?, ?)"
    static let dropContextSQL = "DELETE FROM event_contexts WHERE id = ?"

    static func insert(_ groups: [[NewEvent]], db: Database) throws -> [AppendResult] {
        let statement = try db.cachedStatement(sql: insertSQL)
        let insertContext = try db.cachedStatement(sql: insertContextSQL)
        // Bound through the C API: GRDB's StatementArguments box every value, which showed up as
        // a measurable share of the ingest profile.
        let handle = statement.sqliteStatement
        return try groups.map { events in
            var inserted = 0
            // A batch's context is stored once for all its events (issue 14: it used to be copied into
            // each, 8 KiB times 100), written before them so that each event row is written once; a
            // retried batch whose events were all stored already takes its context row back out. A lone
            // event keeps its context inline.
            let shared = NewEvent.sharedContext(of: events)
            var contextId: Int64?
            if let shared, let first = events.first {
                try insertContext.execute(arguments: [first.shop, shared])
                contextId = db.lastInsertedRowID
            }
            for e in events {
                sqlite3_reset(handle)
                bind(handle, 1, e.shop)
                bind(handle, 2, e.source.rawValue)
                bind(handle, 3, e.eventId)
                bind(handle, 4, e.name)
                bind(handle, 5, e.visitorId)
                bind(handle, 6, e.sessionId)
                bind(handle, 7, e.clientTime)
                bind(handle, 8, e.time)
                bind(handle, 9, e.receivedAt)
                bind(handle, 10, shared == nil ? e.context : nil)
                bind(handle, 11, e.properties)
                bind(handle, 12, e.verified)
                bind(handle, 13, contextId)
                let code = sqlite3_step(handle)
                guard code == SQLITE_DONE else {
                    let message = String(cString: sqlite3_errmsg(db.sqliteConnection))
                    sqlite3_reset(handle)
                    throw DatabaseError(resultCode: ResultCode(rawValue: code), message: message, sql: insertSQL)
                }
                if sqlite3_changes(db.sqliteConnection) > 0 { inserted += 1 }
            }
            sqlite3_reset(handle)
            sqlite3_clear_bindings(handle)
            if inserted == 0, let contextId {
                try db.cachedStatement(sql: dropContextSQL).execute(arguments: [contextId])
            }
            return AppendResult(inserted: inserted, duplicates: events.count - inserted)
        }
    }

    /// SQLITE_TRANSIENT: SQLite copies the text before `withCString`'s buffer goes away.
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    private static func bind(_ handle: OpaquePointer?, _ index: Int32, _ value: String?) {
        guard var value else {
            sqlite3_bind_null(handle, index)
            return
        }
        value.withUTF8 { buffer in
            guard let base = buffer.baseAddress, !buffer.isEmpty else {
                _ = sqlite3_bind_text(handle, index, "", 0, transient)
                return
            }
            _ = sqlite3_bind_text(handle, index, UnsafeRawPointer(base).assumingMemoryBound(to: CChar.self), Int32(buffer.count), transient)
        }
    }

    private static func bind(_ handle: OpaquePointer?, _ index: Int32, _ value: Int64?) {
        if let value { sqlite3_bind_int64(handle, index, value) } else { sqlite3_bind_null(handle, index) }
    }

    public func append(_ events: [NewEvent]) async throws -> AppendResult {
        try await committer.submit(events)
    }

    public func events(after position: Int64, limit: Int) async throws -> [LoggedEvent] {
        try await pool.read { db in try Self.events(db, after: position, limit: limit) }
    }

    /// The log read by position: the events after `position`, oldest first, at most `limit`.
    static func events(_ db: Database, after position: Int64, limit: Int) throws -> [LoggedEvent] {
        try Row.fetchAll(db.cachedStatement(sql: eventsAfterSQL), arguments: [position, limit]).map(loggedEvent)
    }

    static let eventsAfterSQL = "SELECT \(eventColumns) FROM events WHERE position > ? ORDER BY position LIMIT ?"
    /// The columns every event query selects, in `loggedEvent`'s order.
    static let eventColumns = "position, shop, source, event_id, name, visitor_id, session_id, client_time, time, received_at, \(contextColumn), properties, verified"
    /// An event's context, inline or shared with its batch (`FROM events`, not aliased).
    static let contextColumn = contextExpression + " AS context"
    /// The same, as an expression (`FROM events`, not aliased).
    static let contextExpression = "COALESCE(context, (SELECT text FROM event_contexts WHERE id = events.context_id))"
    /// Deletes events matching `condition` (an SQL expression on `events`), and the shared contexts only
    /// they referred to; returns how many events went. The contexts to check come back from the delete
    /// itself, so no scan of `event_contexts` holds the write lock.
    static func deleteEvents(_ db: Database, where condition: String, arguments: StatementArguments) throws -> Int {
        let contexts = try Int64?.fetchAll(db, sql: "DELETE FROM events WHERE \(condition) RETURNING context_id", arguments: arguments)
        let candidates = Set(contexts.compactMap { $0 })
        if !candidates.isEmpty {
            try db.execute(sql: """
                DELETE FROM event_contexts WHERE id IN (SELECT value FROM json_each(?))
                AND NOT EXISTS (SELECT 1 FROM events WHERE events.context_id = event_contexts.id)
                """, arguments: [SQLiteList.of(candidates)])
        }
        return contexts.count
    }

    static func loggedEvent(_ row: Row) -> LoggedEvent {
        LoggedEvent(
            position: row["position"],
            event: NewEvent(
                shop: row["shop"],
                source: EventSource(rawValue: row["source"]) ?? .storefront,
                eventId: row["event_id"], name: row["name"],
                visitorId: row["visitor_id"], sessionId: row["session_id"],
                clientTime: row["client_time"], time: row["time"], receivedAt: row["received_at"],
                context: row["context"], properties: row["properties"], verified: row["verified"]
            )
        )
    }

    public func eventCount() async throws -> Int {
        try await pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM events") ?? 0 }
    }

    public func checkHealth() async throws {
        _ = try await pool.read { db in try Int.fetchOne(db, sql: "SELECT 1") }
    }

    public func commitStats() -> CommitStats {
        var stats = committer.stats
        stats.writes = database.writes.stats
        return stats
    }
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
        migrator.registerMigration("v2-outbox") { db in
            // seq orders delivery; (shop, op_id) makes enqueueing a replayed operation a no-op.
            try db.execute(sql: """
                CREATE TABLE outbox (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    op_id TEXT NOT NULL,
                    shop TEXT NOT NULL,
                    user_key TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    payload TEXT NOT NULL,
                    created_at INTEGER NOT NULL,
                    attempts INTEGER NOT NULL DEFAULT 0,
                    next_attempt_at INTEGER NOT NULL DEFAULT 0,
                    lease_until INTEGER NOT NULL DEFAULT 0,
                    last_error TEXT
                );
                CREATE UNIQUE INDEX outbox_op ON outbox (shop, op_id);
                CREATE INDEX outbox_shop_seq ON outbox (shop, seq);
                CREATE TABLE outbox_dead (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    op_id TEXT NOT NULL,
                    shop TEXT NOT NULL,
                    user_key TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    payload TEXT NOT NULL,
                    created_at INTEGER NOT NULL,
                    attempts INTEGER NOT NULL,
                    reason TEXT NOT NULL,
                    died_at INTEGER NOT NULL
                );
                CREATE UNIQUE INDEX outbox_dead_op ON outbox_dead (shop, op_id);
                """)
        }
        migrator.registerMigration("v3-identity") { db in
            try db.execute(sql: """
                CREATE INDEX events_visitor ON events (shop, visitor_id, position);
                CREATE TABLE processor_position (name TEXT PRIMARY KEY, position INTEGER NOT NULL);
                CREATE TABLE visitors (
                    shop TEXT NOT NULL, visitor_id TEXT NOT NULL, customer_id TEXT, linked_at INTEGER, evidence TEXT,
                    has_alias_profile INTEGER NOT NULL DEFAULT 0, alias_identified_as TEXT,
                    first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL,
                    PRIMARY KEY (shop, visitor_id)
                );
                CREATE INDEX visitors_customer ON visitors (shop, customer_id);
                CREATE TABLE visitor_links (
                    id INTEGER PRIMARY KEY AUTOINCREMENT, shop TEXT NOT NULL, visitor_id TEXT NOT NULL,
                    customer_id TEXT NOT NULL, evidence TEXT NOT NULL, linked_at INTEGER NOT NULL
                );
                CREATE INDEX visitor_links_visitor ON visitor_links (shop, visitor_id);
                CREATE TABLE customers (
                    shop TEXT NOT NULL, customer_id TEXT NOT NULL, email TEXT, first_name TEXT, last_name TEXT, phone TEXT,
                    sent_attributes TEXT, PRIMARY KEY (shop, customer_id)
                );
                CREATE TABLE carts (
                    shop TEXT NOT NULL, cart_token TEXT NOT NULL, visitor_id TEXT, sent_signature TEXT, sent_time INTEGER,
                    checked_out INTEGER NOT NULL DEFAULT 0, aliased_to TEXT, checkout_token TEXT,
                    PRIMARY KEY (shop, cart_token)
                );
                CREATE INDEX carts_visitor ON carts (shop, visitor_id);
                CREATE TABLE product_views (
                    shop TEXT NOT NULL, visitor_id TEXT NOT NULL, product_key TEXT NOT NULL, time INTEGER NOT NULL,
                    PRIMARY KEY (shop, visitor_id, product_key)
                );
                CREATE TABLE security_events (
                    id INTEGER PRIMARY KEY AUTOINCREMENT, shop TEXT NOT NULL, visitor_id TEXT, kind TEXT NOT NULL,
                    detail TEXT NOT NULL, at INTEGER NOT NULL
                );
                """)
        }
        migrator.registerMigration("v4-shopify") { db in
            try db.execute(sql: """
                CREATE TABLE sent_once (shop TEXT NOT NULL, key TEXT NOT NULL, PRIMARY KEY (shop, key));
                CREATE TABLE shopify_resources (
                    shop TEXT NOT NULL, kind TEXT NOT NULL, id TEXT NOT NULL, updated_at INTEGER NOT NULL,
                    body TEXT, deleted INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (shop, kind, id)
                );
                CREATE TABLE shop_state (shop TEXT PRIMARY KEY, uninstalled_at INTEGER);
                CREATE TABLE audit_log (
                    id INTEGER PRIMARY KEY AUTOINCREMENT, shop TEXT NOT NULL, action TEXT NOT NULL, detail TEXT NOT NULL, at INTEGER NOT NULL
                );
                """)
        }
        migrator.registerMigration("v5-abandonment") { db in
            // One row per (kind, subject), re-armed in place; the partial indexes keep the scheduler's
            // and the cancellations' lookups on armed rows only, however many closed rows accumulate.
            try db.execute(sql: """
                CREATE TABLE abandonment_timers (
                    shop TEXT NOT NULL, kind TEXT NOT NULL, subject TEXT NOT NULL, visitor_id TEXT, customer_id TEXT,
                    state TEXT NOT NULL, armed_at INTEGER NOT NULL, due_at INTEGER NOT NULL, generation INTEGER NOT NULL,
                    detail TEXT NOT NULL, reason TEXT, closed_at INTEGER,
                    PRIMARY KEY (shop, kind, subject)
                ) WITHOUT ROWID;
                CREATE INDEX abandonment_due ON abandonment_timers (due_at) WHERE state = 'armed';
                CREATE INDEX abandonment_visitor ON abandonment_timers (shop, visitor_id) WHERE state = 'armed';
                CREATE INDEX abandonment_customer ON abandonment_timers (shop, customer_id) WHERE state = 'armed';
                CREATE TABLE abandonment_cooldowns (
                    shop TEXT NOT NULL, kind TEXT NOT NULL, target TEXT NOT NULL, fired_at INTEGER NOT NULL, PRIMARY KEY (shop, kind, target)
                ) WITHOUT ROWID;
                CREATE TABLE abandonment_counts (
                    shop TEXT NOT NULL, kind TEXT NOT NULL, outcome TEXT NOT NULL, count INTEGER NOT NULL, PRIMARY KEY (shop, kind, outcome)
                ) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("v6-backfill") { db in
            // One job per shop; staging holds what the backfill fetched until it is enqueued (seq: fetch order, the checkpoint's unit).
            try db.execute(sql: """
                CREATE TABLE backfill_jobs (
                    shop TEXT PRIMARY KEY, state TEXT NOT NULL, reason TEXT, phase TEXT, window_start INTEGER, requested_days INTEGER,
                    days INTEGER, warning TEXT, checkpoint TEXT NOT NULL, counts TEXT NOT NULL, started_at INTEGER, finished_at INTEGER,
                    runs INTEGER NOT NULL DEFAULT 0
                );
                CREATE TABLE backfill_staging (
                    shop TEXT NOT NULL, kind TEXT NOT NULL, id TEXT NOT NULL, seq INTEGER NOT NULL, body TEXT NOT NULL,
                    PRIMARY KEY (shop, kind, id)
                );
                CREATE INDEX backfill_staging_seq ON backfill_staging (shop, kind, seq);
                """)
        }
        migrator.registerMigration("v13-verified") { db in
            // Server-verified facts get a column of their own, out of reach of any request body. Rows
            // written before carry theirs inside `context`, where a forged key could hide: they are not read.
            try db.execute(sql: "ALTER TABLE events ADD COLUMN verified TEXT")
        }
        SQLiteProcessorRun.migrate(&migrator)
        migrator.registerMigration("v15-shared-contexts") { db in
            try db.execute(sql: """
                CREATE TABLE event_contexts (id INTEGER PRIMARY KEY AUTOINCREMENT, shop TEXT NOT NULL, text TEXT NOT NULL);
                CREATE INDEX event_contexts_shop ON event_contexts (shop);
                ALTER TABLE events ADD COLUMN context_id INTEGER;
                CREATE INDEX events_context ON events (context_id) WHERE context_id IS NOT NULL;
                """)
        }
        migrator.registerMigration("v16-security-counts") { db in
            try db.execute(sql: """
                CREATE TABLE security_counts (
                    shop TEXT NOT NULL, kind TEXT NOT NULL, detail TEXT NOT NULL, day INTEGER NOT NULL, count INTEGER NOT NULL,
                    first_at INTEGER NOT NULL, last_at INTEGER NOT NULL, PRIMARY KEY (shop, kind, detail, day)
                );
                """)
        }
        SQLiteOperatorViews.migrate(&migrator)
        SQLiteVisitorEvents.migrate(&migrator)
        return migrator
    }
}

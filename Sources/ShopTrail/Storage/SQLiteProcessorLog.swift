import GRDB

/// The processor's side of the event log: how far it has read, the transactions it handles events
/// in, its crash-only run record and quarantine, and the deletions past retention (repository: the
/// processor decides, `Storage/` holds the SQL and the write lock).
public protocol ProcessorLog: Sendable {
    /// Records the start of a run. After an unclean stop, sets aside the event the last run died on
    /// while handling it alone (returned); `unclean` says whether the last run stopped uncleanly.
    func beginRun(at now: EpochMillis, reason: String) async throws -> (unclean: Bool, quarantined: Int64?)
    /// Records a clean stop (synchronous: it runs after cancellation).
    func endRun() throws
    /// The next unread event, committed as being attempted alone before it is handled.
    func nextAlone() async throws -> LoggedEvent?
    /// Handles an event alone: `body`, the new position and "nothing attempted" commit together.
    func handleAlone(_ event: LoggedEvent, _ body: @escaping @Sendable (any ProcessorState) throws -> Void) async throws
    /// Nothing is being attempted any more (the attempt failed for a passing reason).
    func clearAttempt() async throws
    /// Quarantines the event at `position` and moves the log past it, nothing left being attempted.
    func setAside(position: Int64, reason: String, at now: EpochMillis) async throws
    /// Reads up to `limit` unread events and hands them to `body`, which returns how many it handled;
    /// their effects and the position after the last handled one commit together. Returns that count.
    func handleChunk(limit: Int, _ body: @escaping @Sendable ([LoggedEvent], any ProcessorState) throws -> Int) async throws -> Int
    func quarantined(shop: String?, limit: Int) async throws -> [QuarantinedEvent]
    func quarantineCount(shop: String?) async throws -> Int
    /// Handles a quarantined event again with `body`; when it succeeds, the event leaves the quarantine.
    func retry(position: Int64, _ body: @escaping @Sendable (LoggedEvent, any ProcessorState) throws -> Void) async throws
    /// Records (again) why the event at `position` is quarantined.
    func quarantine(position: Int64, reason: String, at now: EpochMillis) async throws
    /// One step of deleting what outlived `retention`; returns the rows deleted (0: nothing left).
    func purgeExpiredStep(now: EpochMillis, retention: RetentionConfig) async throws -> Int
    /// Deletes read events of never-identified visitors older than each shop's cutoff; returns how many.
    func purgeHeld(cutoffs: [(shop: String, before: EpochMillis)]) async throws -> Int
    /// Returns when events were appended to the log (or after `timeout`): the processor waits on it when idle.
    func waitForEvents(timeout: Duration) async
    /// A storage error that could pass (busy, full, I/O): worth retrying, never a reason to set an event aside.
    func isTransient(_ error: any Error) -> Bool
    /// How long a chunk may work before it commits: what others wait for meanwhile differs by engine.
    var chunkBudget: Duration { get }
}

/// `ProcessorLog` on the SQLite file.
struct SQLiteProcessorLog: ProcessorLog {
    /// A chunk holds the file's only write lock, which beacons and webhooks wait for: a few milliseconds.
    var chunkBudget: Duration { .milliseconds(10) }
    let database: SQLiteDatabase
    private var pool: DatabasePool { database.pool }
    static let positionName = "storefront"

    /// How far the processor has read the log.
    static func position(_ db: Database) throws -> Int64 {
        try Int64.fetchOne(db.cachedStatement(sql: "SELECT position FROM processor_position WHERE name = ?"), arguments: [positionName]) ?? 0
    }

    /// Moves the cursor, recording the visitors of the events it moved past (`SQLiteVisitorEvents`).
    static func setPosition(_ db: Database, _ position: Int64) throws {
        try SQLiteVisitorEvents.record(db, after: try Self.position(db), upTo: position)
        try db.cachedStatement(sql: "INSERT OR REPLACE INTO processor_position (name, position) VALUES (?, ?)").execute(arguments: [positionName, position])
    }

    private static func setAside(_ db: Database, position: Int64, reason: String, at now: EpochMillis) throws {
        try SQLiteProcessorRun.quarantine(db, position: position, reason: reason, at: now)
        try setPosition(db, position)
        try SQLiteProcessorRun.setAttempting(db, nil)
    }

    func beginRun(at now: EpochMillis, reason: String) async throws -> (unclean: Bool, quarantined: Int64?) {
        try await database.backgroundWrite { db -> (Bool, Int64?) in
            let previous = try SQLiteProcessorRun.begin(db, at: now)
            guard previous.unclean else { return (false, nil) }
            guard let poison = previous.attempting, poison > (try Self.position(db)) else { return (true, nil) }
            try Self.setAside(db, position: poison, reason: reason, at: now)
            return (true, poison)
        }
    }

    func endRun() throws {
        try database.writes.backgroundNow { db in try SQLiteProcessorRun.end(db) }
    }

    func nextAlone() async throws -> LoggedEvent? {
        try await database.backgroundWrite { db -> LoggedEvent? in
            guard let event = try SQLiteEventStore.events(db, after: try Self.position(db), limit: 1).first else { return nil }
            try SQLiteProcessorRun.setAttempting(db, event.position)
            return event
        }
    }

    func handleAlone(_ event: LoggedEvent, _ body: @escaping @Sendable (any ProcessorState) throws -> Void) async throws {
        try await database.backgroundWrite { db in
            try body(SQLiteProcessorState(db, outboxFilled: database.outboxFilled))
            try Self.setPosition(db, event.position)
            try SQLiteProcessorRun.setAttempting(db, nil)
        }
    }

    func waitForEvents(timeout: Duration) async {
        await database.logAppended.wait(timeout: timeout)
    }

    func clearAttempt() async throws {
        try await database.backgroundWrite { db in try SQLiteProcessorRun.setAttempting(db, nil) }
    }

    func setAside(position: Int64, reason: String, at now: EpochMillis) async throws {
        try await database.backgroundWrite { db in try Self.setAside(db, position: position, reason: reason, at: now) }
    }

    func handleChunk(limit: Int, _ body: @escaping @Sendable ([LoggedEvent], any ProcessorState) throws -> Int) async throws -> Int {
        // While ingest is busy the chunk is cut to what fits a short lock hold (the body's own 10 ms
        // budget is too long for a beacon to wait behind); a shorter chunk changes nothing but its size.
        let writes = database.writes
        let limit = writes.chunkLimit(limit)
        let done = try await database.backgroundWrite(.chunkUnderIngest) { db in
            let started = ContinuousClock.now
            let events = try SQLiteEventStore.events(db, after: try Self.position(db), limit: limit)
            guard !events.isEmpty else { return 0 }
            let done = try body(events, SQLiteProcessorState(db, outboxFilled: database.outboxFilled))
            writes.recordChunk(events: done, took: ContinuousClock.now - started)
            guard done > 0 else { return 0 }
            try Self.setPosition(db, events[min(done, events.count) - 1].position)
            return done
        }
        return done
    }

    func quarantined(shop: String?, limit: Int) async throws -> [QuarantinedEvent] {
        try await pool.read { db in try SQLiteProcessorRun.quarantined(db, shop: shop, limit: limit) }
    }

    func quarantineCount(shop: String?) async throws -> Int {
        try await pool.read { db in try SQLiteProcessorRun.quarantineCount(db, shop: shop) }
    }

    func retry(position: Int64, _ body: @escaping @Sendable (LoggedEvent, any ProcessorState) throws -> Void) async throws {
        try await database.backgroundWrite { db in
            if let event = try SQLiteProcessorRun.event(db, position: position) { try body(event, SQLiteProcessorState(db, outboxFilled: database.outboxFilled)) }
            try SQLiteProcessorRun.release(db, position: position)
        }
    }

    func quarantine(position: Int64, reason: String, at now: EpochMillis) async throws {
        try await database.backgroundWrite { db in try SQLiteProcessorRun.quarantine(db, position: position, reason: reason, at: now) }
    }

    func purgeExpiredStep(now: EpochMillis, retention: RetentionConfig) async throws -> Int {
        // Planned on a snapshot, deleted under the write lock: the lock is held only for the deletes.
        let step = try await pool.read { db in
            try SQLiteRetention.plan(db, now: now, retention: retention, processedUpTo: try Self.position(db))
        }
        return try await database.backgroundWrite { db in try SQLiteRetention.apply(step, db) }
    }

    func purgeHeld(cutoffs: [(shop: String, before: EpochMillis)]) async throws -> Int {
        try await database.backgroundWrite { db -> Int in
            let position = try Self.position(db)
            var total = 0
            for cutoff in cutoffs {
                total += try SQLiteEventStore.deleteEvents(db, where: """
                    shop = ? AND position <= ? AND time < ? AND visitor_id IS NOT NULL
                    AND NOT EXISTS (SELECT 1 FROM visitors v WHERE v.shop = events.shop AND v.visitor_id = events.visitor_id AND v.customer_id IS NOT NULL)
                    """, arguments: [cutoff.shop, position, cutoff.before])
            }
            return total
        }
    }

    func isTransient(_ error: any Error) -> Bool {
        guard let error = error as? DatabaseError else { return error is CancellationError }
        return [ResultCode.SQLITE_BUSY, .SQLITE_LOCKED, .SQLITE_FULL, .SQLITE_IOERR, .SQLITE_CANTOPEN, .SQLITE_NOMEM, .SQLITE_READONLY,
                .SQLITE_INTERRUPT, .SQLITE_PROTOCOL].contains(error.resultCode)
    }
}

extension SQLiteDatabase {
    /// The processor's view of the log in this file.
    public var processorLog: any ProcessorLog { SQLiteProcessorLog(database: self) }
}

import PostgresNIO

/// The event log on PostgreSQL, written through the same group committer as the SQLite log.
///
/// Order under concurrent inserts: every append transaction first takes the transaction-scoped
/// advisory lock `appendLockKey`, and PostgreSQL releases it only after the commit is visible. So
/// appends from every instance commit one after another, a transaction's positions are drawn while
/// it holds the lock, and a reader that has seen position N can never later see a new position
/// below N: reading "after my cursor" never skips an event. Group commit keeps that serial section
/// to one short transaction per group, not one per beacon.
public final class PostgresEventStore: EventStore {
    /// `pg_advisory_xact_lock` key serialising appends ("ShopTrail log").
    static let appendLockKey: Int64 = 0x5348_4F50_4C4F_4721
    public let database: PostgresDatabase
    private let committer: GroupCommitter<[NewEvent], AppendResult>

    public init(database: PostgresDatabase) {
        self.database = database
        self.committer = GroupCommitter(label: "shoptrail.event-log.postgres") { groups in
            // A browser waits for this answer: when PostgreSQL is down (the pool would wait for a connection
            // until its circuit breaker trips), the batch gets 503 with Retry-After as soon as the listener
            // finds the server gone, and within `appendDeadline` in any case. A commit that lands after that
            // is harmless: the tracker's retry is a duplicate, skipped.
            let results = try blockingAwait { try await database.unlessUnreachable(deadline: Self.appendDeadline) { try await Self.insert(groups, database: database) } }
            database.logAppended.signal()
            return results
        }
    }

    /// The longest a beacon or webhook waits for its commit before it is told to come back later.
    static let appendDeadline: Duration = .seconds(30)

    static let columns = "shop, source, event_id, name, visitor_id, session_id, client_time, time, received_at, context, properties, verified"

    static func insert(_ groups: [[NewEvent]], database: PostgresDatabase) async throws -> [AppendResult] {
        try await database.transaction { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(appendLockKey))", logger: database.logger)
            // Wakes the processors of other instances once this commits (PostgreSQL delivers on commit only).
            try await connection.query("SELECT pg_notify(\(PostgresDatabase.logChannel), '')", logger: database.logger)
            var results: [AppendResult] = []
            for events in groups {
                guard !events.isEmpty else { results.append(AppendResult(inserted: 0, duplicates: 0)); continue }
                let shared = NewEvent.sharedContext(of: events)
                var binds = PostgresBindings(capacity: events.count * 12)
                var values: [String] = []
                for (i, e) in events.enumerated() {
                    let base = i * 12
                    values.append("(" + (1...12).map { "$\(base + $0)" }.joined(separator: ", ") + ")")
                    binds.append(e.shop)
                    binds.append(e.source.rawValue)
                    binds.append(e.eventId)
                    binds.append(e.name)
                    binds.append(e.visitorId)
                    binds.append(e.sessionId)
                    binds.append(e.clientTime)
                    binds.append(e.time)
                    binds.append(e.receivedAt)
                    binds.append(shared == nil ? e.context : nil)
                    binds.append(e.properties)
                    binds.append(e.verified)
                }
                let sql = "INSERT INTO events (\(columns)) VALUES \(values.joined(separator: ", ")) ON CONFLICT (shop, source, event_id) DO NOTHING RETURNING position"
                var positions: [Int64] = []
                for try await position in try await connection.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: database.logger).decode(Int64.self) {
                    positions.append(position)
                }
                // A batch's context is stored once for the events it added (a retried batch adds none).
                if let shared, let first = events.first, !positions.isEmpty {
                    var contextId: Int64?
                    for try await id in try await connection.query(
                        "INSERT INTO event_contexts (shop, text) VALUES (\(first.shop), \(shared)) RETURNING id", logger: database.logger
                    ).decode(Int64.self) { contextId = id }
                    try await connection.query("UPDATE events SET context_id = \(contextId) WHERE position = ANY(\(positions))", logger: database.logger)
                }
                results.append(AppendResult(inserted: positions.count, duplicates: events.count - positions.count))
            }
            return results
        }
    }

    public func append(_ events: [NewEvent]) async throws -> AppendResult {
        try await committer.submit(events)
    }

    public func events(after position: Int64, limit: Int) async throws -> [LoggedEvent] {
        let rows = try await database.rows("""
            SELECT \(unescaped: Self.eventColumns) FROM events WHERE position > \(position) ORDER BY position LIMIT \(Int64(limit))
            """)
        return try rows.map(Self.loggedEvent)
    }

    /// The columns every event query selects, in `loggedEvent`'s order (`FROM events`, not aliased).
    static let eventColumns = """
        position, shop, source, event_id, name, visitor_id, session_id, client_time, time, received_at, \(contextColumn), properties, verified
        """
    /// An event's context, inline or shared with its batch.
    static let contextColumn = "COALESCE(context, (SELECT text FROM event_contexts c WHERE c.id = events.context_id)) AS context"

    static func loggedEvent(_ row: PostgresRow) throws -> LoggedEvent {
        let (position, shop, source, eventId, name, visitorId, sessionId, clientTime, time, receivedAt, context, properties, verified) =
            try row.decode((Int64, String, String, String, String, String?, String?, Int64?, Int64, Int64, String?, String, String?).self)
        return LoggedEvent(position: position, event: NewEvent(
            shop: shop, source: EventSource(rawValue: source) ?? .storefront, eventId: eventId, name: name,
            visitorId: visitorId, sessionId: sessionId, clientTime: clientTime, time: time, receivedAt: receivedAt,
            context: context, properties: properties, verified: verified))
    }

    /// Deletes events matching `condition` (on `events`, not aliased) and the shared contexts only they
    /// referred to, in the caller's transaction; returns how many events went.
    static func deleteEvents(_ connection: PostgresBlockingConnection, where condition: PostgresQuery) throws -> Int {
        var query = condition
        query.sql = "DELETE FROM events WHERE " + condition.sql + " RETURNING context_id"
        let contexts = try connection.column(query, as: Int64?.self)
        let candidates = Array(Set(contexts.compactMap { $0 }))
        if !candidates.isEmpty {
            try connection.rows("""
                DELETE FROM event_contexts WHERE id = ANY(\(candidates)) AND NOT EXISTS (SELECT 1 FROM events WHERE events.context_id = event_contexts.id)
                """)
        }
        return contexts.count
    }

    public func eventCount() async throws -> Int {
        let rows = try await database.rows("SELECT COUNT(*) FROM events")
        return Int(try rows.first?.decode(Int64.self) ?? 0)
    }

    public func checkHealth() async throws {
        _ = try await database.unlessUnreachable(deadline: Self.appendDeadline) { try await self.database.rows("SELECT 1") }
    }

    public func commitStats() -> CommitStats { committer.stats }
}

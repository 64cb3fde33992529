import PostgresNIO

/// The event log on PostgreSQL, written through the same group committer as the SQLite log.
///
/// Order under concurrent inserts: every append transaction first takes the transaction-scoped
/// advisory lock `appendLockKey`, and PostgreSQL releases it only after the commit is visible. So
/// appends from every instance commit one after another, a transaction's positions are drawn while
/// it holds the lock, and a reader that has seen position N can never later see a new position
/// below N: reading "after my cursor" never skips an event. Group commit keeps that serial section
/// to one transaction of four round trips per commit, however many beacons it carries (`insert`).
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

    /// Rows per INSERT statement: 13 binds each, under PostgreSQL's 65,535 bind parameters.
    static let rowsPerStatement = 5_000

    /// Appends every group of a group commit in one transaction of a fixed number of round trips (lock,
    /// one INSERT per `rowsPerStatement` events, the shared contexts, commit), whatever the number of groups:
    /// the lock is held for those round trips only, so concurrent instances queue for little time.
    static func insert(_ groups: [[NewEvent]], database: PostgresDatabase) async throws -> [AppendResult] {
        let shared = groups.map { NewEvent.sharedContext(of: $0) }
        let contextCount = Int64(shared.count { $0 != nil })
        return try await database.transaction { connection in
            // The lock first: positions are drawn after it (see the type's comment). The NOTIFY wakes the processors
            // of other instances once this commits (PostgreSQL delivers on commit only). Context ids are drawn here
            // too, so each event row carries its batch's context id; ids of contexts not stored are simply unused.
            var contextIds: [Int64] = []
            let head = try await connection.query("""
                SELECT pg_advisory_xact_lock(\(appendLockKey)), pg_notify(\(PostgresDatabase.logChannel), ''),
                       ARRAY(SELECT nextval(pg_get_serial_sequence('event_contexts', 'id')) FROM generate_series(1, \(contextCount)))
                """, logger: database.logger)
            for try await row in head { contextIds = try row.makeRandomAccess()[2].decode([Int64].self) }
            var nextContext = contextIds.makeIterator()
            let contextId: [Int64?] = shared.map { $0 == nil ? nil : nextContext.next() }
            guard contextIds.count == Int(contextCount) else {
                throw StorageUnavailable(key: "storage.url", reason: "PostgreSQL drew \(contextIds.count) context ids of \(contextCount)")
            }

            // Each row in commit order, with the group it belongs to.
            var rows: [(group: Int, event: NewEvent)] = []
            for (g, events) in groups.enumerated() { for e in events { rows.append((g, e)) } }
            // Keys inserted by this commit: within one statement, ON CONFLICT DO NOTHING keeps a key's first row.
            var inserted: [EventKey: Int] = [:]
            var start = 0
            while start < rows.count {
                let slice = rows[start..<min(start + rowsPerStatement, rows.count)]
                var binds = PostgresBindings(capacity: slice.count * 13)
                var values: [String] = []
                values.reserveCapacity(slice.count)
                for (i, row) in slice.enumerated() {
                    let e = row.event
                    values.append(PostgresQuery.placeholders(row: i, columns: 13))
                    binds.append(e.shop)
                    binds.append(e.source.rawValue)
                    binds.append(e.eventId)
                    binds.append(e.name)
                    binds.append(e.visitorId)
                    binds.append(e.sessionId)
                    binds.append(e.clientTime)
                    binds.append(e.time)
                    binds.append(e.receivedAt)
                    binds.append(contextId[row.group] == nil ? e.context : nil)
                    binds.append(e.properties)
                    binds.append(e.verified)
                    binds.append(contextId[row.group])
                }
                let sql = "INSERT INTO events (\(columns), context_id) VALUES \(values.joined(separator: ", ")) "
                    + "ON CONFLICT (shop, source, event_id) DO NOTHING RETURNING shop, source, event_id"
                let result = try await connection.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: database.logger)
                for try await (shop, source, eventId) in result.decode((String, String, String).self) {
                    inserted[EventKey(shop: shop, source: source, eventId: eventId), default: 0] += 1
                }
                start += slice.count
            }

            // Credit each inserted key to its first row in commit order; later rows with that key were duplicates.
            var added = [Int](repeating: 0, count: groups.count)
            for row in rows {
                let key = EventKey(shop: row.event.shop, source: row.event.source.rawValue, eventId: row.event.eventId)
                if let left = inserted[key], left > 0 { added[row.group] += 1; inserted[key] = left - 1 }
            }

            // A batch's context is stored once, for the batches that added events (a retried batch adds none).
            var contextBinds = PostgresBindings()
            var contextValues: [String] = []
            for (g, id) in contextId.enumerated() {
                guard let id, added[g] > 0, let text = shared[g], let shop = groups[g].first?.shop else { continue }
                contextValues.append(PostgresQuery.placeholders(row: contextValues.count, columns: 3))
                contextBinds.append(id)
                contextBinds.append(shop)
                contextBinds.append(text)
            }
            if !contextValues.isEmpty {
                let sql = "INSERT INTO event_contexts (id, shop, text) OVERRIDING SYSTEM VALUE VALUES " + contextValues.joined(separator: ", ")
                try await connection.query(PostgresQuery(unsafeSQL: sql, binds: contextBinds), logger: database.logger)
            }
            return groups.indices.map { AppendResult(inserted: added[$0], duplicates: groups[$0].count - added[$0]) }
        }
    }

    /// An event's identity in the log (the `events_dedupe` key).
    private struct EventKey: Hashable {
        let shop: String, source: String, eventId: String
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

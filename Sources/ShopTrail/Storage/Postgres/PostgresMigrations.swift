import PostgresNIO

/// The PostgreSQL schema, in code, applied at open under an advisory lock, so instances that start
/// together migrate once. Each step is a list of statements (the extended protocol runs one at a time).
enum PostgresMigrations {
    /// `pg_advisory_lock` key for migrations ("ShopTrail migrate").
    static let lockKey: Int64 = 0x5348_4F50_4D49_4752

    static let steps: [(name: String, statements: [String])] = [
        ("v1-event-log", [
            // position is the log's read cursor. Appends take `PostgresEventStore.appendLockKey` for the
            // whole transaction, so positions become visible in order (see PostgresEventStore).
            """
            CREATE TABLE events (
                position BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                shop TEXT NOT NULL, source TEXT NOT NULL, event_id TEXT NOT NULL, name TEXT NOT NULL,
                visitor_id TEXT, session_id TEXT, client_time BIGINT, time BIGINT NOT NULL, received_at BIGINT NOT NULL,
                context TEXT, properties TEXT NOT NULL, verified TEXT, context_id BIGINT
            )
            """,
            "CREATE UNIQUE INDEX events_dedupe ON events (shop, source, event_id)",
            "CREATE INDEX events_visitor ON events (shop, visitor_id, position)",
            "CREATE INDEX events_context ON events (context_id) WHERE context_id IS NOT NULL",
            "CREATE TABLE event_contexts (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, shop TEXT NOT NULL, text TEXT NOT NULL)",
            "CREATE INDEX event_contexts_shop ON event_contexts (shop)",
        ]),
        ("v2-outbox", [
            // seq orders delivery; (shop, op_id) makes enqueueing a replayed operation a no-op. lease_owner
            // names the instance holding a claim, so one instance never releases another's live claims.
            """
            CREATE TABLE outbox (
                seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                op_id TEXT NOT NULL, shop TEXT NOT NULL, user_key TEXT NOT NULL, kind TEXT NOT NULL, payload TEXT NOT NULL,
                created_at BIGINT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at BIGINT NOT NULL DEFAULT 0,
                lease_until BIGINT NOT NULL DEFAULT 0, lease_owner TEXT, last_error TEXT
            )
            """,
            "CREATE UNIQUE INDEX outbox_op ON outbox (shop, op_id)",
            "CREATE INDEX outbox_shop_seq ON outbox (shop, seq)",
            """
            CREATE TABLE outbox_dead (
                seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                op_id TEXT NOT NULL, shop TEXT NOT NULL, user_key TEXT NOT NULL, kind TEXT NOT NULL, payload TEXT NOT NULL,
                created_at BIGINT NOT NULL, attempts INTEGER NOT NULL, reason TEXT NOT NULL, died_at BIGINT NOT NULL
            )
            """,
            "CREATE UNIQUE INDEX outbox_dead_op ON outbox_dead (shop, op_id)",
        ]),
    ]

    static func migrate(_ database: PostgresDatabase) async throws {
        let logger = database.logger
        try await database.client.withConnection { connection in
            try await connection.query("SELECT pg_advisory_lock(\(lockKey))", logger: logger)
            do {
                try await connection.query("CREATE TABLE IF NOT EXISTS shoptrail_migrations (name TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())", logger: logger)
                var applied = Set<String>()
                for try await name in try await connection.query("SELECT name FROM shoptrail_migrations", logger: logger).decode(String.self) {
                    applied.insert(name)
                }
                for step in steps where !applied.contains(step.name) {
                    try await connection.query("BEGIN", logger: logger)
                    do {
                        for statement in step.statements { try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger) }
                        try await connection.query("INSERT INTO shoptrail_migrations (name) VALUES (\(step.name))", logger: logger)
                        try await connection.query("COMMIT", logger: logger)
                    } catch {
                        _ = try? await connection.query("ROLLBACK", logger: logger)
                        throw error
                    }
                }
            } catch {
                _ = try? await connection.query("SELECT pg_advisory_unlock(\(lockKey))", logger: logger)
                throw error
            }
            try await connection.query("SELECT pg_advisory_unlock(\(lockKey))", logger: logger)
        }
    }
}

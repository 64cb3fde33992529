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
        ("v3-state", [
            // The processor's state, as in the SQLite file, with what several instances add: the log is
            // read per shop (a shop is processed by one instance at a time, under `processor_leases`),
            // so the cursor and the run record are per shop too.
            "CREATE INDEX events_shop_position ON events (shop, position)",
            "CREATE TABLE processor_position (shop TEXT NOT NULL, name TEXT NOT NULL, position BIGINT NOT NULL, PRIMARY KEY (shop, name))",
            "CREATE TABLE processor_leases (shop TEXT PRIMARY KEY, owner TEXT NOT NULL, lease_until BIGINT NOT NULL, fence BIGINT NOT NULL)",
            "CREATE TABLE processor_run (shop TEXT NOT NULL, name TEXT NOT NULL, running BOOLEAN NOT NULL, attempting BIGINT, started_at BIGINT NOT NULL, PRIMARY KEY (shop, name))",
            """
            CREATE TABLE processor_quarantine (
                position BIGINT PRIMARY KEY, shop TEXT NOT NULL, event_id TEXT NOT NULL, name TEXT NOT NULL, reason TEXT NOT NULL, at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX processor_quarantine_shop ON processor_quarantine (shop)",
            """
            CREATE TABLE visitors (
                shop TEXT NOT NULL, visitor_id TEXT NOT NULL, customer_id TEXT, linked_at BIGINT, evidence TEXT,
                has_alias_profile BOOLEAN NOT NULL DEFAULT false, alias_identified_as TEXT,
                first_seen BIGINT NOT NULL, last_seen BIGINT NOT NULL, PRIMARY KEY (shop, visitor_id)
            )
            """,
            "CREATE INDEX visitors_customer ON visitors (shop, customer_id)",
            """
            CREATE TABLE visitor_links (
                id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, shop TEXT NOT NULL, visitor_id TEXT NOT NULL,
                customer_id TEXT NOT NULL, evidence TEXT NOT NULL, linked_at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX visitor_links_visitor ON visitor_links (shop, visitor_id)",
            """
            CREATE TABLE customers (
                shop TEXT NOT NULL, customer_id TEXT NOT NULL, email TEXT, first_name TEXT, last_name TEXT, phone TEXT,
                sent_attributes TEXT, PRIMARY KEY (shop, customer_id)
            )
            """,
            """
            CREATE TABLE carts (
                shop TEXT NOT NULL, cart_token TEXT NOT NULL, visitor_id TEXT, sent_signature TEXT, sent_time BIGINT,
                checked_out BOOLEAN NOT NULL DEFAULT false, aliased_to TEXT, checkout_token TEXT, PRIMARY KEY (shop, cart_token)
            )
            """,
            "CREATE INDEX carts_visitor ON carts (shop, visitor_id)",
            """
            CREATE TABLE product_views (
                shop TEXT NOT NULL, visitor_id TEXT NOT NULL, product_key TEXT NOT NULL, time BIGINT NOT NULL,
                PRIMARY KEY (shop, visitor_id, product_key)
            )
            """,
            """
            CREATE TABLE security_counts (
                shop TEXT NOT NULL, kind TEXT NOT NULL, detail TEXT NOT NULL, day BIGINT NOT NULL, count BIGINT NOT NULL,
                first_at BIGINT NOT NULL, last_at BIGINT NOT NULL, PRIMARY KEY (shop, kind, detail, day)
            )
            """,
            "CREATE TABLE sent_once (shop TEXT NOT NULL, key TEXT NOT NULL, PRIMARY KEY (shop, key))",
            """
            CREATE TABLE shopify_resources (
                shop TEXT NOT NULL, kind TEXT NOT NULL, id TEXT NOT NULL, updated_at BIGINT NOT NULL,
                body TEXT, deleted BOOLEAN NOT NULL DEFAULT false, PRIMARY KEY (shop, kind, id)
            )
            """,
            "CREATE TABLE shop_state (shop TEXT PRIMARY KEY, uninstalled_at BIGINT)",
            """
            CREATE TABLE audit_log (
                id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, shop TEXT NOT NULL, action TEXT NOT NULL, detail TEXT NOT NULL, at BIGINT NOT NULL
            )
            """,
            """
            CREATE TABLE abandonment_timers (
                shop TEXT NOT NULL, kind TEXT NOT NULL, subject TEXT NOT NULL, visitor_id TEXT, customer_id TEXT,
                state TEXT NOT NULL, armed_at BIGINT NOT NULL, due_at BIGINT NOT NULL, generation BIGINT NOT NULL,
                detail TEXT NOT NULL, reason TEXT, closed_at BIGINT, PRIMARY KEY (shop, kind, subject)
            )
            """,
            "CREATE INDEX abandonment_due ON abandonment_timers (due_at) WHERE state = 'armed'",
            "CREATE INDEX abandonment_visitor ON abandonment_timers (shop, visitor_id) WHERE state = 'armed'",
            "CREATE INDEX abandonment_customer ON abandonment_timers (shop, customer_id) WHERE state = 'armed'",
            """
            CREATE TABLE abandonment_cooldowns (
                shop TEXT NOT NULL, kind TEXT NOT NULL, target TEXT NOT NULL, fired_at BIGINT NOT NULL, PRIMARY KEY (shop, kind, target)
            )
            """,
            """
            CREATE TABLE abandonment_counts (
                shop TEXT NOT NULL, kind TEXT NOT NULL, outcome TEXT NOT NULL, count BIGINT NOT NULL, PRIMARY KEY (shop, kind, outcome)
            )
            """,
            """
            CREATE TABLE backfill_jobs (
                shop TEXT PRIMARY KEY, state TEXT NOT NULL, reason TEXT, phase TEXT, window_start BIGINT, requested_days BIGINT,
                days BIGINT, warning TEXT, checkpoint TEXT NOT NULL, counts TEXT NOT NULL, started_at BIGINT, finished_at BIGINT,
                runs BIGINT NOT NULL DEFAULT 0
            )
            """,
            """
            CREATE TABLE backfill_staging (
                shop TEXT NOT NULL, kind TEXT NOT NULL, id TEXT NOT NULL, seq BIGINT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (shop, kind, id)
            )
            """,
            "CREATE INDEX backfill_staging_seq ON backfill_staging (shop, kind, seq)",
        ]),
        ("v4-console", [
            // JSON text to jsonb, NULL when it does not parse: one malformed context or webhook body must
            // neither fail a console page nor (through the index below) an append.
            """
            CREATE FUNCTION shoptrail_jsonb(t text) RETURNS jsonb LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
            BEGIN RETURN t::jsonb; EXCEPTION WHEN others THEN RETURN NULL; END $$
            """,
            // The delivery log, as on SQLite: (shop, user_key, id) makes the person page's read one bounded
            // index range per key; `at` lets the age bound delete a range of the oldest.
            """
            CREATE TABLE delivery_log (
                id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, shop TEXT NOT NULL, op_id TEXT NOT NULL, user_key TEXT NOT NULL,
                kind TEXT NOT NULL, endpoint TEXT NOT NULL, request TEXT NOT NULL, status BIGINT, outcome TEXT NOT NULL,
                response TEXT NOT NULL, attempts BIGINT NOT NULL, at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX delivery_log_user ON delivery_log (shop, user_key, id)",
            "CREATE INDEX delivery_log_at ON delivery_log (at)",
            // The person page's lookups, each an index range: a customer by email, a cart by checkout token,
            // a person's dead letters, a customer's webhooks; the dead-letter pages read the newest first.
            "CREATE INDEX customers_email ON customers (shop, lower(email))",
            "CREATE INDEX carts_checkout ON carts (shop, checkout_token) WHERE checkout_token IS NOT NULL",
            "CREATE INDEX outbox_dead_user ON outbox_dead (shop, user_key)",
            "CREATE INDEX outbox_dead_died ON outbox_dead (died_at, seq)",
            "CREATE INDEX outbox_dead_shop_died ON outbox_dead (shop, died_at, seq)",
            "CREATE INDEX events_webhook_customer ON events (shop, (shoptrail_jsonb(properties) -> 'customer' ->> 'id')) WHERE source = 'webhook'",
        ]),
        ("v5-instances", [
            // Each instance's heartbeat on the database clock: how many instances are alive decides each one's
            // fair share of the shops' processing leases (PostgresProcessorLog.maintainLeases).
            "CREATE TABLE processor_instances (instance TEXT PRIMARY KEY, seen_until BIGINT NOT NULL)",
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

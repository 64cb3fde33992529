import PostgresNIO

/// `OperatorViews` and `DeliveryLog` on PostgreSQL, with the SQLite engine's answers. Every query is
/// bounded: an index range with a LIMIT, a window of the newest log positions, or a count that stops
/// at `OperatorViewLimits.lagCountLimit`; none counts the whole event log.
///
/// The log is processed per shop on PostgreSQL (`processor_position` has a row per shop), so the
/// processor lag is per shop too: the shop's events after its cursor. The gauge adds the shops up.
public struct PostgresOperatorViews: OperatorViews, DeliveryLog {
    let database: PostgresDatabase
    private var logger: Logger { database.logger }
    /// The processor's cursor row in `processor_position` (`name`), as the processor log writes it.
    static let cursorName = "storefront"

    public init(database: PostgresDatabase) {
        self.database = database
    }

    // MARK: delivery log (written by PostgresOutbox in the transaction that removes the rows)

    /// Records the answer for outbox rows `seqs` before they are deleted, then applies the retention.
    static func record(on connection: PostgresConnection, seqs: [Int64], receipt: DeliveryReceipt, retention: DeliveryLogRetention,
                       logger: Logger) async throws {
        guard !seqs.isEmpty else { return }
        let response = String(receipt.response.prefix(2_000))
        var last: Int64?
        for try await id in try await connection.query("""
            INSERT INTO delivery_log (shop, op_id, user_key, kind, endpoint, request, status, outcome, response, attempts, at)
            SELECT shop, op_id, user_key, kind, \(receipt.endpoint), substr(payload, 1, \(Int32(clamping: retention.maxRequestBytes))),
                   \(receipt.status.map(Int64.init)), \(receipt.outcome), \(response), attempts + 1, \(receipt.at)
            FROM outbox WHERE seq = ANY(\(seqs)) ORDER BY seq RETURNING id
            """, logger: logger).decode(Int64.self) {
            last = max(last ?? id, id)
        }
        guard let last else { return }
        // Both bounds delete a primary-key or index range of the oldest rows only: a few rows per batch.
        try await connection.query("DELETE FROM delivery_log WHERE id <= \(last - retention.maxRows)", logger: logger)
        try await connection.query("DELETE FROM delivery_log WHERE at < \(receipt.at - retention.maxAgeMillis)", logger: logger)
    }

    public func records(shop: String, userKeys: [String], limit: Int) async throws -> [DeliveryRecord] {
        try await Self.records(on: nil, database: database, shop: shop, userKeys: userKeys, limit: limit)
    }

    /// One index range per key, each limited, then merged: bounded however many keys the person has.
    private static func records(on connection: PostgresConnection?, database: PostgresDatabase, shop: String, userKeys: [String],
                                limit: Int) async throws -> [DeliveryRecord] {
        guard !userKeys.isEmpty else { return [] }
        let query: PostgresQuery = """
            SELECT d.shop, d.op_id, d.user_key, d.kind, d.endpoint, d.request, d.status, d.outcome, d.response, d.attempts, d.at
            FROM unnest(\(userKeys)::text[]) WITH ORDINALITY AS k(key, ord),
                 LATERAL (SELECT * FROM delivery_log WHERE shop = \(shop) AND user_key = k.key ORDER BY id DESC LIMIT \(Int64(limit))) d
            ORDER BY k.ord, d.id DESC
            """
        let rows = if let connection { try await connection.query(query, logger: database.logger).collect() } else { try await database.rows(query) }
        let records = try rows.map { row in
            let (rowShop, opId, userKey, kind, endpoint, request, status, outcome, response, attempts, at) =
                try row.decode((String, String, String, String, String, String, Int64?, String, String, Int64, Int64).self)
            return DeliveryRecord(opId: opId, shop: rowShop, userKey: userKey, kind: kind, request: request,
                                  receipt: DeliveryReceipt(endpoint: endpoint, status: status.map(Int.init), outcome: outcome, response: response, at: at),
                                  attempts: Int(attempts))
        }
        return Array(records.sorted { $0.receipt.at > $1.receipt.at }.prefix(limit))
    }

    // MARK: overview

    public func overview(shop: String, now: EpochMillis) async throws -> ShopOverview {
        let outbox = try await PostgresOutbox(database: database).status(shop: shop, now: now)
        let lag = try await database.rows(Self.lagQuery(shop: shop)).first?.decode(Int64.self) ?? 0
        let quarantined = try await database.rows("SELECT COUNT(*) FROM processor_quarantine WHERE shop = \(shop)").first?.decode(Int64.self) ?? 0
        let dead = try await deadLetters(shop: shop, limit: 5)
        return ShopOverview(shop: shop, outbox: outbox, processorLag: lag, quarantined: Int(quarantined), recentDeadLetters: dead)
    }

    /// The shop's events after its processor cursor, counted on the (shop, position) index up to the limit.
    private static func lagQuery(shop: String) -> PostgresQuery {
        """
        SELECT COUNT(*) FROM (
            SELECT 1 FROM events WHERE shop = \(shop)
              AND position > COALESCE((SELECT position FROM processor_position WHERE shop = \(shop) AND name = \(cursorName)), 0)
            ORDER BY position LIMIT \(OperatorViewLimits.lagCountLimit)
        ) AS behind
        """
    }

    // MARK: person

    public func person(shop: String, query: String, limit: Int) async throws -> PersonView? {
        let q = query.trimmingCharacters(in: .whitespaces)
        guard !q.isEmpty, q.utf8.count <= 512 else { return nil }
        let database = database
        let logger = logger
        let limit64 = Int64(limit)
        // One transaction: every part of the page reads the same committed state (REPEATABLE READ).
        return try await database.transaction { connection -> PersonView? in
            try await connection.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY", logger: logger)
            func rows(_ query: PostgresQuery) async throws -> [PostgresRow] { try await connection.query(query, logger: logger).collect() }
            func strings(_ query: PostgresQuery) async throws -> [String?] { try await rows(query).map { try $0.decode(String?.self) } }
            // Who is it: a customer id, an email, a visitor id or a cart token (each an index lookup).
            var customerId: String?
            var visitorIds: [String] = []
            if try await !rows("SELECT 1 FROM customers WHERE shop = \(shop) AND customer_id = \(q)").isEmpty {
                customerId = q
            } else if let id = try await strings("SELECT customer_id FROM customers WHERE shop = \(shop) AND lower(email) = lower(\(q)) LIMIT 1").first {
                customerId = id
            } else if let found = try await strings("SELECT customer_id FROM visitors WHERE shop = \(shop) AND visitor_id = \(q)").first {
                customerId = found
                visitorIds = [q]
            } else if let visitor = try await strings("""
                SELECT visitor_id FROM carts WHERE shop = \(shop) AND cart_token = \(q)
                UNION ALL (SELECT visitor_id FROM carts WHERE shop = \(shop) AND checkout_token = \(q) LIMIT 1) LIMIT 1
                """).first.flatMap({ $0 }) {
                customerId = try await strings("SELECT customer_id FROM visitors WHERE shop = \(shop) AND visitor_id = \(visitor)").first ?? nil
                visitorIds = [visitor]
            } else if try await !rows("SELECT 1 FROM events WHERE shop = \(shop) AND visitor_id = \(q) LIMIT 1").isEmpty {
                visitorIds = [q]  // seen, not yet processed
            } else {
                return nil
            }
            if let customerId {
                let linked = try await strings("""
                    SELECT visitor_id FROM visitors WHERE shop = \(shop) AND customer_id = \(customerId) ORDER BY last_seen DESC LIMIT 20
                    """).compactMap { $0 }
                visitorIds = Array((visitorIds + linked.filter { !visitorIds.contains($0) }).prefix(20))
            }
            var view = PersonView(shop: shop, customerId: customerId, visitors: [], timeline: [], deliveries: [], deadLetters: [], timers: [])
            if let customerId, let row = try await rows("""
                SELECT email, first_name, last_name FROM customers WHERE shop = \(shop) AND customer_id = \(customerId)
                """).first {
                let (email, first, last) = try row.decode((String?, String?, String?).self)
                view.email = email
                let name = [first, last].compactMap { $0 }.joined(separator: " ")
                view.name = name.isEmpty ? nil : name
            }
            for id in visitorIds {
                let history = try await rows("""
                    SELECT customer_id, evidence, linked_at FROM visitor_links WHERE shop = \(shop) AND visitor_id = \(id) ORDER BY id LIMIT 20
                    """).map { row in
                    let (customer, evidence, at) = try row.decode((String, String, Int64).self)
                    return (customerId: customer, evidence: evidence, at: at)
                }
                if let row = try await rows("""
                    SELECT customer_id, linked_at, evidence, first_seen, last_seen FROM visitors WHERE shop = \(shop) AND visitor_id = \(id)
                    """).first {
                    let (customer, linkedAt, evidence, firstSeen, lastSeen) = try row.decode((String?, Int64?, String?, Int64, Int64).self)
                    view.visitors.append(LinkedVisitor(visitorId: id, customerId: customer, linkedAt: linkedAt, evidence: evidence,
                                                       firstSeen: firstSeen, lastSeen: lastSeen, history: history))
                } else {
                    view.visitors.append(LinkedVisitor(visitorId: id, customerId: nil, linkedAt: nil, evidence: nil, firstSeen: 0, lastSeen: 0, history: history))
                }
            }
            // The timeline: each visitor's newest events (index events_visitor), the customer's webhooks
            // (index events_webhook_customer), merged and cut to `limit`.
            var events: [LoggedEvent] = []
            for id in visitorIds {
                events += try await rows("""
                    SELECT \(unescaped: PostgresEventStore.eventColumns) FROM events WHERE shop = \(shop) AND visitor_id = \(id) ORDER BY position DESC LIMIT \(limit64)
                    """).map(PostgresEventStore.loggedEvent)
            }
            if let customerId {
                events += try await rows("""
                    SELECT \(unescaped: PostgresEventStore.eventColumns) FROM events
                    WHERE shop = \(shop) AND (shoptrail_jsonb(properties) -> 'customer' ->> 'id') = \(customerId) AND source = 'webhook'
                    ORDER BY position DESC LIMIT \(limit64)
                    """).map(PostgresEventStore.loggedEvent)
            }
            view.timeline = Array(events.sorted { $0.position > $1.position }.prefix(limit))
            let keys = (customerId.map { ["c:" + $0] } ?? []) + visitorIds.map { "v:" + $0 }
            view.deliveries = try await Self.records(on: connection, database: database, shop: shop, userKeys: keys, limit: limit)
            for key in keys {
                view.deadLetters += try await rows("""
                    SELECT \(unescaped: Self.deadLetterColumns) FROM outbox_dead WHERE shop = \(shop) AND user_key = \(key)
                    ORDER BY died_at DESC, seq DESC LIMIT 50
                    """).compactMap(Self.deadLetter)
            }
            // Timers: browse timers by visitor, cart and checkout timers by the visitors' carts (primary keys).
            var subjects: [(String, String)] = visitorIds.map { ("browse", $0) }
            for id in visitorIds {
                for row in try await rows("SELECT cart_token, checkout_token FROM carts WHERE shop = \(shop) AND visitor_id = \(id) LIMIT 20") {
                    let (cart, checkout) = try row.decode((String, String?).self)
                    subjects.append(("cart", cart))
                    if let checkout { subjects.append(("checkout", checkout)) }
                }
            }
            for (kind, subject) in subjects {
                if let row = try await rows("""
                    SELECT kind, subject, state, armed_at, due_at, reason, closed_at FROM abandonment_timers
                    WHERE shop = \(shop) AND kind = \(kind) AND subject = \(subject)
                    """).first {
                    let (kind, subject, state, armedAt, dueAt, reason, closedAt) = try row.decode((String, String, String, Int64, Int64, String?, Int64?).self)
                    view.timers.append(PersonTimer(kind: kind, subject: subject, state: state, armedAt: armedAt, dueAt: dueAt, reason: reason, closedAt: closedAt))
                }
            }
            return view
        }
    }

    // MARK: dead letters

    private static let deadLetterColumns = "op_id, shop, user_key, kind, payload, created_at, attempts, reason, died_at"

    private static func deadLetter(_ row: PostgresRow) throws -> DeadLetter? {
        let (opId, shop, userKey, kind, payload, createdAt, attempts, reason, diedAt) =
            try row.decode((String, String, String, String, String, Int64, Int32, String, Int64).self)
        guard let kind = BrazeOperation.Kind(rawValue: kind) else { return nil }
        return DeadLetter(operation: BrazeOperation(id: opId, shop: shop, userKey: userKey, kind: kind, payload: payload, createdAt: createdAt),
                          attempts: Int(attempts), reason: reason, diedAt: diedAt)
    }

    public func deadLetters(shop: String?, limit: Int) async throws -> [DeadLetter] {
        // Two statements, not one with an optional filter: each reads its own index newest first.
        let rows = if let shop {
            try await database.rows("""
                SELECT \(unescaped: Self.deadLetterColumns) FROM outbox_dead WHERE shop = \(shop) ORDER BY died_at DESC, seq DESC LIMIT \(Int64(limit))
                """)
        } else {
            try await database.rows("""
                SELECT \(unescaped: Self.deadLetterColumns) FROM outbox_dead ORDER BY died_at DESC, seq DESC LIMIT \(Int64(limit))
                """)
        }
        return try rows.compactMap(Self.deadLetter)
    }

    public func retryDeadLetter(shop: String, opId: String) async throws -> Bool {
        let logger = logger
        let moved = try await database.transaction { connection in
            let moved = try await connection.query("""
                INSERT INTO outbox (op_id, shop, user_key, kind, payload, created_at)
                SELECT op_id, shop, user_key, kind, payload, created_at FROM outbox_dead WHERE shop = \(shop) AND op_id = \(opId)
                ON CONFLICT (shop, op_id) DO NOTHING RETURNING seq
                """, logger: logger).collect()
            let deleted = try await connection.query("DELETE FROM outbox_dead WHERE shop = \(shop) AND op_id = \(opId) RETURNING seq", logger: logger).collect()
            return !moved.isEmpty || !deleted.isEmpty
        }
        if moved { database.outboxFilled.signal() }
        return moved
    }

    public func discardDeadLetter(shop: String, opId: String) async throws -> Bool {
        try await !database.rows("DELETE FROM outbox_dead WHERE shop = \(shop) AND op_id = \(opId) RETURNING seq").isEmpty
    }

    public func retryDeadLetters(shop: String?) async throws -> Int {
        let moved = try await PostgresOutbox(database: database).retryDead(shop: shop)
        if moved > 0 { database.outboxFilled.signal() }
        return moved
    }

    public func discardDeadLetters(shop: String?) async throws -> Int {
        let rows = if let shop {
            try await database.rows("DELETE FROM outbox_dead WHERE shop = \(shop) RETURNING seq")
        } else {
            try await database.rows("DELETE FROM outbox_dead RETURNING seq")
        }
        return rows.count
    }

    // MARK: install check

    public func installSignals(shop: String, pageTypes: [String], topics: [String]) async throws -> InstallSignals {
        let logger = logger
        return try await database.transaction { connection in
            try await connection.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY", logger: logger)
            let head = try await connection.query("SELECT COALESCE(MAX(position), 0) FROM events", logger: logger).collect().first?.decode(Int64.self) ?? 0
            let floor = head - OperatorViewLimits.installWindow
            var signals = InstallSignals(pageTypes: [:], pixelCheckoutAt: nil, webhookTopics: [:], appProxyAt: nil)
            // The newest window only, on the (shop, position) index: bounded whatever the log's size.
            for row in try await connection.query("""
                SELECT source, name, MAX(received_at), bool_or(verified IS NOT NULL)
                FROM events WHERE shop = \(shop) AND position > \(floor) GROUP BY source, name
                """, logger: logger).collect() {
                let (source, name, at, proxied) = try row.decode((String, String, Int64, Bool?).self)
                switch source {
                case "webhook": signals.webhookTopics[name] = at
                case "pixel" where name.hasPrefix("checkout_"): signals.pixelCheckoutAt = max(signals.pixelCheckoutAt ?? 0, at)
                default: if proxied == true { signals.appProxyAt = max(signals.appProxyAt ?? 0, at) }
                }
            }
            // The page type is in the page view's context (the snippet renders Liquid's request.page_type).
            for row in try await connection.query("""
                SELECT shoptrail_jsonb(COALESCE(context, (SELECT text FROM event_contexts c WHERE c.id = events.context_id))) -> 'page' ->> 'type',
                       MAX(position), MAX(received_at)
                FROM events WHERE shop = \(shop) AND position > \(floor) AND source = 'storefront' AND name = 'page_viewed' GROUP BY 1
                """, logger: logger).collect() {
                let (type, position, at) = try row.decode((String?, Int64, Int64).self)
                guard let type, pageTypes.contains(type) else { continue }
                let context = try await connection.query("""
                    SELECT COALESCE(context, (SELECT text FROM event_contexts c WHERE c.id = events.context_id)) FROM events WHERE position = \(position)
                    """, logger: logger).collect().first?.decode(String?.self) ?? nil
                signals.pageTypes[type] = (at, context)
            }
            return signals
        }
    }

    // MARK: metrics

    public func gauges() async throws -> OperatorGauges {
        var gauges = OperatorGauges()
        for row in try await database.rows("SELECT shop, COUNT(*) FROM outbox GROUP BY shop") {
            let (shop, n) = try row.decode((String, Int64).self)
            gauges.outboxDepth[shop] = Int(n)
        }
        for row in try await database.rows("SELECT shop, COUNT(*) FROM outbox_dead GROUP BY shop") {
            let (shop, n) = try row.decode((String, Int64).self)
            gauges.deadLetters[shop] = Int(n)
        }
        for row in try await database.rows("SELECT shop, kind, COUNT(*) FROM abandonment_timers WHERE state = 'armed' GROUP BY shop, kind") {
            let (shop, kind, n) = try row.decode((String, String, Int64).self)
            gauges.armedTimers[shop, default: [:]][kind] = Int(n)
        }
        // The shops of the log by a loose index scan (one index lookup per shop), then each shop's lag.
        gauges.processorLag = try await database.rows("""
            WITH RECURSIVE shops(shop) AS (
                (SELECT shop FROM events ORDER BY shop LIMIT 1)
                UNION ALL
                SELECT (SELECT e.shop FROM events e WHERE e.shop > s.shop ORDER BY e.shop LIMIT 1) FROM shops s WHERE s.shop IS NOT NULL
            )
            SELECT COALESCE(SUM(behind.n), 0)::BIGINT FROM shops, LATERAL (
                SELECT COUNT(*) AS n FROM (
                    SELECT 1 FROM events e WHERE e.shop = shops.shop
                      AND e.position > COALESCE((SELECT p.position FROM processor_position p WHERE p.shop = shops.shop AND p.name = \(Self.cursorName)), 0)
                    ORDER BY e.position LIMIT \(OperatorViewLimits.lagCountLimit)
                ) AS lagging
            ) AS behind
            WHERE shops.shop IS NOT NULL
            """).first?.decode(Int64.self) ?? 0
        return gauges
    }
}

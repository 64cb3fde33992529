import GRDB

/// `OperatorViews` and `DeliveryLog` on the SQLite file. Every query is bounded: an index range with a
/// LIMIT, or a scan of a fixed window of the newest log positions; none counts the whole event log.
public struct SQLiteOperatorViews: OperatorViews, DeliveryLog {
    let database: SQLiteDatabase
    private var pool: DatabasePool { database.pool }
    /// The install check reads this many of the newest log positions at most.
    public static let installWindow = OperatorViewLimits.installWindow

    public init(database: SQLiteDatabase) {
        self.database = database
    }

    /// The console's tables and indexes, registered at the end of `SQLiteMigrations`.
    static func migrate(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v17-delivery-log") { db in
            // (shop, user_key, id): the person page reads one person's newest records by index range.
            // at: the age bound deletes a range of the oldest.
            try db.execute(sql: """
                CREATE TABLE delivery_log (
                    id INTEGER PRIMARY KEY AUTOINCREMENT, shop TEXT NOT NULL, op_id TEXT NOT NULL, user_key TEXT NOT NULL,
                    kind TEXT NOT NULL, endpoint TEXT NOT NULL, request TEXT NOT NULL, status INTEGER, outcome TEXT NOT NULL,
                    response TEXT NOT NULL, attempts INTEGER NOT NULL, at INTEGER NOT NULL
                );
                CREATE INDEX delivery_log_user ON delivery_log (shop, user_key, id);
                CREATE INDEX delivery_log_at ON delivery_log (at);
                """)
        }
        migrator.registerMigration("v17-console-lookups") { db in
            // The person page finds a customer by email, and a person's dead letters, by index.
            try db.execute(sql: """
                CREATE INDEX customers_email ON customers (shop, email COLLATE NOCASE);
                CREATE INDEX outbox_dead_user ON outbox_dead (shop, user_key);
                CREATE INDEX outbox_dead_died ON outbox_dead (died_at);
                CREATE INDEX events_webhook_customer ON events (shop, CAST(json_extract(properties, '$.customer.id') AS TEXT))
                    WHERE source = 'webhook';
                """)
        }
    }

    // MARK: delivery log (written by SQLiteOutbox in the transaction that removes the rows)

    /// Records the answer for outbox rows `seqs` before they are deleted, then applies the retention.
    static func record(_ db: Database, seqs: [Int64], receipt: DeliveryReceipt, retention: DeliveryLogRetention) throws {
        guard !seqs.isEmpty else { return }
        let insert = try db.cachedStatement(sql: """
            INSERT INTO delivery_log (shop, op_id, user_key, kind, endpoint, request, status, outcome, response, attempts, at)
            SELECT shop, op_id, user_key, kind, ?, substr(payload, 1, ?), ?, ?, ?, attempts + 1, ? FROM outbox WHERE seq = ?
            """)
        let response = String(receipt.response.prefix(2_000))
        for seq in seqs {
            try insert.execute(arguments: [receipt.endpoint, retention.maxRequestBytes, receipt.status, receipt.outcome, response, receipt.at, seq])
        }
        // Both bounds delete a primary-key or index range of the oldest rows only: a few rows per batch.
        let last = db.lastInsertedRowID
        try db.execute(sql: "DELETE FROM delivery_log WHERE id <= ?", arguments: [last - retention.maxRows])
        try db.execute(sql: "DELETE FROM delivery_log WHERE at < ?", arguments: [receipt.at - retention.maxAgeMillis])
    }

    public func records(shop: String, userKeys: [String], limit: Int) async throws -> [DeliveryRecord] {
        try await pool.read { db in try Self.records(db, shop: shop, userKeys: userKeys, limit: limit) }
    }

    static func records(_ db: Database, shop: String, userKeys: [String], limit: Int) throws -> [DeliveryRecord] {
        var out: [DeliveryRecord] = []
        // One index range per key, each limited, then merged: bounded however many keys the person has.
        for key in userKeys {
            out += try Row.fetchAll(db, sql: """
                SELECT id, shop, op_id, user_key, kind, endpoint, request, status, outcome, response, attempts, at
                FROM delivery_log WHERE shop = ? AND user_key = ? ORDER BY id DESC LIMIT ?
                """, arguments: [shop, key, limit]).map { row in
                DeliveryRecord(opId: row["op_id"], shop: row["shop"], userKey: row["user_key"], kind: row["kind"], request: row["request"],
                               receipt: DeliveryReceipt(endpoint: row["endpoint"], status: row["status"], outcome: row["outcome"],
                                                        response: row["response"], at: row["at"]),
                               attempts: row["attempts"])
            }
        }
        return Array(out.sorted { $0.receipt.at > $1.receipt.at }.prefix(limit))
    }

    // MARK: overview

    public func overview(shop: String, now: EpochMillis) async throws -> ShopOverview {
        let outbox = try await SQLiteOutbox(database: database).status(shop: shop, now: now)
        return try await pool.read { db in
            let lag = try Self.processorLag(db)
            let quarantined = try SQLiteProcessorRun.quarantineCount(db, shop: shop)
            let dead = try Self.deadLetters(db, shop: shop, limit: 5)
            return ShopOverview(shop: shop, outbox: outbox, processorLag: lag, quarantined: quarantined, recentDeadLetters: dead)
        }
    }

    static func processorLag(_ db: Database) throws -> Int64 {
        // MAX on the primary key is one index lookup.
        let head = try Int64.fetchOne(db, sql: "SELECT MAX(position) FROM events") ?? 0
        return max(0, head - (try SQLiteProcessorLog.position(db)))
    }

    // MARK: person

    public func person(shop: String, query: String, limit: Int) async throws -> PersonView? {
        let q = query.trimmingCharacters(in: .whitespaces)
        guard !q.isEmpty, q.utf8.count <= 512 else { return nil }
        return try await pool.read { db in
            // Who is it: a customer id, an email, a visitor id or a cart token (each an index lookup).
            var customerId: String?
            var visitorIds: [String] = []
            if try Row.fetchOne(db, sql: "SELECT 1 FROM customers WHERE shop = ? AND customer_id = ?", arguments: [shop, q]) != nil {
                customerId = q
            } else if let id = try String.fetchOne(db, sql: "SELECT customer_id FROM customers WHERE shop = ? AND email = ? COLLATE NOCASE LIMIT 1",
                                                   arguments: [shop, q]) {
                customerId = id
            } else if let row = try Row.fetchOne(db, sql: "SELECT customer_id FROM visitors WHERE shop = ? AND visitor_id = ?", arguments: [shop, q]) {
                customerId = row["customer_id"]
                visitorIds = [q]
            } else if let visitor = try String.fetchOne(db, sql: "SELECT visitor_id FROM carts WHERE shop = ? AND (cart_token = ? OR checkout_token = ?) LIMIT 1",
                                                        arguments: [shop, q, q]) {
                customerId = try String.fetchOne(db, sql: "SELECT customer_id FROM visitors WHERE shop = ? AND visitor_id = ?", arguments: [shop, visitor])
                visitorIds = [visitor]
            } else if try Row.fetchOne(db, sql: "SELECT 1 FROM events WHERE position IN (\(SQLiteVisitorEvents.positionsOfOne)) LIMIT 1", arguments: [shop, q, shop, q]) != nil {
                visitorIds = [q]  // seen, not yet processed
            } else {
                return nil
            }
            if let customerId {
                let linked = try String.fetchAll(db, sql: "SELECT visitor_id FROM visitors WHERE shop = ? AND customer_id = ? ORDER BY last_seen DESC LIMIT 20",
                                                 arguments: [shop, customerId])
                visitorIds = Array((visitorIds + linked.filter { !visitorIds.contains($0) }).prefix(20))
            }
            var view = PersonView(shop: shop, customerId: customerId, visitors: [], timeline: [], deliveries: [], deadLetters: [], timers: [])
            if let customerId, let row = try Row.fetchOne(db, sql: "SELECT email, first_name, last_name FROM customers WHERE shop = ? AND customer_id = ?",
                                                         arguments: [shop, customerId]) {
                view.email = row["email"]
                let name = [row["first_name"] as String?, row["last_name"] as String?].compactMap { $0 }.joined(separator: " ")
                view.name = name.isEmpty ? nil : name
            }
            for id in visitorIds {
                let history = try Row.fetchAll(db, sql: "SELECT customer_id, evidence, linked_at FROM visitor_links WHERE shop = ? AND visitor_id = ? ORDER BY id LIMIT 20",
                                               arguments: [shop, id]).map { (customerId: $0["customer_id"] as String, evidence: $0["evidence"] as String, at: $0["linked_at"] as EpochMillis) }
                if let row = try Row.fetchOne(db, sql: "SELECT * FROM visitors WHERE shop = ? AND visitor_id = ?", arguments: [shop, id]) {
                    view.visitors.append(LinkedVisitor(visitorId: id, customerId: row["customer_id"], linkedAt: row["linked_at"], evidence: row["evidence"],
                                                       firstSeen: row["first_seen"], lastSeen: row["last_seen"], history: history))
                } else {
                    view.visitors.append(LinkedVisitor(visitorId: id, customerId: nil, linkedAt: nil, evidence: nil, firstSeen: 0, lastSeen: 0, history: history))
                }
            }
            // The timeline: each visitor's newest events (`SQLiteVisitorEvents`), the customer's webhooks
            // (index events_webhook_customer), merged and cut to `limit`.
            var events: [LoggedEvent] = []
            for id in visitorIds {
                events += try Row.fetchAll(db, sql: "SELECT \(SQLiteEventStore.eventColumns) FROM events WHERE position IN (\(SQLiteVisitorEvents.positionsOfOne)) ORDER BY position DESC LIMIT ?",
                                           arguments: [shop, id, shop, id, limit]).map(SQLiteEventStore.loggedEvent)
            }
            if let customerId {
                events += try Row.fetchAll(db, sql: """
                    SELECT \(SQLiteEventStore.eventColumns) FROM events
                    WHERE shop = ? AND CAST(json_extract(properties, '$.customer.id') AS TEXT) = ? AND source = 'webhook'
                    ORDER BY position DESC LIMIT ?
                    """, arguments: [shop, customerId, limit]).map(SQLiteEventStore.loggedEvent)
            }
            view.timeline = Array(events.sorted { $0.position > $1.position }.prefix(limit))
            let keys = (customerId.map { ["c:" + $0] } ?? []) + visitorIds.map { "v:" + $0 }
            view.deliveries = try Self.records(db, shop: shop, userKeys: keys, limit: limit)
            for key in keys {
                view.deadLetters += try Self.deadLetterRows(db, where: "shop = ? AND user_key = ?", arguments: [shop, key], limit: 50)
            }
            // Timers: browse timers by visitor, cart and checkout timers by the visitors' carts (primary keys).
            var subjects: [(String, String)] = visitorIds.map { ("browse", $0) }
            for id in visitorIds {
                for row in try Row.fetchAll(db, sql: "SELECT cart_token, checkout_token FROM carts WHERE shop = ? AND visitor_id = ? LIMIT 20", arguments: [shop, id]) {
                    subjects.append(("cart", row["cart_token"]))
                    if let checkout: String = row["checkout_token"] { subjects.append(("checkout", checkout)) }
                }
            }
            for (kind, subject) in subjects {
                if let row = try Row.fetchOne(db, sql: """
                    SELECT kind, subject, state, armed_at, due_at, reason, closed_at FROM abandonment_timers WHERE shop = ? AND kind = ? AND subject = ?
                    """, arguments: [shop, kind, subject]) {
                    view.timers.append(PersonTimer(kind: row["kind"], subject: row["subject"], state: row["state"], armedAt: row["armed_at"],
                                                   dueAt: row["due_at"], reason: row["reason"], closedAt: row["closed_at"]))
                }
            }
            return view
        }
    }

    // MARK: dead letters

    public func deadLetters(shop: String?, limit: Int) async throws -> [DeadLetter] {
        try await pool.read { db in try Self.deadLetters(db, shop: shop, limit: limit) }
    }

    static func deadLetters(_ db: Database, shop: String?, limit: Int) throws -> [DeadLetter] {
        try deadLetterRows(db, where: shop == nil ? "1" : "shop = ?", arguments: shop.map { [$0] } ?? [], limit: limit)
    }

    private static func deadLetterRows(_ db: Database, where condition: String, arguments: StatementArguments, limit: Int) throws -> [DeadLetter] {
        try Row.fetchAll(db, sql: """
            SELECT op_id, shop, user_key, kind, payload, created_at, attempts, reason, died_at
            FROM outbox_dead WHERE \(condition) ORDER BY died_at DESC, seq DESC LIMIT ?
            """, arguments: arguments + [limit]).compactMap { row in
            guard let kind = BrazeOperation.Kind(rawValue: row["kind"]) else { return nil }
            return DeadLetter(operation: BrazeOperation(id: row["op_id"], shop: row["shop"], userKey: row["user_key"], kind: kind,
                                                        payload: row["payload"], createdAt: row["created_at"]),
                              attempts: row["attempts"], reason: row["reason"], diedAt: row["died_at"])
        }
    }

    public func retryDeadLetter(shop: String, opId: String) async throws -> Bool {
        let moved = try await database.backgroundWrite { db in
            try db.execute(sql: """
                INSERT INTO outbox (op_id, shop, user_key, kind, payload, created_at)
                SELECT op_id, shop, user_key, kind, payload, created_at FROM outbox_dead WHERE shop = ? AND op_id = ?
                ON CONFLICT (shop, op_id) DO NOTHING
                """, arguments: [shop, opId])
            let moved = db.changesCount
            try db.execute(sql: "DELETE FROM outbox_dead WHERE shop = ? AND op_id = ?", arguments: [shop, opId])
            return moved > 0 || db.changesCount > 0
        }
        if moved { database.outboxFilled.signal() }
        return moved
    }

    public func discardDeadLetter(shop: String, opId: String) async throws -> Bool {
        try await database.backgroundWrite { db in
            try db.execute(sql: "DELETE FROM outbox_dead WHERE shop = ? AND op_id = ?", arguments: [shop, opId])
            return db.changesCount > 0
        }
    }

    public func retryDeadLetters(shop: String?) async throws -> Int {
        let moved = try await SQLiteOutbox(database: database).retryDead(shop: shop)
        if moved > 0 { database.outboxFilled.signal() }
        return moved
    }

    public func discardDeadLetters(shop: String?) async throws -> Int {
        try await database.backgroundWrite { db in
            try db.execute(sql: "DELETE FROM outbox_dead WHERE \(shop == nil ? "1" : "shop = ?")", arguments: shop.map { [$0] } ?? [])
            return db.changesCount
        }
    }

    // MARK: install check

    public func installSignals(shop: String, pageTypes: [String], topics: [String]) async throws -> InstallSignals {
        try await pool.read { db in
            let head = try Int64.fetchOne(db, sql: "SELECT MAX(position) FROM events") ?? 0
            let floor = head - Self.installWindow
            var signals = InstallSignals(pageTypes: [:], pixelCheckoutAt: nil, webhookTopics: [:], appProxyAt: nil)
            // Passes over the newest window only, walking the primary key: bounded whatever the log's size.
            // The unary + keeps SQLite off the (shop, …) indexes, which would visit every event of the shop.
            let rows = try Row.fetchAll(db, sql: """
                SELECT source, name, MAX(received_at) AS at, MAX(verified IS NOT NULL) AS proxied
                FROM events WHERE position > ? AND +shop = ? GROUP BY source, name
                """, arguments: [floor, shop])
            for row in rows {
                let source: String = row["source"], name: String = row["name"], at: EpochMillis = row["at"]
                switch source {
                case "webhook": signals.webhookTopics[name] = at
                case "pixel" where name.hasPrefix("checkout_"): signals.pixelCheckoutAt = max(signals.pixelCheckoutAt ?? 0, at)
                default: if (row["proxied"] as Bool?) == true { signals.appProxyAt = max(signals.appProxyAt ?? 0, at) }
                }
            }
            // The page type is in the page view's context (the snippet renders Liquid's request.page_type).
            let pages = try Row.fetchAll(db, sql: """
                SELECT json_extract(\(SQLiteEventStore.contextExpression), '$.page.type') AS page_type,
                       MAX(position) AS position, MAX(received_at) AS at
                FROM events WHERE position > ? AND +shop = ? AND +source = 'storefront' AND +name = 'page_viewed' GROUP BY page_type
                """, arguments: [floor, shop])
            for row in pages {
                guard let type: String = row["page_type"], pageTypes.contains(type) else { continue }
                let context = try String.fetchOne(db, sql: "SELECT \(SQLiteEventStore.contextColumn) FROM events WHERE position = ?",
                                                  arguments: [row["position"] as Int64])
                signals.pageTypes[type] = (row["at"], context)
            }
            return signals
        }
    }

    // MARK: metrics

    public func gauges() async throws -> OperatorGauges {
        try await pool.read { db in
            var gauges = OperatorGauges()
            for row in try Row.fetchAll(db, sql: "SELECT shop, COUNT(*) AS n FROM outbox GROUP BY shop") { gauges.outboxDepth[row["shop"]] = row["n"] }
            for row in try Row.fetchAll(db, sql: "SELECT shop, COUNT(*) AS n FROM outbox_dead GROUP BY shop") { gauges.deadLetters[row["shop"]] = row["n"] }
            for row in try Row.fetchAll(db, sql: "SELECT shop, kind, COUNT(*) AS n FROM abandonment_timers WHERE state = 'armed' GROUP BY shop, kind") {
                gauges.armedTimers[row["shop"], default: [:]][row["kind"]] = row["n"]
            }
            gauges.processorLag = try Self.processorLag(db)
            return gauges
        }
    }
}

import GRDB

/// `ProcessorState` inside one SQLite write transaction.
final class SQLiteProcessorState: ProcessorState {
    private let db: Database

    init(_ db: Database) { self.db = db }

    func visitor(shop: String, id: String) throws -> Visitor? {
        guard let row = try Row.fetchOne(db, sql: "SELECT * FROM visitors WHERE shop = ? AND visitor_id = ?", arguments: [shop, id]) else { return nil }
        var visitor = Visitor(shop: shop, id: id, firstSeen: row["first_seen"])
        visitor.lastSeen = row["last_seen"]
        visitor.customerId = row["customer_id"]
        visitor.linkedAt = row["linked_at"]
        visitor.evidence = (row["evidence"] as String?).flatMap(LinkEvidence.init(rawValue:))
        visitor.hasAliasProfile = row["has_alias_profile"]
        visitor.aliasIdentifiedAs = row["alias_identified_as"]
        return visitor
    }

    func save(_ v: Visitor) throws {
        try db.execute(sql: """
            INSERT OR REPLACE INTO visitors (shop, visitor_id, customer_id, linked_at, evidence, has_alias_profile, alias_identified_as, first_seen, last_seen)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [v.shop, v.id, v.customerId, v.linkedAt, v.evidence?.rawValue, v.hasAliasProfile, v.aliasIdentifiedAs, v.firstSeen, v.lastSeen])
    }

    func recordLink(shop: String, visitorId: String, customerId: String, evidence: LinkEvidence, at: EpochMillis) throws {
        try db.execute(sql: "INSERT INTO visitor_links (shop, visitor_id, customer_id, evidence, linked_at) VALUES (?, ?, ?, ?, ?)",
                       arguments: [shop, visitorId, customerId, evidence.rawValue, at])
    }

    func customer(shop: String, id: String) throws -> Customer? {
        guard let row = try Row.fetchOne(db, sql: "SELECT * FROM customers WHERE shop = ? AND customer_id = ?", arguments: [shop, id]) else { return nil }
        var customer = Customer(shop: shop, id: id)
        customer.email = row["email"]
        customer.firstName = row["first_name"]
        customer.lastName = row["last_name"]
        customer.phone = row["phone"]
        customer.sentAttributes = row["sent_attributes"]
        return customer
    }

    func save(_ c: Customer) throws {
        try db.execute(sql: """
            INSERT OR REPLACE INTO customers (shop, customer_id, email, first_name, last_name, phone, sent_attributes) VALUES (?, ?, ?, ?, ?, ?, ?)
            """, arguments: [c.shop, c.id, c.email, c.firstName, c.lastName, c.phone, c.sentAttributes])
    }

    func cart(shop: String, token: String) throws -> CartSnapshot? {
        try Row.fetchOne(db, sql: "SELECT * FROM carts WHERE shop = ? AND cart_token = ?", arguments: [shop, token]).map(Self.cart)
    }

    func cart(shop: String, checkoutToken: String) throws -> CartSnapshot? {
        try Row.fetchOne(db, sql: "SELECT * FROM carts WHERE shop = ? AND checkout_token = ?", arguments: [shop, checkoutToken]).map(Self.cart)
    }

    func detachBehaviour(shop: String, visitorId: String) throws {
        try db.execute(sql: "DELETE FROM product_views WHERE shop = ? AND visitor_id = ?", arguments: [shop, visitorId])
        try db.execute(sql: "UPDATE carts SET visitor_id = NULL WHERE shop = ? AND visitor_id = ?", arguments: [shop, visitorId])
    }

    func carts(shop: String, visitorId: String) throws -> [CartSnapshot] {
        try Row.fetchAll(db, sql: "SELECT * FROM carts WHERE shop = ? AND visitor_id = ? ORDER BY sent_time DESC", arguments: [shop, visitorId]).map(Self.cart)
    }

    private static func cart(_ row: Row) -> CartSnapshot {
        var cart = CartSnapshot(shop: row["shop"], token: row["cart_token"])
        cart.visitorId = row["visitor_id"]
        cart.sentSignature = row["sent_signature"]
        cart.sentTime = row["sent_time"]
        cart.checkedOut = row["checked_out"]
        cart.aliasedTo = row["aliased_to"]
        cart.checkoutToken = row["checkout_token"]
        return cart
    }

    func save(_ c: CartSnapshot) throws {
        try db.execute(sql: """
            INSERT OR REPLACE INTO carts (shop, cart_token, visitor_id, sent_signature, sent_time, checked_out, aliased_to, checkout_token)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [c.shop, c.token, c.visitorId, c.sentSignature, c.sentTime, c.checkedOut, c.aliasedTo, c.checkoutToken])
    }

    func swapProductView(shop: String, visitorId: String, productKey: String, time: EpochMillis) throws -> EpochMillis? {
        let previous = try EpochMillis.fetchOne(db, sql: "SELECT time FROM product_views WHERE shop = ? AND visitor_id = ? AND product_key = ?",
                                                arguments: [shop, visitorId, productKey])
        if previous.map({ time > $0 }) ?? true {
            try db.execute(sql: "INSERT OR REPLACE INTO product_views (shop, visitor_id, product_key, time) VALUES (?, ?, ?, ?)",
                           arguments: [shop, visitorId, productKey, time])
        }
        return previous
    }

    func events(shop: String, visitorId: String, names: [String], since: EpochMillis, before position: Int64) throws -> [LoggedEvent] {
        let marks = names.map { _ in "?" }.joined(separator: ",")
        var args: StatementArguments = [shop, visitorId, position]
        args += StatementArguments(names)
        args += [since]
        return try Row.fetchAll(db, sql: """
            SELECT \(SQLiteEventStore.eventColumns) FROM events
            WHERE shop = ? AND visitor_id = ? AND position < ? AND name IN (\(marks)) AND time >= ? ORDER BY position
            """, arguments: args).map(SQLiteEventStore.loggedEvent)
    }

    func markOnce(shop: String, key: String) throws -> Bool {
        try db.execute(sql: "INSERT OR IGNORE INTO sent_once (shop, key) VALUES (?, ?)", arguments: [shop, key])
        return db.changesCount > 0
    }

    func resourceVersion(shop: String, kind: String, id: String) throws -> EpochMillis? {
        try EpochMillis.fetchOne(db, sql: "SELECT updated_at FROM shopify_resources WHERE shop = ? AND kind = ? AND id = ?", arguments: [shop, kind, id])
    }

    func resourceBody(shop: String, kind: String, id: String) throws -> String? {
        try String.fetchOne(db, sql: "SELECT body FROM shopify_resources WHERE shop = ? AND kind = ? AND id = ? AND deleted = 0", arguments: [shop, kind, id])
    }

    func saveResource(shop: String, kind: String, id: String, updatedAt: EpochMillis, body: String?, deleted: Bool) throws {
        try db.execute(sql: "INSERT OR REPLACE INTO shopify_resources (shop, kind, id, updated_at, body, deleted) VALUES (?, ?, ?, ?, ?, ?)",
                       arguments: [shop, kind, id, updatedAt, body, deleted])
    }

    func resources(shop: String, kind: String) throws -> [(id: String, updatedAt: EpochMillis, body: String?)] {
        try Row.fetchAll(db, sql: "SELECT id, updated_at, body FROM shopify_resources WHERE shop = ? AND kind = ? AND deleted = 0 ORDER BY id",
                         arguments: [shop, kind]).map { (id: $0["id"], updatedAt: $0["updated_at"], body: $0["body"]) }
    }

    func uninstalledAt(shop: String) throws -> EpochMillis? {
        try EpochMillis.fetchOne(db, sql: "SELECT uninstalled_at FROM shop_state WHERE shop = ?", arguments: [shop])
    }

    func setUninstalled(shop: String, at: EpochMillis?) throws {
        try db.execute(sql: "INSERT OR REPLACE INTO shop_state (shop, uninstalled_at) VALUES (?, ?)", arguments: [shop, at])
    }

    /// Every visitor ever linked to a customer (arguments: shop, customer id, shop, customer id).
    private static let customerVisitors = """
        SELECT DISTINCT visitor_id FROM visitor_links WHERE shop = ? AND customer_id = ? UNION SELECT visitor_id FROM visitors WHERE shop = ? AND customer_id = ?
        """

    func export(shop: String, customerId: String) throws -> JSONValue {
        func rows(_ sql: String, _ args: StatementArguments) throws -> JSONValue {
            .array(try Row.fetchAll(db, sql: sql, arguments: args).map { row in
                .object(JSONObject(row.columnNames.map { name -> (key: String, value: JSONValue) in
                    let value: JSONValue = switch row[name] as DatabaseValue? {
                    case .some(let v) where v.storage == .null: .null
                    case .some(let v): if let i = Int64.fromDatabaseValue(v) { .number(String(i)) } else { .string(String.fromDatabaseValue(v) ?? "") }
                    case .none: .null
                    }
                    return (name, value)
                }))
            })
        }
        let visitors = Self.customerVisitors
        let args: StatementArguments = [shop, customerId, shop, customerId]
        return .object(JSONObject([
            ("customer", try rows("SELECT * FROM customers WHERE shop = ? AND customer_id = ?", [shop, customerId])),
            ("visitors", try rows("SELECT * FROM visitors WHERE shop = ? AND visitor_id IN (\(visitors))", [shop] + args)),
            ("links", try rows("SELECT * FROM visitor_links WHERE shop = ? AND customer_id = ?", [shop, customerId])),
            ("carts", try rows("SELECT * FROM carts WHERE shop = ? AND visitor_id IN (\(visitors))", [shop] + args)),
            ("abandonment_timers", try rows("SELECT kind, subject, state, armed_at, due_at, detail FROM abandonment_timers WHERE shop = ? AND (customer_id = ? OR visitor_id IN (\(visitors)))", [shop, customerId] + args)),
            ("events", try rows("SELECT position, source, event_id, name, time, context, properties FROM events WHERE shop = ? AND visitor_id IN (\(visitors)) ORDER BY position", [shop] + args)),
        ]))
    }

    func redact(shop: String, customerId: String) throws -> [String] {
        let visitors = try String.fetchAll(db, sql: Self.customerVisitors, arguments: [shop, customerId, shop, customerId])
        for visitor in visitors {
            for table in ["events", "visitors", "visitor_links", "carts", "product_views", "security_events", "abandonment_timers"] {
                try db.execute(sql: "DELETE FROM \(table) WHERE shop = ? AND visitor_id = ?", arguments: [shop, visitor])
            }
        }
        try db.execute(sql: "DELETE FROM customers WHERE shop = ? AND customer_id = ?", arguments: [shop, customerId])
        try db.execute(sql: "DELETE FROM visitor_links WHERE shop = ? AND customer_id = ?", arguments: [shop, customerId])
        try db.execute(sql: "DELETE FROM abandonment_timers WHERE shop = ? AND customer_id = ?", arguments: [shop, customerId])
        try db.execute(sql: "DELETE FROM abandonment_cooldowns WHERE shop = ? AND target = ?", arguments: [shop, "c:" + customerId])
        return visitors
    }

    func redactShop(_ shop: String) throws {
        for table in ["events", "visitors", "visitor_links", "customers", "carts", "product_views", "security_events", "sent_once", "shopify_resources", "outbox", "outbox_dead",
                      "abandonment_timers", "abandonment_cooldowns", "abandonment_counts"] {
            try db.execute(sql: "DELETE FROM \(table) WHERE shop = ?", arguments: [shop])
        }
    }

    func audit(shop: String, action: String, detail: String, at: EpochMillis) throws {
        try db.execute(sql: "INSERT INTO audit_log (shop, action, detail, at) VALUES (?, ?, ?, ?)", arguments: [shop, action, detail, at])
    }

    var timers: any AbandonmentTimerStore { SQLiteAbandonmentTimers(db: db) }

    func enqueue(_ operations: [BrazeOperation]) throws {
        try SQLiteOutbox.enqueue(operations, in: db)
    }

    func securityEvent(shop: String, visitorId: String?, kind: String, detail: String, at: EpochMillis) throws {
        try db.execute(sql: "INSERT INTO security_events (shop, visitor_id, kind, detail, at) VALUES (?, ?, ?, ?, ?)",
                       arguments: [shop, visitorId, kind, detail, at])
    }
}

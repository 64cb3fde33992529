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

    func markCheckoutSent(shop: String, checkoutId: String) throws -> Bool {
        try db.execute(sql: "INSERT OR IGNORE INTO checkouts_sent (shop, checkout_id) VALUES (?, ?)", arguments: [shop, checkoutId])
        return db.changesCount > 0
    }

    func enqueue(_ operations: [BrazeOperation]) throws {
        try SQLiteOutbox.enqueue(operations, in: db)
    }

    func securityEvent(shop: String, visitorId: String?, kind: String, detail: String, at: EpochMillis) throws {
        try db.execute(sql: "INSERT INTO security_events (shop, visitor_id, kind, detail, at) VALUES (?, ?, ?, ?, ?)",
                       arguments: [shop, visitorId, kind, detail, at])
    }
}

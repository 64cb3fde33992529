import Foundation
import GRDB
import GRDBSQLite

/// `ProcessorState` inside one SQLite write transaction.
final class SQLiteProcessorState: ProcessorState {
    private let db: Database
    private let outboxFilled: StageWakeup

    /// `outboxFilled` is signalled once the transaction commits, when something was enqueued.
    init(_ db: Database, outboxFilled: StageWakeup) {
        self.db = db
        self.outboxFilled = outboxFilled
    }

    func visitor(shop: String, id: String) throws -> Visitor? {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM visitors WHERE shop = ? AND visitor_id = ?"), arguments: [shop, id]) else { return nil }
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
        try db.cachedStatement(sql: """
            INSERT OR REPLACE INTO visitors (shop, visitor_id, customer_id, linked_at, evidence, has_alias_profile, alias_identified_as, first_seen, last_seen)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """).execute(arguments: [v.shop, v.id, v.customerId, v.linkedAt, v.evidence?.rawValue, v.hasAliasProfile, v.aliasIdentifiedAs, v.firstSeen, v.lastSeen])
    }

    func recordLink(shop: String, visitorId: String, customerId: String, evidence: LinkEvidence, at: EpochMillis) throws {
        try db.cachedStatement(sql: "INSERT INTO visitor_links (shop, visitor_id, customer_id, evidence, linked_at) VALUES (?, ?, ?, ?, ?)")
            .execute(arguments: [shop, visitorId, customerId, evidence.rawValue, at])
    }

    func customer(shop: String, id: String) throws -> Customer? {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM customers WHERE shop = ? AND customer_id = ?"), arguments: [shop, id]) else { return nil }
        var customer = Customer(shop: shop, id: id)
        customer.email = row["email"]
        customer.firstName = row["first_name"]
        customer.lastName = row["last_name"]
        customer.phone = row["phone"]
        customer.sentAttributes = row["sent_attributes"]
        return customer
    }

    func save(_ c: Customer) throws {
        try db.cachedStatement(sql: """
            INSERT OR REPLACE INTO customers (shop, customer_id, email, first_name, last_name, phone, sent_attributes) VALUES (?, ?, ?, ?, ?, ?, ?)
            """).execute(arguments: [c.shop, c.id, c.email, c.firstName, c.lastName, c.phone, c.sentAttributes])
    }

    func cart(shop: String, token: String) throws -> CartSnapshot? {
        try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM carts WHERE shop = ? AND cart_token = ?"), arguments: [shop, token]).map(Self.cart)
    }

    func cart(shop: String, checkoutToken: String) throws -> CartSnapshot? {
        try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM carts WHERE shop = ? AND checkout_token = ?"), arguments: [shop, checkoutToken]).map(Self.cart)
    }

    func detachBehaviour(shop: String, visitorId: String) throws {
        try db.cachedStatement(sql: "DELETE FROM product_views WHERE shop = ? AND visitor_id = ?").execute(arguments: [shop, visitorId])
        try db.cachedStatement(sql: "UPDATE carts SET visitor_id = NULL WHERE shop = ? AND visitor_id = ?").execute(arguments: [shop, visitorId])
    }

    func carts(shop: String, visitorId: String) throws -> [CartSnapshot] {
        try Row.fetchAll(db.cachedStatement(sql: "SELECT * FROM carts WHERE shop = ? AND visitor_id = ? ORDER BY sent_time DESC"), arguments: [shop, visitorId]).map(Self.cart)
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
        try db.cachedStatement(sql: """
            INSERT OR REPLACE INTO carts (shop, cart_token, visitor_id, sent_signature, sent_time, checked_out, aliased_to, checkout_token)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """).execute(arguments: [c.shop, c.token, c.visitorId, c.sentSignature, c.sentTime, c.checkedOut, c.aliasedTo, c.checkoutToken])
    }

    func swapProductView(shop: String, visitorId: String, productKey: String, time: EpochMillis) throws -> EpochMillis? {
        let previous = try EpochMillis.fetchOne(db.cachedStatement(sql: "SELECT time FROM product_views WHERE shop = ? AND visitor_id = ? AND product_key = ?"),
                                                arguments: [shop, visitorId, productKey])
        if previous.map({ time > $0 }) ?? true {
            try db.cachedStatement(sql: "INSERT OR REPLACE INTO product_views (shop, visitor_id, product_key, time) VALUES (?, ?, ?, ?)")
                .execute(arguments: [shop, visitorId, productKey, time])
        }
        return previous
    }

    func events(shop: String, visitorId: String, names: [String], since: EpochMillis, before position: Int64) throws -> [LoggedEvent] {
        let marks = names.map { _ in "?" }.joined(separator: ",")
        var args: StatementArguments = [shop, visitorId, shop, visitorId, position]
        args += StatementArguments(names)
        args += [since]
        return try Row.fetchAll(db, sql: """
            SELECT \(SQLiteEventStore.eventColumns) FROM events
            WHERE position IN (\(SQLiteVisitorEvents.positionsOfOne)) AND position < ? AND name IN (\(marks)) AND time >= ? ORDER BY position
            """, arguments: args).map(SQLiteEventStore.loggedEvent)
    }

    func markOnce(shop: String, key: String) throws -> Bool {
        try db.cachedStatement(sql: "INSERT OR IGNORE INTO sent_once (shop, key) VALUES (?, ?)").execute(arguments: [shop, key])
        return db.changesCount > 0
    }

    func isMarked(shop: String, key: String) throws -> Bool {
        try Bool.fetchOne(db.cachedStatement(sql: "SELECT EXISTS (SELECT 1 FROM sent_once WHERE shop = ? AND key = ?)"), arguments: [shop, key]) ?? false
    }

    func resourceVersion(shop: String, kind: String, id: String) throws -> EpochMillis? {
        try EpochMillis.fetchOne(db.cachedStatement(sql: "SELECT updated_at FROM shopify_resources WHERE shop = ? AND kind = ? AND id = ?"), arguments: [shop, kind, id])
    }

    func resourceBody(shop: String, kind: String, id: String) throws -> String? {
        try String.fetchOne(db.cachedStatement(sql: "SELECT body FROM shopify_resources WHERE shop = ? AND kind = ? AND id = ? AND deleted = 0"), arguments: [shop, kind, id])
    }

    func saveResource(shop: String, kind: String, id: String, updatedAt: EpochMillis, body: String?, deleted: Bool) throws {
        try db.cachedStatement(sql: "INSERT OR REPLACE INTO shopify_resources (shop, kind, id, updated_at, body, deleted) VALUES (?, ?, ?, ?, ?, ?)")
            .execute(arguments: [shop, kind, id, updatedAt, body, deleted])
    }

    func resources(shop: String, kind: String) throws -> [(id: String, updatedAt: EpochMillis, body: String?)] {
        try Row.fetchAll(db.cachedStatement(sql: "SELECT id, updated_at, body FROM shopify_resources WHERE shop = ? AND kind = ? AND deleted = 0 ORDER BY id"),
                         arguments: [shop, kind]).map { (id: $0["id"], updatedAt: $0["updated_at"], body: $0["body"]) }
    }

    func uninstalledAt(shop: String) throws -> EpochMillis? {
        try EpochMillis.fetchOne(db.cachedStatement(sql: "SELECT uninstalled_at FROM shop_state WHERE shop = ?"), arguments: [shop])
    }

    func setUninstalled(shop: String, at: EpochMillis?) throws {
        try db.cachedStatement(sql: "INSERT OR REPLACE INTO shop_state (shop, uninstalled_at) VALUES (?, ?)").execute(arguments: [shop, at])
    }

    /// Every visitor ever linked to a customer (arguments: shop, customer id, shop, customer id).
    private static let customerVisitors = """
        SELECT DISTINCT visitor_id FROM visitor_links WHERE shop = ? AND customer_id = ? UNION SELECT visitor_id FROM visitors WHERE shop = ? AND customer_id = ?
        """

    /// A row as a JSON object; columns holding JSON text (payloads, bodies) are embedded as JSON.
    private static func json(_ row: Row, embedding: Set<String> = []) -> JSONValue {
        .object(JSONObject(row.columnNames.map { name -> (key: String, value: JSONValue) in
            let value: JSONValue = switch row[name] as DatabaseValue? {
            case .some(let v) where v.storage == .null: .null
            case .some(let v):
                if let i = Int64.fromDatabaseValue(v) { .number(String(i)) } else {
                    String.fromDatabaseValue(v).map { text in
                        embedding.contains(name) ? ((try? JSONParser.parse(Array(text.utf8))) ?? .string(text)) : .string(text)
                    } ?? .null
                }
            case .none: .null
            }
            return (name, value)
        }))
    }

    private func rows(_ sql: String, _ args: StatementArguments, embedding: Set<String> = []) throws -> JSONValue {
        .array(try Row.fetchAll(db, sql: sql, arguments: args).map { Self.json($0, embedding: embedding) })
    }

    private static func list(_ values: [String]) -> String { SQLiteList.of(values) }

    /// Webhook deliveries of a customer (arguments `:shop`, `:before`, `:cid`, `:orders`, `:emails`, `:phones`): by its
    /// customer id wherever a topic carries it, by the ids of its orders, by its email or phone. Ids may be JSON numbers
    /// or strings, so both sides are compared as text.
    private static let webhookMatch = """
        shop = :shop AND source = 'webhook' AND position < :before AND CASE WHEN json_valid(properties) THEN (
            CAST(json_extract(properties, '$.customer.id') AS TEXT) = :cid
            OR CAST(json_extract(properties, '$.customer_id') AS TEXT) = :cid
            OR (name LIKE 'customers/%' AND CAST(json_extract(properties, '$.id') AS TEXT) = :cid)
            OR (name LIKE 'orders/%' AND CAST(json_extract(properties, '$.id') AS TEXT) IN (SELECT value FROM json_each(:orders)))
            OR CAST(json_extract(properties, '$.order_id') AS TEXT) IN (SELECT value FROM json_each(:orders))
            OR lower(json_extract(properties, '$.email')) IN (SELECT value FROM json_each(:emails))
            OR lower(json_extract(properties, '$.contact_email')) IN (SELECT value FROM json_each(:emails))
            OR lower(json_extract(properties, '$.customer.email')) IN (SELECT value FROM json_each(:emails))
            OR lower(json_extract(properties, '$.email_address')) IN (SELECT value FROM json_each(:emails))
            OR json_extract(properties, '$.phone') IN (SELECT value FROM json_each(:phones))
            OR json_extract(properties, '$.customer.phone') IN (SELECT value FROM json_each(:phones))
        ) ELSE 0 END
        """

    /// Order resources of a customer (arguments `:shop`, `:cid`, `:emails`).
    private static let orderResourceMatch = """
        shop = :shop AND kind = 'order' AND CASE WHEN json_valid(body) THEN (
            CAST(json_extract(body, '$.customer.id') AS TEXT) = :cid
            OR lower(json_extract(body, '$.email')) IN (SELECT value FROM json_each(:emails))
            OR lower(json_extract(body, '$.contact_email')) IN (SELECT value FROM json_each(:emails))
        ) ELSE 0 END
        """

    /// The orders named plus every stored order of the customer (by customer id or email), in deliveries or resources.
    private func orders(shop: String, customerId: String, emails: [String], phones: [String], named: [String], before: Int64) throws -> [String] {
        var arguments: StatementArguments = ["shop": shop, "before": before, "cid": customerId, "orders": Self.list([]),
                                             "emails": Self.list(emails), "phones": Self.list(phones)]
        var ids = Set(named)
        ids.formUnion(try String?.fetchAll(db, sql: """
            SELECT CAST(json_extract(properties, '$.id') AS TEXT) FROM events WHERE name LIKE 'orders/%' AND \(Self.webhookMatch)
            """, arguments: arguments).compactMap { $0 })
        arguments = ["shop": shop, "cid": customerId, "emails": Self.list(emails)]
        ids.formUnion(try String.fetchAll(db, sql: "SELECT id FROM shopify_resources WHERE \(Self.orderResourceMatch)", arguments: arguments))
        return ids.sorted()
    }

    func export(shop: String, customerId: String, emails: [String], orderIds: [String]) throws -> JSONValue {
        let visitors = Self.customerVisitors
        let args: StatementArguments = [shop, customerId, shop, customerId]
        let before = Int64.max
        let orders = try self.orders(shop: shop, customerId: customerId, emails: emails, phones: [], named: orderIds, before: before)
        let webhookArguments: StatementArguments = ["shop": shop, "before": before, "cid": customerId, "orders": Self.list(orders),
                                                    "emails": Self.list(emails), "phones": Self.list([])]
        return .object(JSONObject([
            ("customer_id", .string(customerId)),
            ("customer", try rows("SELECT * FROM customers WHERE shop = ? AND customer_id = ?", [shop, customerId])),
            ("visitors", try rows("SELECT * FROM visitors WHERE shop = ? AND visitor_id IN (\(visitors))", [shop] + args)),
            ("links", try rows("SELECT * FROM visitor_links WHERE shop = ? AND customer_id = ?", [shop, customerId])),
            ("carts", try rows("SELECT * FROM carts WHERE shop = ? AND visitor_id IN (\(visitors))", [shop] + args)),
            ("abandonment_timers", try rows("SELECT kind, subject, state, armed_at, due_at, detail FROM abandonment_timers WHERE shop = ? AND (customer_id = ? OR visitor_id IN (\(visitors)))", [shop, customerId] + args,
                                            embedding: ["detail"])),
            ("events", try rows("SELECT position, source, event_id, name, time, \(SQLiteEventStore.contextColumn), properties FROM events WHERE position IN (\(SQLiteVisitorEvents.positions(ofAny: visitors))) ORDER BY position", [shop] + args + [shop] + args,
                                embedding: ["context", "properties"])),
            ("webhook_deliveries", try rows("SELECT position, name AS topic, event_id, received_at, properties AS payload FROM events WHERE \(Self.webhookMatch) ORDER BY position",
                                            webhookArguments, embedding: ["payload"])),
            ("orders", try rows("SELECT id, updated_at, body FROM shopify_resources WHERE shop = ? AND kind = 'order' AND deleted = 0 AND id IN (SELECT value FROM json_each(?)) ORDER BY id",
                                [shop, Self.list(orders)], embedding: ["body"])),
        ]))
    }

    func redact(shop: String, _ r: CustomerRedaction) throws -> RedactionReport {
        var report = RedactionReport()
        let cid = r.customerId
        let visitors = try String.fetchAll(db, sql: Self.customerVisitors, arguments: [shop, cid, shop, cid])
        report.visitors = visitors
        let orders = try self.orders(shop: shop, customerId: cid, emails: r.emails, phones: r.phones, named: r.orderIds, before: r.before)
        let webhookArguments: StatementArguments = ["shop": shop, "before": r.before, "cid": cid, "orders": Self.list(orders),
                                                    "emails": Self.list(r.emails), "phones": Self.list(r.phones)]

        // Cart and checkout tokens of the customer's orders and checkouts, before those rows go: carts and
        // checkout timers are keyed by them, with no customer id of their own.
        var tokens = Set<String>()
        func collectTokens(_ text: String?) {
            guard let text, let object = (try? JSONParser.parse(Array(text.utf8)))?.objectValue else { return }
            for key in ["cart_token", "checkout_token", "token"] {
                if let token = object[key]?.stringValue, !token.isEmpty { tokens.insert(token); tokens.insert(String(token.split(separator: "?").first ?? "")) }
            }
        }
        let deliveries = try Row.fetchAll(db, sql: "SELECT position, properties FROM events WHERE \(Self.webhookMatch)", arguments: webhookArguments)
        for row in deliveries { collectTokens(row["properties"]) }
        let resourceArguments: StatementArguments = ["shop": shop, "cid": cid, "orders": Self.list(orders)]
        let resourceMatch = """
            shop = :shop AND ((kind IN ('customer', 'email_consent', 'sms_consent') AND id = :cid)
            OR (kind IN ('order', 'parked_refunds') AND id IN (SELECT value FROM json_each(:orders))))
            """
        for body in try String?.fetchAll(db, sql: "SELECT body FROM shopify_resources WHERE \(resourceMatch)", arguments: resourceArguments) { collectTokens(body) }
        tokens.remove("")

        try db.execute(sql: "DELETE FROM events WHERE position IN (SELECT value FROM json_each(?))",
                       arguments: [SQLiteList.of(deliveries.map { $0["position"] as Int64 })])
        report.webhookDeliveries = db.changesCount
        try db.execute(sql: "DELETE FROM shopify_resources WHERE \(resourceMatch)", arguments: resourceArguments)
        report.resources = db.changesCount

        // Storefront and pixel events: every event of the customer's visitors (held or processed, before or
        // after the redact), and any other event that carries the email or phone (a pixel checkout of a visitor never linked).
        // Contexts shared by the deleted events (a batch's page context, with its signed customer) go with them.
        for visitor in visitors {
            report.events += try SQLiteEventStore.deleteEvents(db, where: "position IN (\(SQLiteVisitorEvents.positionsOfOne))", arguments: [shop, visitor, shop, visitor])
        }
        for needle in r.emails + r.phones.filter({ $0.count >= 7 }) {
            let pattern = "%" + Self.likeEscaped(needle) + "%"
            report.events += try SQLiteEventStore.deleteEvents(db, where: """
                shop = ? AND source != 'webhook' AND position < ? AND (properties LIKE ? ESCAPE '\\' OR context LIKE ? ESCAPE '\\'
                OR context_id IN (SELECT id FROM event_contexts WHERE shop = ? AND text LIKE ? ESCAPE '\\'))
                """, arguments: [shop, r.before, pattern, pattern, shop, pattern])
        }

        let tokenList = Self.list(tokens.sorted())
        try db.cachedStatement(sql: """
            DELETE FROM carts WHERE shop = ? AND (visitor_id IN (SELECT value FROM json_each(?)) OR cart_token IN (SELECT value FROM json_each(?))
            OR checkout_token IN (SELECT value FROM json_each(?)))
            """).execute(arguments: [shop, Self.list(visitors), tokenList, tokenList])
        report.carts = db.changesCount
        try db.cachedStatement(sql: """
            DELETE FROM abandonment_timers WHERE shop = ? AND (customer_id = ? OR visitor_id IN (SELECT value FROM json_each(?))
            OR subject IN (SELECT value FROM json_each(?)))
            """).execute(arguments: [shop, cid, Self.list(visitors), tokenList])
        report.timers = db.changesCount
        // The customer-id alias mark keeps a digest of the external id, which may be derived from the email.
        try db.execute(sql: "DELETE FROM sent_once WHERE shop = ? AND substr(key, 1, ?) = ?",
                       arguments: [shop, "customer_alias:\(cid):".count, "customer_alias:\(cid):"])
        for visitor in visitors {
            for table in ["visitors", "product_views", "security_events"] {
                try db.execute(sql: "DELETE FROM \(table) WHERE shop = ? AND visitor_id = ?", arguments: [shop, visitor])
            }
        }
        try db.execute(sql: "DELETE FROM visitor_links WHERE shop = ? AND (customer_id = ? OR visitor_id IN (SELECT value FROM json_each(?)))",
                       arguments: [shop, cid, Self.list(visitors)])
        report.links = db.changesCount
        try db.cachedStatement(sql: "DELETE FROM customers WHERE shop = ? AND customer_id = ?").execute(arguments: [shop, cid])
        report.customers = db.changesCount
        try db.cachedStatement(sql: "DELETE FROM abandonment_cooldowns WHERE shop = ? AND target = ?").execute(arguments: [shop, "c:" + cid])

        // Braze operations not sent yet (and dead letters) for the customer: keyed by it, or naming one of its
        // external ids, visitor aliases, its email or phone. Catalog operations carry no user; earlier deletions
        // stay (they only name the user to delete).
        var needles = (r.externalIds + visitors).map { JSONValue.string($0).serialized }
        needles += r.emails + r.phones.filter { $0.count >= 7 }
        for table in ["outbox", "outbox_dead"] {
            try db.execute(sql: """
                DELETE FROM \(table) WHERE shop = ? AND kind NOT IN ('delete', 'catalog_create', 'catalog_upsert', 'catalog_delete')
                AND (user_key = ? OR EXISTS (SELECT 1 FROM json_each(?) WHERE instr(lower(payload), lower(value)) > 0))
                """, arguments: [shop, "c:" + cid, Self.list(needles)])
            if table == "outbox" { report.outbox = db.changesCount } else { report.deadLetters = db.changesCount }
        }

        // What a backfill fetched and has not enqueued yet (GraphQL ids).
        let gid = "gid://shopify/Customer/" + cid
        try db.cachedStatement(sql: """
            DELETE FROM backfill_staging WHERE shop = ? AND ((kind = 'customer' AND id = ?)
            OR (kind = 'order' AND id IN (SELECT 'gid://shopify/Order/' || value FROM json_each(?)))
            OR CASE WHEN json_valid(body) THEN json_extract(body, '$.customer.id') = ? ELSE 0 END
            OR EXISTS (SELECT 1 FROM json_each(?) WHERE instr(lower(body), lower(value)) > 0))
            """).execute(arguments: [shop, gid, Self.list(orders), gid, Self.list(r.emails + r.phones.filter { $0.count >= 7 })])
        report.backfillRows = db.changesCount

        // Old page images of the deleted rows stay in the WAL until a checkpoint copies the zeroed pages
        // over them and truncates it: one runs, outside this transaction, once it commits.
        if let path = sqlite3_db_filename(db.sqliteConnection, "main").map({ String(cString: $0) }), !path.isEmpty {
            db.afterNextTransaction(onCommit: { _ in SQLiteCheckpoint.truncateSoon(path: path) })
        }
        return report
    }

    func scrubDelivery(shop: String, position: Int64, properties: String) throws {
        try db.execute(sql: "UPDATE events SET properties = ?, context = NULL WHERE shop = ? AND position = ? AND source = 'webhook'",
                       arguments: [properties, shop, position])
    }

    private static func likeEscaped(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(of: "_", with: "\\_")
    }

    func redactShop(_ shop: String) throws {
        for table in ["events", "event_contexts", "visitors", "visitor_links", "customers", "carts", "product_views", "security_events", "security_counts", "sent_once", "shopify_resources", "outbox", "outbox_dead",
                      "abandonment_timers", "abandonment_cooldowns", "abandonment_counts"] {
            try db.execute(sql: "DELETE FROM \(table) WHERE shop = ?", arguments: [shop])
        }
    }

    func audit(shop: String, action: String, detail: String, at: EpochMillis) throws {
        try db.cachedStatement(sql: "INSERT INTO audit_log (shop, action, detail, at) VALUES (?, ?, ?, ?)").execute(arguments: [shop, action, detail, at])
    }

    var timers: any AbandonmentTimerStore { SQLiteAbandonmentTimers(db: db) }

    func firstUnprocessedTime() throws -> EpochMillis? {
        try EpochMillis.fetchOne(db.cachedStatement(sql: "SELECT MIN(time, received_at) FROM events WHERE position > ? ORDER BY position LIMIT 1"),
                                 arguments: [try SQLiteProcessorLog.position(db)])
    }

    func enqueue(_ operations: [BrazeOperation]) throws {
        try SQLiteOutbox.enqueue(operations, in: db, wake: outboxFilled)
    }

    func securityEvent(shop: String, kind: String, detail: String, at: EpochMillis) throws {
        // Counted per shop, kind, reason and UTC day, not stored one row each: a flood of forged claims
        // grows one counter, not the table (issue 14).
        try db.cachedStatement(sql: """
            INSERT INTO security_counts (shop, kind, detail, day, count, first_at, last_at) VALUES (?, ?, ?, ?, 1, ?, ?)
            ON CONFLICT (shop, kind, detail, day) DO UPDATE SET count = count + 1, last_at = excluded.last_at
            """).execute(arguments: [shop, kind, detail, at / 86_400_000, at, at])
    }
}

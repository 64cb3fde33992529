import PostgresNIO
import Synchronization

/// `ProcessorState` inside one PostgreSQL transaction, with the SQLite engine's semantics member by
/// member (`SQLiteProcessorState`); JSON matching uses `jsonb` where SQLite uses `json_extract`.
///
/// Every statement is a round trip here, where SQLite answers in microseconds. So what one transaction
/// (one chunk of the log) reads most is remembered for the transaction: visitors (read for the whole
/// chunk in one query, `prefetchVisitors`), customers and the shop's uninstall mark; and the writes of
/// nearly every event, the visitor's row and its Braze operations, are held back and sent as one
/// statement each (`PostgresBlockingConnection.holdBack`): before the connection's next other
/// statement, whoever sends it, and before the commit. A statement that reads them therefore sees
/// them, and the transaction stays all or nothing.
final class PostgresProcessorState: ProcessorState, PostgresHeldBackWrites, Sendable {
    private let connection: PostgresBlockingConnection
    /// Set when something was enqueued: the caller signals the outbox once the transaction commits.
    private let enqueued = Mutex(false)
    private let memo = Mutex(Memo())

    /// A row's key within the transaction.
    private struct Key: Hashable {
        let shop: String, id: String
    }

    /// What this transaction knows and holds back. A key present with nil: no such row.
    private struct Memo {
        var visitors: [Key: Visitor?] = [:]
        var customers: [Key: Customer?] = [:]
        var uninstalled: [String: EpochMillis?] = [:]
        /// Visitors saved and not sent yet, in the order first saved (a later save replaces its row in place).
        var unsentVisitors: [Visitor] = []
        var unsentVisitorIndex: [Key: Int] = [:]
        var unsentOperations: [BrazeOperation] = []
    }

    /// Rows per held-back visitor statement (9 parameters each, PostgreSQL takes 65,535).
    private static let visitorsPerStatement = 1_000

    init(_ connection: PostgresBlockingConnection) {
        self.connection = connection
    }

    /// Whether the transaction added Braze operations, or holds some back to add at its commit (signal
    /// `outboxFilled` after it commits; one that were all known already wakes the forwarder for nothing).
    var didEnqueue: Bool { enqueued.withLock { $0 } || memo.withLock { !$0.unsentOperations.isEmpty } }

    /// Reads the visitors of a chunk's events in one query, so `visitor(shop:id:)` answers them from memory.
    func prefetchVisitors(shop: String, ids: Set<String>) throws {
        let wanted = memo.withLock { m in ids.filter { m.visitors[Key(shop: shop, id: $0)] == nil }.sorted() }
        guard !wanted.isEmpty else { return }
        var found: [Key: Visitor] = [:]
        for row in try connection.rows("SELECT \(unescaped: Self.visitorColumns) FROM visitors WHERE shop = \(shop) AND visitor_id = ANY(\(wanted))") {
            let visitor = try Self.visitor(row, shop: shop)
            found[Key(shop: shop, id: visitor.id)] = visitor
        }
        memo.withLock { m in
            for id in wanted {
                let key = Key(shop: shop, id: id)
                if m.visitors[key] == nil { m.visitors[key] = .some(found[key]) }
            }
        }
    }

    private static let visitorColumns = "visitor_id, customer_id, linked_at, evidence, has_alias_profile, alias_identified_as, first_seen, last_seen"

    /// A row of `visitorColumns`.
    private static func visitor(_ row: PostgresRow, shop: String) throws -> Visitor {
        let (id, customerId, linkedAt, evidence, hasAlias, aliasAs, firstSeen, lastSeen) =
            try row.decode((String, String?, Int64?, String?, Bool, String?, Int64, Int64).self)
        var visitor = Visitor(shop: shop, id: id, firstSeen: firstSeen)
        visitor.lastSeen = lastSeen
        visitor.customerId = customerId
        visitor.linkedAt = linkedAt
        visitor.evidence = evidence.flatMap(LinkEvidence.init(rawValue:))
        visitor.hasAliasProfile = hasAlias
        visitor.aliasIdentifiedAs = aliasAs
        return visitor
    }

    /// The remembered answer for `key`, or `read()`'s, remembered (an absent row too).
    private func remembered<K: Hashable, V: Sendable>(_ table: WritableKeyPath<Memo, [K: V?]>, _ key: K, read: () throws -> V?) throws -> V? {
        if case .some(let known) = memo.withLock({ $0[keyPath: table][key] }) { return known }
        let value = try read()
        memo.withLock { $0[keyPath: table][key] = .some(value) }
        return value
    }

    func visitor(shop: String, id: String) throws -> Visitor? {
        try remembered(\.visitors, Key(shop: shop, id: id)) {
            try connection.rows("SELECT \(unescaped: Self.visitorColumns) FROM visitors WHERE shop = \(shop) AND visitor_id = \(id)")
                .first.map { try Self.visitor($0, shop: shop) }
        }
    }

    func save(_ v: Visitor) throws {
        let key = Key(shop: v.shop, id: v.id)
        memo.withLock { m in
            m.visitors[key] = .some(v)
            if let index = m.unsentVisitorIndex[key] {
                m.unsentVisitors[index] = v
            } else {
                m.unsentVisitorIndex[key] = m.unsentVisitors.count
                m.unsentVisitors.append(v)
            }
        }
        connection.holdBack(self)
    }

    /// Sends the held-back visitor rows and Braze operations (`PostgresHeldBackWrites`).
    func send(on connection: PostgresBlockingConnection) throws {
        let (visitors, operations) = memo.withLock { m -> ([Visitor], [BrazeOperation]) in
            defer {
                m.unsentVisitors = []
                m.unsentVisitorIndex = [:]
                m.unsentOperations = []
            }
            return (m.unsentVisitors, m.unsentOperations)
        }
        var start = 0
        while start < visitors.count {
            let slice = visitors[start..<min(start + Self.visitorsPerStatement, visitors.count)]
            var binds = PostgresBindings(capacity: slice.count * 9)
            var values: [String] = []
            for (i, v) in slice.enumerated() {
                values.append(PostgresQuery.placeholders(row: i, columns: 9))
                binds.append(v.shop)
                binds.append(v.id)
                binds.append(v.customerId)
                binds.append(v.linkedAt)
                binds.append(v.evidence?.rawValue)
                binds.append(v.hasAliasProfile)
                binds.append(v.aliasIdentifiedAs)
                binds.append(v.firstSeen)
                binds.append(v.lastSeen)
            }
            try connection.rows(PostgresQuery(unsafeSQL: """
                INSERT INTO visitors (shop, visitor_id, customer_id, linked_at, evidence, has_alias_profile, alias_identified_as, first_seen, last_seen)
                VALUES \(values.joined(separator: ", "))
                ON CONFLICT (shop, visitor_id) DO UPDATE SET customer_id = excluded.customer_id, linked_at = excluded.linked_at,
                    evidence = excluded.evidence, has_alias_profile = excluded.has_alias_profile, alias_identified_as = excluded.alias_identified_as,
                    first_seen = excluded.first_seen, last_seen = excluded.last_seen
                """, binds: binds))
            start += slice.count
        }
        guard !operations.isEmpty else { return }
        let added = try connection.awaitAnswer { try await PostgresOutbox.enqueue(operations, on: connection.connection, logger: connection.logger) }
        // `PostgresOutbox.enqueue` notified other instances; this one's forwarder is signalled by the caller after commit.
        if added > 0 { enqueued.withLock { $0 = true } }
    }

    /// Forgets what the transaction remembered (after a redact deleted rows behind it).
    private func forgetRemembered() {
        memo.withLock { m in
            m.visitors = [:]
            m.customers = [:]
            m.uninstalled = [:]
        }
    }

    func recordLink(shop: String, visitorId: String, customerId: String, evidence: LinkEvidence, at: EpochMillis) throws {
        try connection.rows("""
            INSERT INTO visitor_links (shop, visitor_id, customer_id, evidence, linked_at) VALUES (\(shop), \(visitorId), \(customerId), \(evidence.rawValue), \(at))
            """)
    }

    func customer(shop: String, id: String) throws -> Customer? {
        try remembered(\.customers, Key(shop: shop, id: id)) {
            try connection.rows("""
                SELECT email, first_name, last_name, phone, sent_attributes FROM customers WHERE shop = \(shop) AND customer_id = \(id)
                """).first.map { row -> Customer in
                let (email, firstName, lastName, phone, sent) = try row.decode((String?, String?, String?, String?, String?).self)
                var customer = Customer(shop: shop, id: id)
                customer.email = email
                customer.firstName = firstName
                customer.lastName = lastName
                customer.phone = phone
                customer.sentAttributes = sent
                return customer
            }
        }
    }

    func save(_ c: Customer) throws {
        memo.withLock { $0.customers[Key(shop: c.shop, id: c.id)] = .some(c) }
        try connection.rows("""
            INSERT INTO customers (shop, customer_id, email, first_name, last_name, phone, sent_attributes)
            VALUES (\(c.shop), \(c.id), \(c.email), \(c.firstName), \(c.lastName), \(c.phone), \(c.sentAttributes))
            ON CONFLICT (shop, customer_id) DO UPDATE SET email = excluded.email, first_name = excluded.first_name,
                last_name = excluded.last_name, phone = excluded.phone, sent_attributes = excluded.sent_attributes
            """)
    }

    private static let cartColumns = "shop, cart_token, visitor_id, sent_signature, sent_time, checked_out, aliased_to, checkout_token"

    private static func cart(_ row: PostgresRow) throws -> CartSnapshot {
        let (shop, token, visitorId, signature, sentTime, checkedOut, aliasedTo, checkoutToken) =
            try row.decode((String, String, String?, String?, Int64?, Bool, String?, String?).self)
        var cart = CartSnapshot(shop: shop, token: token)
        cart.visitorId = visitorId
        cart.sentSignature = signature
        cart.sentTime = sentTime
        cart.checkedOut = checkedOut
        cart.aliasedTo = aliasedTo
        cart.checkoutToken = checkoutToken
        return cart
    }

    func cart(shop: String, token: String) throws -> CartSnapshot? {
        try connection.rows("SELECT \(unescaped: Self.cartColumns) FROM carts WHERE shop = \(shop) AND cart_token = \(token)").first.map(Self.cart)
    }

    func cart(shop: String, checkoutToken: String) throws -> CartSnapshot? {
        // SQLite answers with the first row it finds; the lowest token makes the choice the same on every run.
        try connection.rows("""
            SELECT \(unescaped: Self.cartColumns) FROM carts WHERE shop = \(shop) AND checkout_token = \(checkoutToken) ORDER BY cart_token LIMIT 1
            """).first.map(Self.cart)
    }

    func save(_ c: CartSnapshot) throws {
        try connection.rows("""
            INSERT INTO carts (\(unescaped: Self.cartColumns))
            VALUES (\(c.shop), \(c.token), \(c.visitorId), \(c.sentSignature), \(c.sentTime), \(c.checkedOut), \(c.aliasedTo), \(c.checkoutToken))
            ON CONFLICT (shop, cart_token) DO UPDATE SET visitor_id = excluded.visitor_id, sent_signature = excluded.sent_signature,
                sent_time = excluded.sent_time, checked_out = excluded.checked_out, aliased_to = excluded.aliased_to, checkout_token = excluded.checkout_token
            """)
    }

    func carts(shop: String, visitorId: String) throws -> [CartSnapshot] {
        try connection.rows("""
            SELECT \(unescaped: Self.cartColumns) FROM carts WHERE shop = \(shop) AND visitor_id = \(visitorId) ORDER BY sent_time DESC NULLS LAST, cart_token
            """).map(Self.cart)
    }

    func detachBehaviour(shop: String, visitorId: String) throws {
        try connection.rows("DELETE FROM product_views WHERE shop = \(shop) AND visitor_id = \(visitorId)")
        try connection.rows("UPDATE carts SET visitor_id = NULL WHERE shop = \(shop) AND visitor_id = \(visitorId)")
    }

    func swapProductView(shop: String, visitorId: String, productKey: String, time: EpochMillis) throws -> EpochMillis? {
        // One round trip: the CTE reads the row as it was before the statement, the upsert moves it only forward.
        try connection.column("""
            WITH previous AS (SELECT time FROM product_views WHERE shop = \(shop) AND visitor_id = \(visitorId) AND product_key = \(productKey)),
            swapped AS (INSERT INTO product_views (shop, visitor_id, product_key, time) VALUES (\(shop), \(visitorId), \(productKey), \(time))
                ON CONFLICT (shop, visitor_id, product_key) DO UPDATE SET time = excluded.time WHERE product_views.time < excluded.time RETURNING 1)
            SELECT time FROM previous
            """, as: Int64.self).first
    }

    func events(shop: String, visitorId: String, names: [String], since: EpochMillis, before position: Int64) throws -> [LoggedEvent] {
        try connection.rows("""
            SELECT \(unescaped: PostgresEventStore.eventColumns) FROM events
            WHERE shop = \(shop) AND visitor_id = \(visitorId) AND position < \(position) AND name = ANY(\(names)) AND time >= \(since) ORDER BY position
            """).map(PostgresEventStore.loggedEvent)
    }

    func markOnce(shop: String, key: String) throws -> Bool {
        !(try connection.rows("INSERT INTO sent_once (shop, key) VALUES (\(shop), \(key)) ON CONFLICT DO NOTHING RETURNING 1").isEmpty)
    }

    func isMarked(shop: String, key: String) throws -> Bool {
        try connection.column("SELECT EXISTS (SELECT 1 FROM sent_once WHERE shop = \(shop) AND key = \(key))", as: Bool.self).first ?? false
    }

    func resourceVersion(shop: String, kind: String, id: String) throws -> EpochMillis? {
        try connection.column("SELECT updated_at FROM shopify_resources WHERE shop = \(shop) AND kind = \(kind) AND id = \(id)", as: Int64.self).first
    }

    func resourceBody(shop: String, kind: String, id: String) throws -> String? {
        try connection.column("""
            SELECT body FROM shopify_resources WHERE shop = \(shop) AND kind = \(kind) AND id = \(id) AND NOT deleted
            """, as: String?.self).first ?? nil
    }

    func saveResource(shop: String, kind: String, id: String, updatedAt: EpochMillis, body: String?, deleted: Bool) throws {
        try connection.rows("""
            INSERT INTO shopify_resources (shop, kind, id, updated_at, body, deleted) VALUES (\(shop), \(kind), \(id), \(updatedAt), \(body), \(deleted))
            ON CONFLICT (shop, kind, id) DO UPDATE SET updated_at = excluded.updated_at, body = excluded.body, deleted = excluded.deleted
            """)
    }

    func resources(shop: String, kind: String) throws -> [(id: String, updatedAt: EpochMillis, body: String?)] {
        // COLLATE "C": SQLite orders text by bytes.
        try connection.rows("""
            SELECT id, updated_at, body FROM shopify_resources WHERE shop = \(shop) AND kind = \(kind) AND NOT deleted ORDER BY id COLLATE "C"
            """).map { row in
            let (id, updatedAt, body) = try row.decode((String, Int64, String?).self)
            return (id: id, updatedAt: updatedAt, body: body)
        }
    }

    func uninstalledAt(shop: String) throws -> EpochMillis? {
        try remembered(\.uninstalled, shop) {
            try connection.column("SELECT uninstalled_at FROM shop_state WHERE shop = \(shop)", as: Int64?.self).first ?? nil
        }
    }

    func setUninstalled(shop: String, at: EpochMillis?) throws {
        memo.withLock { $0.uninstalled[shop] = .some(at) }
        try connection.rows("""
            INSERT INTO shop_state (shop, uninstalled_at) VALUES (\(shop), \(at)) ON CONFLICT (shop) DO UPDATE SET uninstalled_at = excluded.uninstalled_at
            """)
    }

    // MARK: - Export and redaction

    /// Every visitor ever linked to a customer.
    private func customerVisitors(shop: String, customerId: String) throws -> [String] {
        try connection.column("""
            SELECT visitor_id FROM visitor_links WHERE shop = \(shop) AND customer_id = \(customerId)
            UNION SELECT visitor_id FROM visitors WHERE shop = \(shop) AND customer_id = \(customerId)
            """, as: String.self)
    }

    /// What the webhook matching needs (see `webhookMatch`).
    private struct WebhookKeys {
        var shop: String
        var before: Int64
        var customerId: String
        var orders: [String]
        var emails: [String]
        var phones: [String]
    }

    /// Webhook deliveries of a customer, as SQLite's `webhookMatch`: by its customer id wherever a topic
    /// carries it, by the ids of its orders, by its email or phone. `->>` gives numbers and strings
    /// alike as text, as SQLite's `CAST(json_extract(...) AS TEXT)` does. `j` is the payload as `jsonb`.
    private static func webhookMatch(_ k: WebhookKeys) -> PostgresQuery {
        """
        shop = \(k.shop) AND source = 'webhook' AND position < \(k.before) AND COALESCE((
            j -> 'customer' ->> 'id' = \(k.customerId)
            OR j ->> 'customer_id' = \(k.customerId)
            OR (name LIKE 'customers/%' AND j ->> 'id' = \(k.customerId))
            OR (name LIKE 'orders/%' AND j ->> 'id' = ANY(\(k.orders)))
            OR j ->> 'order_id' = ANY(\(k.orders))
            OR lower(j ->> 'email') = ANY(\(k.emails))
            OR lower(j ->> 'contact_email') = ANY(\(k.emails))
            OR lower(j -> 'customer' ->> 'email') = ANY(\(k.emails))
            OR lower(j ->> 'email_address') = ANY(\(k.emails))
            OR j ->> 'phone' = ANY(\(k.phones))
            OR j -> 'customer' ->> 'phone' = ANY(\(k.phones))
        ), false)
        """
    }

    /// Events with their payload parsed as `j` (NULL when it is not JSON).
    private static let webhookSource = "(SELECT events.*, shoptrail_jsonb(properties) AS j FROM events WHERE source = 'webhook') AS events"

    /// The orders named plus every stored order of the customer (by customer id or email), in deliveries or resources.
    private func orders(shop: String, customerId: String, emails: [String], phones: [String], named: [String], before: Int64) throws -> [String] {
        var ids = Set(named)
        var query = Self.webhookMatch(WebhookKeys(shop: shop, before: before, customerId: customerId, orders: [], emails: emails, phones: phones))
        query.sql = "SELECT j ->> 'id' FROM \(Self.webhookSource) WHERE name LIKE 'orders/%' AND " + query.sql
        ids.formUnion(try connection.column(query, as: String?.self).compactMap { $0 })
        ids.formUnion(try connection.column("""
            SELECT id FROM (SELECT id, shoptrail_jsonb(body) AS j FROM shopify_resources WHERE shop = \(shop) AND kind = 'order') AS r
            WHERE COALESCE((j -> 'customer' ->> 'id' = \(customerId) OR lower(j ->> 'email') = ANY(\(emails))
                            OR lower(j ->> 'contact_email') = ANY(\(emails))), false)
            """, as: String.self))
        return ids.sorted()
    }

    /// A row as a JSON object the way SQLite's export writes it: integers and booleans as numbers (SQLite
    /// keeps booleans as 0/1), text as strings, columns holding JSON text embedded as JSON.
    private static func json(_ row: PostgresRow, embedding: Set<String>) throws -> JSONValue {
        .object(JSONObject(try row.map { cell -> (key: String, value: JSONValue) in
            let name = cell.columnName
            guard cell.bytes != nil else { return (name, .null) }
            let value: JSONValue
            switch cell.dataType {
            case .int8, .int4, .int2: value = .number(String(try cell.decode(Int64.self)))
            case .bool: value = .number(try cell.decode(Bool.self) ? "1" : "0")
            default:
                let text = try cell.decode(String.self)
                value = embedding.contains(name) ? ((try? JSONParser.parse(Array(text.utf8))) ?? .string(text)) : .string(text)
            }
            return (name, value)
        }))
    }

    private func rows(_ query: PostgresQuery, embedding: Set<String> = []) throws -> JSONValue {
        .array(try connection.rows(query).map { try Self.json($0, embedding: embedding) })
    }

    func export(shop: String, customerId: String, emails: [String], orderIds: [String]) throws -> JSONValue {
        let visitors = try customerVisitors(shop: shop, customerId: customerId)
        let before = Int64.max
        let orders = try self.orders(shop: shop, customerId: customerId, emails: emails, phones: [], named: orderIds, before: before)
        var webhooks = Self.webhookMatch(WebhookKeys(shop: shop, before: before, customerId: customerId, orders: orders, emails: emails, phones: []))
        webhooks.sql = "SELECT position, name AS topic, event_id, received_at, properties AS payload FROM \(Self.webhookSource) WHERE "
            + webhooks.sql + " ORDER BY position"
        // Rows in SQLite's order: its rowid is insertion order; these tables' keys give the same order here.
        return .object(JSONObject([
            ("customer_id", .string(customerId)),
            ("customer", try rows("""
                SELECT shop, customer_id, email, first_name, last_name, phone, sent_attributes FROM customers WHERE shop = \(shop) AND customer_id = \(customerId)
                """)),
            ("visitors", try rows("""
                SELECT shop, visitor_id, customer_id, linked_at, evidence, has_alias_profile, alias_identified_as, first_seen, last_seen
                FROM visitors WHERE shop = \(shop) AND visitor_id = ANY(\(visitors)) ORDER BY visitor_id COLLATE "C"
                """)),
            ("links", try rows("""
                SELECT id, shop, visitor_id, customer_id, evidence, linked_at FROM visitor_links WHERE shop = \(shop) AND customer_id = \(customerId) ORDER BY id
                """)),
            ("carts", try rows("""
                SELECT \(unescaped: Self.cartColumns) FROM carts WHERE shop = \(shop) AND visitor_id = ANY(\(visitors)) ORDER BY cart_token COLLATE "C"
                """)),
            ("abandonment_timers", try rows("""
                SELECT kind, subject, state, armed_at, due_at, detail FROM abandonment_timers
                WHERE shop = \(shop) AND (customer_id = \(customerId) OR visitor_id = ANY(\(visitors))) ORDER BY kind COLLATE "C", subject COLLATE "C"
                """, embedding: ["detail"])),
            ("events", try rows("""
                SELECT position, source, event_id, name, time, \(unescaped: PostgresEventStore.contextColumn), properties FROM events
                WHERE shop = \(shop) AND visitor_id = ANY(\(visitors)) ORDER BY position
                """, embedding: ["context", "properties"])),
            ("webhook_deliveries", try rows(webhooks, embedding: ["payload"])),
            ("orders", try rows("""
                SELECT id, updated_at, body FROM shopify_resources WHERE shop = \(shop) AND kind = 'order' AND NOT deleted AND id = ANY(\(orders))
                ORDER BY id COLLATE "C"
                """, embedding: ["body"])),
        ]))
    }

    func redact(shop: String, _ r: CustomerRedaction) throws -> RedactionReport {
        var report = RedactionReport()
        let cid = r.customerId
        let visitors = try customerVisitors(shop: shop, customerId: cid)
        report.visitors = visitors
        let orders = try self.orders(shop: shop, customerId: cid, emails: r.emails, phones: r.phones, named: r.orderIds, before: r.before)
        var deliveriesQuery = Self.webhookMatch(WebhookKeys(shop: shop, before: r.before, customerId: cid, orders: orders, emails: r.emails, phones: r.phones))
        deliveriesQuery.sql = "SELECT position, properties FROM \(Self.webhookSource) WHERE " + deliveriesQuery.sql

        // Cart and checkout tokens of the customer's orders and checkouts, before those rows go: carts and
        // checkout timers are keyed by them, with no customer id of their own.
        var tokens = Set<String>()
        func collectTokens(_ text: String?) {
            guard let text, let object = (try? JSONParser.parse(Array(text.utf8)))?.objectValue else { return }
            for key in ["cart_token", "checkout_token", "token"] {
                if let token = object[key]?.stringValue, !token.isEmpty { tokens.insert(token); tokens.insert(String(token.split(separator: "?").first ?? "")) }
            }
        }
        var positions: [Int64] = []
        for row in try connection.rows(deliveriesQuery) {
            let (position, properties) = try row.decode((Int64, String).self)
            positions.append(position)
            collectTokens(properties)
        }
        func resourceMatch() -> PostgresQuery {
            """
            shop = \(shop) AND ((kind IN ('customer', 'email_consent', 'sms_consent') AND id = \(cid)) OR (kind IN ('order', 'parked_refunds') AND id = ANY(\(orders))))
            """
        }
        var bodies = resourceMatch()
        bodies.sql = "SELECT body FROM shopify_resources WHERE " + bodies.sql
        for body in try connection.column(bodies, as: String?.self) { collectTokens(body) }
        tokens.remove("")

        report.webhookDeliveries = try connection.rows("DELETE FROM events WHERE position = ANY(\(positions)) RETURNING 1").count
        var deleteResources = resourceMatch()
        deleteResources.sql = "DELETE FROM shopify_resources WHERE " + deleteResources.sql + " RETURNING 1"
        report.resources = try connection.rows(deleteResources).count

        // Storefront and pixel events: every event of the customer's visitors (held or processed, before or
        // after the redact), and any other event that carries the email or phone. ILIKE: SQLite's LIKE
        // ignores ASCII case. Contexts shared by the deleted events go with them.
        for visitor in visitors {
            report.events += try PostgresEventStore.deleteEvents(connection, where: "shop = \(shop) AND visitor_id = \(visitor)")
        }
        for needle in r.emails + r.phones.filter({ $0.count >= 7 }) {
            let pattern = "%" + Self.likeEscaped(needle) + "%"
            report.events += try PostgresEventStore.deleteEvents(connection, where: """
                shop = \(shop) AND source <> 'webhook' AND position < \(r.before) AND (properties ILIKE \(pattern) OR context ILIKE \(pattern)
                OR context_id IN (SELECT id FROM event_contexts WHERE shop = \(shop) AND text ILIKE \(pattern)))
                """)
        }

        let tokenList = tokens.sorted()
        report.carts = try connection.rows("""
            DELETE FROM carts WHERE shop = \(shop) AND (visitor_id = ANY(\(visitors)) OR cart_token = ANY(\(tokenList)) OR checkout_token = ANY(\(tokenList)))
            RETURNING 1
            """).count
        report.timers = try connection.rows("""
            DELETE FROM abandonment_timers WHERE shop = \(shop) AND (customer_id = \(cid) OR visitor_id = ANY(\(visitors)) OR subject = ANY(\(tokenList)))
            RETURNING 1
            """).count
        // The customer-id alias mark keeps a digest of the external id, which may be derived from the email.
        try connection.rows("DELETE FROM sent_once WHERE shop = \(shop) AND starts_with(key, \("customer_alias:\(cid):"))")
        try connection.rows("DELETE FROM visitors WHERE shop = \(shop) AND visitor_id = ANY(\(visitors))")
        try connection.rows("DELETE FROM product_views WHERE shop = \(shop) AND visitor_id = ANY(\(visitors))")
        report.links = try connection.rows("""
            DELETE FROM visitor_links WHERE shop = \(shop) AND (customer_id = \(cid) OR visitor_id = ANY(\(visitors))) RETURNING 1
            """).count
        report.customers = try connection.rows("DELETE FROM customers WHERE shop = \(shop) AND customer_id = \(cid) RETURNING 1").count
        try connection.rows("DELETE FROM abandonment_cooldowns WHERE shop = \(shop) AND target = \("c:" + cid)")

        // Braze operations not sent yet (and dead letters) for the customer: keyed by it, or naming one of its
        // external ids, visitor aliases, its email or phone. Catalog operations carry no user; earlier deletions
        // stay (they only name the user to delete).
        var needles = (r.externalIds + visitors).map { JSONValue.string($0).serialized }
        needles += r.emails + r.phones.filter { $0.count >= 7 }
        for table in ["outbox", "outbox_dead"] {
            let deleted = try connection.rows("""
                DELETE FROM \(unescaped: table) WHERE shop = \(shop) AND kind NOT IN ('delete', 'catalog_create', 'catalog_upsert', 'catalog_delete')
                AND (user_key = \("c:" + cid) OR EXISTS (SELECT 1 FROM unnest(\(needles)::text[]) AS n WHERE strpos(lower(payload), lower(n)) > 0))
                RETURNING 1
                """).count
            if table == "outbox" { report.outbox = deleted } else { report.deadLetters = deleted }
        }

        // What a backfill fetched and has not enqueued yet (GraphQL ids).
        let gid = "gid://shopify/Customer/" + cid
        report.backfillRows = try connection.rows("""
            DELETE FROM backfill_staging WHERE shop = \(shop) AND ((kind = 'customer' AND id = \(gid))
            OR (kind = 'order' AND id IN (SELECT 'gid://shopify/Order/' || o FROM unnest(\(orders)::text[]) AS o))
            OR COALESCE(shoptrail_jsonb(body) -> 'customer' ->> 'id' = \(gid), false)
            OR EXISTS (SELECT 1 FROM unnest(\(r.emails + r.phones.filter { $0.count >= 7 })::text[]) AS n WHERE strpos(lower(body), lower(n)) > 0))
            RETURNING 1
            """).count
        forgetRemembered()
        return report
    }

    private static func likeEscaped(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(of: "_", with: "\\_")
    }

    func scrubDelivery(shop: String, position: Int64, properties: String) throws {
        try connection.rows("""
            UPDATE events SET properties = \(properties), context = NULL WHERE shop = \(shop) AND position = \(position) AND source = 'webhook'
            """)
    }

    func redactShop(_ shop: String) throws {
        for table in ["events", "event_contexts", "visitors", "visitor_links", "customers", "carts", "product_views", "security_counts", "sent_once",
                      "shopify_resources", "outbox", "outbox_dead", "abandonment_timers", "abandonment_cooldowns", "abandonment_counts"] {
            try connection.rows("DELETE FROM \(unescaped: table) WHERE shop = \(shop)")
        }
        forgetRemembered()
    }

    func audit(shop: String, action: String, detail: String, at: EpochMillis) throws {
        try connection.rows("INSERT INTO audit_log (shop, action, detail, at) VALUES (\(shop), \(action), \(detail), \(at))")
    }

    var timers: any AbandonmentTimerStore { PostgresAbandonmentTimers(connection: connection) }

    func firstUnprocessedTime() throws -> EpochMillis? {
        // Each shop has its own cursor here (one instance processes a shop); the first unhandled event by position.
        try connection.column("""
            SELECT LEAST(time, received_at) FROM events
            WHERE position > COALESCE((SELECT p.position FROM processor_position p WHERE p.shop = events.shop AND p.name = \(PostgresProcessorLog.positionName)), 0)
            ORDER BY position LIMIT 1
            """, as: Int64.self).first
    }

    func enqueue(_ operations: [BrazeOperation]) throws {
        guard !operations.isEmpty else { return }
        memo.withLock { $0.unsentOperations += operations }
        connection.holdBack(self)
    }

    func securityEvent(shop: String, kind: String, detail: String, at: EpochMillis) throws {
        // Counted per shop, kind, reason and UTC day, not stored one row each (issue 14).
        try connection.rows("""
            INSERT INTO security_counts (shop, kind, detail, day, count, first_at, last_at) VALUES (\(shop), \(kind), \(detail), \(at / 86_400_000), 1, \(at), \(at))
            ON CONFLICT (shop, kind, detail, day) DO UPDATE SET count = security_counts.count + 1, last_at = excluded.last_at
            """)
    }
}

extension PostgresDatabase: StateTransactions {
    public func write<T: Sendable>(_ body: @escaping @Sendable (any ProcessorState) throws -> T) async throws -> T {
        let (result, enqueued) = try await blockingTransaction { connection -> (T, Bool) in
            let state = PostgresProcessorState(connection)
            let result = try body(state)
            return (result, state.didEnqueue)
        }
        if enqueued { outboxFilled.signal() }
        return result
    }

    public func read<T: Sendable>(_ body: @escaping @Sendable (any ProcessorState) throws -> T) async throws -> T {
        try await blockingTransaction { connection in
            // One snapshot for the whole body; a write fails ("cannot execute … in a read-only transaction").
            try connection.rows("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            return try body(PostgresProcessorState(connection))
        }
    }
}

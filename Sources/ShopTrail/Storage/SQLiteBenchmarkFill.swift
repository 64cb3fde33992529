import Foundation
import GRDB

/// Fills a store with synthetic traffic for `shoptrail bench-console`: events, visitors linked to
/// customers, webhooks naming them, delivery records and dead letters, written in bulk (large
/// transactions, prepared statements) so a million events take seconds, not the ingest path's hours.
public enum SQLiteBenchmarkFill {
    /// What was written, and ids the benchmark looks up.
    public struct Filled: Sendable {
        public var events: Int
        public var aCustomer: String
        public var aVisitor: String
        public var anEmail: String

        public init(events: Int, aCustomer: String, aVisitor: String, anEmail: String) {
            self.events = events
            self.aCustomer = aCustomer
            self.aVisitor = aVisitor
            self.anEmail = anEmail
        }
    }

    public static func fill(_ database: SQLiteDatabase, shop: String, events: Int, eventsPerVisitor: Int = 20, now: EpochMillis) throws -> Filled {
        let visitors = max(1, events / eventsPerVisitor)
        let names = ["page_viewed", "product_viewed", "collection_viewed", "cart_viewed", "search_submitted", "product_added_to_cart"]
        let pageTypes = ["index", "product", "collection", "cart", "search"]
        let chunk = 50_000
        var written = 0
        var position: Int64 = 0
        while written < events {
            let count = min(chunk, events - written)
            try database.writes.backgroundNow { db in
                let insert = try db.makeStatement(sql: """
                    INSERT INTO events (shop, source, event_id, name, visitor_id, session_id, client_time, time, received_at, context, properties)
                    VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, ?)
                    """)
                for i in written..<(written + count) {
                    let visitor = "v_bench_\(i % visitors)"
                    let time = now - EpochMillis(events - i) * 50
                    if i % 100 == 99 {
                        // A webhook naming one of the customers, one in a hundred events.
                        let customer = (i / 100) % max(1, visitors / 5)
                        try insert.execute(arguments: [shop, "webhook", "orders/create:\(i)", "orders/create", nil, nil, time, time, nil,
                                                       #"{"id":\#(i),"customer":{"id":\#(customer + 1000)},"total_price":"10.00"}"#])
                    } else {
                        try insert.execute(arguments: [shop, "storefront", "e\(i)", names[i % names.count], visitor, "s\(i / 10)", time, time,
                                                       #"{"page":{"type":"\#(pageTypes[(i / names.count) % pageTypes.count])"},"tracker":"0.1.0"}"#,
                                                       #"{"url":"https://\#(shop)/products/p\#(i % 500)","title":"Product \#(i % 500)"}"#])
                    }
                }
                position = db.lastInsertedRowID
            }
            written += count
        }
        try database.writes.backgroundNow { db in
            let visitor = try db.makeStatement(sql: """
                INSERT OR REPLACE INTO visitors (shop, visitor_id, customer_id, linked_at, evidence, first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?)
                """)
            let link = try db.makeStatement(sql: "INSERT INTO visitor_links (shop, visitor_id, customer_id, evidence, linked_at) VALUES (?, ?, ?, ?, ?)")
            let customer = try db.makeStatement(sql: "INSERT OR REPLACE INTO customers (shop, customer_id, email, first_name) VALUES (?, ?, ?, ?)")
            for v in 0..<visitors {
                // One visitor in five belongs to a customer, two visitors per customer.
                let owner: String? = v % 5 < 2 ? String(v / 5 + 1000) : nil
                try visitor.execute(arguments: [shop, "v_bench_\(v)", owner, owner == nil ? nil : now, owner == nil ? nil : "login", now - 86_400_000, now])
                if let owner {
                    try link.execute(arguments: [shop, "v_bench_\(v)", owner, "login", now])
                    if v % 5 == 0 { try customer.execute(arguments: [shop, owner, "bench\(owner)@example.com", "Bench"]) }
                }
            }
            let record = try db.makeStatement(sql: """
                INSERT INTO delivery_log (shop, op_id, user_key, kind, endpoint, request, status, outcome, response, attempts, at)
                VALUES (?, ?, ?, 'event', 'POST /users/track', ?, 201, 'delivered', '{"message":"success"}', 1, ?)
                """)
            for i in 0..<min(events, Int(DeliveryLogRetention().maxRows)) {
                try record.execute(arguments: [shop, "storefront:e\(i):name", "v:v_bench_\(i % visitors)", #"{"name":"x"}"#, now - EpochMillis(i)])
            }
            let dead = try db.makeStatement(sql: """
                INSERT OR IGNORE INTO outbox_dead (op_id, shop, user_key, kind, payload, created_at, attempts, reason, died_at)
                VALUES (?, ?, ?, 'event', '{"name":"x"}', ?, 1, '400: bench', ?)
                """)
            for i in 0..<1_000 { try dead.execute(arguments: ["dead\(i)", shop, "v:v_bench_\(i)", now, now - EpochMillis(i)]) }
            try SQLiteProcessorLog.setPosition(db, position)
        }
        return Filled(events: events, aCustomer: "1000", aVisitor: "v_bench_0", anEmail: "bench1000@example.com")
    }
}

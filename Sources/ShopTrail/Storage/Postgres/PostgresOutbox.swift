import Foundation
import PostgresNIO

/// The outbox on PostgreSQL, shared by several instances.
///
/// Per-user order across instances needs every claimer to see each user's earliest waiting
/// operation, even one another instance is claiming right now; `FOR UPDATE SKIP LOCKED` would hide
/// exactly that row and let a second instance take the user's next operation first. So the claims
/// of one shop are serialised by a transaction-scoped advisory try-lock (an instance that finds the
/// shop being claimed skips it, the SKIP LOCKED of shop granularity), the walk is the one every
/// engine uses (`OutboxClaimWalk`), and the claimed rows carry a lease with this instance's name.
/// A claim outlives a crash only until its lease ends; then another instance takes it (at least once).
public final class PostgresOutbox: Outbox {
    /// First key of the per-shop claim lock ("ShopTrail outbox"); the second is the shop's hash.
    static let claimLockKey: Int32 = 0x4F55_5442
    let database: PostgresDatabase
    /// This process's name on its leases.
    public let instance: String
    private let retention: DeliveryLogRetention
    private var logger: Logger { database.logger }

    public init(database: PostgresDatabase, instance: String = UUID().uuidString, deliveryLog retention: DeliveryLogRetention = .init()) {
        self.database = database
        self.instance = instance
        self.retention = retention
    }

    /// A shop filter as an array (empty: every shop): a NULL parameter would have no type to infer.
    static func shops(_ shop: String?) -> [String] { shop.map { [$0] } ?? [] }

    public func waitForWork(timeout: Duration) async {
        await database.outboxFilled.wait(timeout: timeout)
    }

    @discardableResult
    public func enqueue(_ operations: [BrazeOperation]) async throws -> Int {
        guard !operations.isEmpty else { return 0 }
        let added = try await database.transaction { try await Self.enqueue(operations, on: $0, logger: self.logger) }
        database.outboxFilled.signal()
        return added
    }

    /// Enqueues inside the caller's transaction, in one statement (ids in the order given: `seq` is each user's order).
    static func enqueue(_ operations: [BrazeOperation], on connection: PostgresConnection, logger: Logger) async throws -> Int {
        guard !operations.isEmpty else { return 0 }
        let rows = try await connection.query("""
            INSERT INTO outbox (op_id, shop, user_key, kind, payload, created_at)
            SELECT o.op_id, o.shop, o.user_key, o.kind, o.payload, o.created_at
            FROM unnest(\(operations.map(\.id))::text[], \(operations.map(\.shop))::text[], \(operations.map(\.userKey))::text[],
                        \(operations.map(\.kind.rawValue))::text[], \(operations.map(\.payload))::text[], \(operations.map(\.createdAt))::int8[])
                 WITH ORDINALITY AS o(op_id, shop, user_key, kind, payload, created_at, n)
            WHERE NOT EXISTS (SELECT 1 FROM outbox_dead d WHERE d.shop = o.shop AND d.op_id = o.op_id)
            ORDER BY o.n
            ON CONFLICT (shop, op_id) DO NOTHING RETURNING seq
            """, logger: logger).collect()
        let added = rows.count
        // Other instances' forwarders hear of it once this commits (this one's is signalled by the caller).
        if added > 0 { try await connection.query("SELECT pg_notify(\(PostgresDatabase.outboxChannel), '')", logger: logger) }
        return added
    }

    public func claim(shop: String, now: EpochMillis, limit: Int, leaseMillis: EpochMillis) async throws -> [OutboxEntry] {
        try await database.transaction { connection in
            let locked = try await connection.query(
                "SELECT pg_try_advisory_xact_lock(\(Self.claimLockKey), hashtext(\(shop)))", logger: self.logger).collect()
            guard try locked.first?.decode(Bool.self) == true else { return [] }
            var walk = OutboxClaimWalk(now: now, limit: limit)
            var after: Int64 = 0
            // Paged, not one open cursor: the lease update below runs on the same connection.
            while !walk.isFull {
                let page = try await connection.query("""
                    SELECT seq, op_id, shop, user_key, kind, payload, created_at, attempts, last_error, next_attempt_at, lease_until
                    FROM outbox WHERE shop = \(shop) AND seq > \(after) ORDER BY seq LIMIT 500
                    """, logger: self.logger).collect()
                for row in page {
                    let (seq, opId, rowShop, userKey, kind, payload, createdAt, attempts, lastError, nextAttemptAt, leaseUntil) =
                        try row.decode((Int64, String, String, String, String, String, Int64, Int32, String?, Int64, Int64).self)
                    after = seq
                    walk.consider(OutboxClaimWalk.Row(
                        seq: seq, opId: opId, shop: rowShop, userKey: userKey, kind: kind, payload: payload, createdAt: createdAt,
                        attempts: Int(attempts), lastError: lastError, nextAttemptAt: nextAttemptAt, leaseUntil: leaseUntil))
                    if walk.isFull { break }
                }
                if page.count < 500 { break }
            }
            let seqs = walk.claimed.map(\.seq)
            if !seqs.isEmpty {
                try await connection.query(
                    "UPDATE outbox SET lease_until = \(now + leaseMillis), lease_owner = \(self.instance) WHERE seq = ANY(\(seqs))", logger: self.logger)
            }
            return walk.claimed
        }
    }

    public func release(_ seqs: [Int64]) async throws {
        guard !seqs.isEmpty else { return }
        _ = try await database.rows("UPDATE outbox SET lease_until = 0, lease_owner = NULL WHERE seq = ANY(\(seqs)) AND lease_owner = \(instance)")
    }

    /// Braze's answer goes into the delivery log in the transaction that removes the rows, so the
    /// console never shows an operation as neither waiting nor answered.
    public func complete(_ seqs: [Int64], receipt: DeliveryReceipt?) async throws {
        guard !seqs.isEmpty else { return }
        let retention = retention
        try await database.transaction { connection in
            if let receipt {
                try await PostgresOperatorViews.record(on: connection, seqs: seqs, receipt: receipt, retention: retention, logger: self.logger)
            }
            try await connection.query("DELETE FROM outbox WHERE seq = ANY(\(seqs))", logger: self.logger)
        }
    }

    public func retry(_ seqs: [Int64], at: EpochMillis, error: String) async throws {
        guard !seqs.isEmpty else { return }
        _ = try await database.rows("""
            UPDATE outbox SET attempts = attempts + 1, next_attempt_at = \(at), lease_until = 0, lease_owner = NULL,
            last_error = \(String(error.prefix(500))) WHERE seq = ANY(\(seqs))
            """)
    }

    public func deadLetter(_ seqs: [Int64], reason: String, now: EpochMillis, receipt: DeliveryReceipt?) async throws {
        guard !seqs.isEmpty else { return }
        let retention = retention
        try await database.transaction { connection in
            if let receipt {
                try await PostgresOperatorViews.record(on: connection, seqs: seqs, receipt: receipt, retention: retention, logger: self.logger)
            }
            try await connection.query("""
                INSERT INTO outbox_dead (op_id, shop, user_key, kind, payload, created_at, attempts, reason, died_at)
                SELECT op_id, shop, user_key, kind, payload, created_at, attempts + 1, \(String(reason.prefix(1000))), \(now)
                FROM outbox WHERE seq = ANY(\(seqs)) ORDER BY seq
                ON CONFLICT (shop, op_id) DO UPDATE SET attempts = excluded.attempts, reason = excluded.reason, died_at = excluded.died_at
                """, logger: self.logger)
            try await connection.query("DELETE FROM outbox WHERE seq = ANY(\(seqs))", logger: self.logger)
        }
    }

    /// Releases this instance's claims only: with several instances, another one's claims are live.
    /// Claims of a process that died expire with their lease.
    public func releaseClaims() async throws {
        _ = try await database.rows("UPDATE outbox SET lease_until = 0, lease_owner = NULL WHERE lease_owner = \(instance)")
    }

    public func status(shop: String?, now: EpochMillis) async throws -> OutboxStatus {
        let row = try await database.rows("""
            SELECT COUNT(*), COUNT(*) FILTER (WHERE lease_until > \(now)), MIN(created_at),
                   (SELECT COUNT(*) FROM outbox_dead WHERE cardinality(\(Self.shops(shop))::text[]) = 0 OR shop = ANY(\(Self.shops(shop))))
            FROM outbox WHERE cardinality(\(Self.shops(shop))::text[]) = 0 OR shop = ANY(\(Self.shops(shop)))
            """).first
        guard let row else { return OutboxStatus(pending: 0, inFlight: 0, dead: 0, oldestPendingAgeMillis: nil) }
        let (pending, inFlight, oldest, dead) = try row.decode((Int64, Int64, Int64?, Int64).self)
        return OutboxStatus(pending: Int(pending), inFlight: Int(inFlight), dead: Int(dead), oldestPendingAgeMillis: oldest.map { max(0, now - $0) })
    }

    public func retryDead(shop: String?) async throws -> Int {
        try await database.transaction { connection in
            // Dead operations go to the back of the queue, keeping their ids.
            let moved = try await connection.query("""
                INSERT INTO outbox (op_id, shop, user_key, kind, payload, created_at)
                SELECT op_id, shop, user_key, kind, payload, created_at FROM outbox_dead WHERE cardinality(\(Self.shops(shop))::text[]) = 0 OR shop = ANY(\(Self.shops(shop))) ORDER BY seq
                ON CONFLICT (shop, op_id) DO NOTHING RETURNING seq
                """, logger: self.logger).collect()
            if !moved.isEmpty { try await connection.query("SELECT pg_notify(\(PostgresDatabase.outboxChannel), '')", logger: self.logger) }
            try await connection.query("DELETE FROM outbox_dead WHERE cardinality(\(Self.shops(shop))::text[]) = 0 OR shop = ANY(\(Self.shops(shop)))", logger: self.logger)
            return moved.count
        }
    }

    public func deadLetters(shop: String?, limit: Int) async throws -> [DeadLetter] {
        let rows = try await database.rows("""
            SELECT op_id, shop, user_key, kind, payload, created_at, attempts, reason, died_at
            FROM outbox_dead WHERE cardinality(\(Self.shops(shop))::text[]) = 0 OR shop = ANY(\(Self.shops(shop))) ORDER BY died_at DESC, seq DESC LIMIT \(Int64(limit))
            """)
        return try rows.compactMap { row in
            let (opId, rowShop, userKey, kind, payload, createdAt, attempts, reason, diedAt) =
                try row.decode((String, String, String, String, String, Int64, Int32, String, Int64).self)
            guard let kind = BrazeOperation.Kind(rawValue: kind) else { return nil }
            return DeadLetter(operation: BrazeOperation(id: opId, shop: rowShop, userKey: userKey, kind: kind, payload: payload, createdAt: createdAt),
                              attempts: Int(attempts), reason: reason, diedAt: diedAt)
        }
    }

    public func count(shop: String, opIdPrefix prefix: String) async throws -> (pending: Int, dead: Int) {
        let row = try await database.rows("""
            SELECT (SELECT COUNT(*) FROM outbox WHERE shop = \(shop) AND starts_with(op_id, \(prefix))),
                   (SELECT COUNT(*) FROM outbox_dead WHERE shop = \(shop) AND starts_with(op_id, \(prefix)))
            """).first
        guard let row else { return (0, 0) }
        let (pending, dead) = try row.decode((Int64, Int64).self)
        return (Int(pending), Int(dead))
    }
}

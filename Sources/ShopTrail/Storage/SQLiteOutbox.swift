import GRDB

/// The outbox in the embedded SQLite database.
public final class SQLiteOutbox: Outbox {
    private let database: SQLiteDatabase
    private var pool: DatabasePool { database.pool }
    private let filled: StageWakeup

    private let retention: DeliveryLogRetention

    public init(database: SQLiteDatabase, deliveryLog retention: DeliveryLogRetention = .init()) {
        self.database = database
        self.filled = database.outboxFilled
        self.retention = retention
    }

    public func waitForWork(timeout: Duration) async {
        await filled.wait(timeout: timeout)
    }

    @discardableResult
    public func enqueue(_ operations: [BrazeOperation]) async throws -> Int {
        guard !operations.isEmpty else { return 0 }
        return try await database.backgroundWrite { db in try Self.enqueue(operations, in: db, wake: self.filled) }
    }

    /// Enqueues inside the caller's transaction (the processor commits operations with its log position);
    /// when it added any, `wake` (the forwarder's) is signalled once that transaction commits.
    @discardableResult
    static func enqueue(_ operations: [BrazeOperation], in db: Database, wake: StageWakeup) throws -> Int {
        var added = 0
        let insert = try db.cachedStatement(sql: """
            INSERT INTO outbox (op_id, shop, user_key, kind, payload, created_at)
            SELECT ?, ?, ?, ?, ?, ?
            WHERE NOT EXISTS (SELECT 1 FROM outbox_dead WHERE shop = ? AND op_id = ?)
            ON CONFLICT (shop, op_id) DO NOTHING
            """)
        for op in operations {
            try insert.execute(arguments: [op.id, op.shop, op.userKey, op.kind.rawValue, op.payload, op.createdAt, op.shop, op.id])
            added += db.changesCount
        }
        if added > 0 { db.afterNextTransaction(onCommit: { _ in wake.signal() }) }
        return added
    }

    public func claim(shop: String, now: EpochMillis, limit: Int, leaseMillis: EpochMillis) async throws -> [OutboxEntry] {
        try await database.backgroundWrite { db in
            let rows = try Row.fetchCursor(db.cachedStatement(sql: """
                SELECT seq, op_id, shop, user_key, kind, payload, created_at, attempts, last_error, next_attempt_at, lease_until
                FROM outbox WHERE shop = ? ORDER BY seq
                """), arguments: [shop])
            var walk = OutboxClaimWalk(now: now, limit: limit)
            while !walk.isFull, let row = try rows.next() {
                walk.consider(OutboxClaimWalk.Row(
                    seq: row["seq"], opId: row["op_id"], shop: row["shop"], userKey: row["user_key"], kind: row["kind"], payload: row["payload"],
                    createdAt: row["created_at"], attempts: row["attempts"], lastError: row["last_error"],
                    nextAttemptAt: row["next_attempt_at"], leaseUntil: row["lease_until"]))
            }
            let claimed = walk.claimed
            let lease = try db.cachedStatement(sql: "UPDATE outbox SET lease_until = ? WHERE seq = ?")
            for entry in claimed { try lease.execute(arguments: [now + leaseMillis, entry.seq]) }
            return claimed
        }
    }

    public func release(_ seqs: [Int64]) async throws {
        guard !seqs.isEmpty else { return }
        try await database.backgroundWrite { db in
            let update = try db.cachedStatement(sql: "UPDATE outbox SET lease_until = 0 WHERE seq = ?")
            for seq in seqs { try update.execute(arguments: [seq]) }
        }
    }

    public func complete(_ seqs: [Int64], receipt: DeliveryReceipt?) async throws {
        guard !seqs.isEmpty else { return }
        let retention = retention
        try await database.backgroundWrite { db in
            if let receipt { try SQLiteOperatorViews.record(db, seqs: seqs, receipt: receipt, retention: retention) }
            let delete = try db.cachedStatement(sql: "DELETE FROM outbox WHERE seq = ?")
            for seq in seqs { try delete.execute(arguments: [seq]) }
        }
    }

    public func retry(_ seqs: [Int64], at: EpochMillis, error: String) async throws {
        guard !seqs.isEmpty else { return }
        try await database.backgroundWrite { db in
            let update = try db.cachedStatement(sql: """
                UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, lease_until = 0, last_error = ? WHERE seq = ?
                """)
            for seq in seqs { try update.execute(arguments: [at, String(error.prefix(500)), seq]) }
        }
    }

    public func deadLetter(_ seqs: [Int64], reason: String, now: EpochMillis, receipt: DeliveryReceipt?) async throws {
        guard !seqs.isEmpty else { return }
        let retention = retention
        try await database.backgroundWrite { db in
            if let receipt { try SQLiteOperatorViews.record(db, seqs: seqs, receipt: receipt, retention: retention) }
            let move = try db.cachedStatement(sql: """
                INSERT OR REPLACE INTO outbox_dead (op_id, shop, user_key, kind, payload, created_at, attempts, reason, died_at)
                SELECT op_id, shop, user_key, kind, payload, created_at, attempts + 1, ?, ? FROM outbox WHERE seq = ?
                """)
            let delete = try db.cachedStatement(sql: "DELETE FROM outbox WHERE seq = ?")
            for seq in seqs {
                try move.execute(arguments: [String(reason.prefix(1000)), now, seq])
                try delete.execute(arguments: [seq])
            }
        }
    }

    public func releaseClaims() async throws {
        try await database.backgroundWrite { db in try db.cachedStatement(sql: "UPDATE outbox SET lease_until = 0 WHERE lease_until > 0").execute() }
    }

    public func status(shop: String?, now: EpochMillis) async throws -> OutboxStatus {
        try await pool.read { db in
            let filter = shop == nil ? "" : "WHERE shop = ?"
            let args: StatementArguments = shop.map { [$0] } ?? []
            let row = try Row.fetchOne(db, sql: """
                SELECT COUNT(*) AS pending, COALESCE(SUM(lease_until > \(now)), 0) AS in_flight, MIN(created_at) AS oldest
                FROM outbox \(filter)
                """, arguments: args)
            let dead = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM outbox_dead \(filter)", arguments: args) ?? 0
            let oldest: EpochMillis? = row?["oldest"]
            return OutboxStatus(pending: row?["pending"] ?? 0, inFlight: row?["in_flight"] ?? 0, dead: dead,
                                oldestPendingAgeMillis: oldest.map { max(0, now - $0) })
        }
    }

    public func retryDead(shop: String?) async throws -> Int {
        try await database.backgroundWrite { db in
            let filter = shop == nil ? "" : "WHERE shop = ?"
            let args: StatementArguments = shop.map { [$0] } ?? []
            // Dead operations go to the back of the queue, keeping their ids.
            try db.execute(sql: """
                INSERT INTO outbox (op_id, shop, user_key, kind, payload, created_at)
                SELECT op_id, shop, user_key, kind, payload, created_at FROM outbox_dead \(filter) ORDER BY seq
                ON CONFLICT (shop, op_id) DO NOTHING
                """, arguments: args)
            let moved = db.changesCount
            try db.execute(sql: "DELETE FROM outbox_dead \(filter)", arguments: args)
            return moved
        }
    }

    public func deadLetters(shop: String?, limit: Int) async throws -> [DeadLetter] {
        try await pool.read { db in
            let filter = shop == nil ? "" : "WHERE shop = ?"
            var args: StatementArguments = shop.map { [$0] } ?? []
            args += [limit]
            return try Row.fetchAll(db, sql: """
                SELECT op_id, shop, user_key, kind, payload, created_at, attempts, reason, died_at
                FROM outbox_dead \(filter) ORDER BY died_at DESC, seq DESC LIMIT ?
                """, arguments: args).compactMap { row in
                guard let kind = BrazeOperation.Kind(rawValue: row["kind"]) else { return nil }
                return DeadLetter(
                    operation: BrazeOperation(id: row["op_id"], shop: row["shop"], userKey: row["user_key"], kind: kind, payload: row["payload"], createdAt: row["created_at"]),
                    attempts: row["attempts"], reason: row["reason"], diedAt: row["died_at"])
            }
        }
    }

    public func count(shop: String, opIdPrefix prefix: String) async throws -> (pending: Int, dead: Int) {
        try await pool.read { db in
            let pending = try Int.fetchOne(db.cachedStatement(sql: "SELECT COUNT(*) FROM outbox WHERE shop = ? AND substr(op_id, 1, ?) = ?"),
                                           arguments: [shop, prefix.count, prefix]) ?? 0
            let dead = try Int.fetchOne(db.cachedStatement(sql: "SELECT COUNT(*) FROM outbox_dead WHERE shop = ? AND substr(op_id, 1, ?) = ?"),
                                        arguments: [shop, prefix.count, prefix]) ?? 0
            return (pending, dead)
        }
    }
}

import GRDB

/// A staged Shopify node (`kind` customer or order) of a backfill, in fetch order.
public struct BackfillStagedNode: Sendable {
    public var seq: Int64
    public var id: String
    public var body: JSONObject
}

/// Each shop's backfill job and its staging (what was fetched from Shopify, not yet enqueued)
/// (repository: one implementation per storage engine).
public protocol BackfillJobStore: Sendable {
    /// The shop's job as stored; a job in state `notStarted` when there is none.
    func job(shop: String) async throws -> BackfillJob
    func save(_ job: BackfillJob) async throws
    /// Stages fetched nodes (a node staged before is kept: a refetch after an interruption adds nothing), counts what is
    /// staged into the job and saves it (cursor, counts) in the same transaction; `persist` false (dry run) saves no job.
    func stage(kind: String, _ nodes: [(id: String, body: JSONValue)], job: BackfillJob, persist: Bool) async throws -> BackfillJob
    func stagedCount(shop: String, kind: String) async throws -> Int
    /// Up to `limit` staged nodes after `seq`, in fetch order.
    func staged(shop: String, kind: String, after seq: Int64, limit: Int) async throws -> [BackfillStagedNode]
    func clearStaging(shop: String) async throws
    /// One chunk of the enqueue phase: `body` builds the chunk's operations and the job's next state on the processor's
    /// state; the operations, what `body` saved and the job (counting the operations added) commit together.
    func commitChunk(_ body: @escaping @Sendable (any ProcessorState) throws -> (job: BackfillJob, operations: [BrazeOperation])) async throws -> BackfillJob
}

extension BackfillJob {
    /// The stored checkpoint and counts (JSON text) back as values; a column that does not parse reads as empty.
    static func object(_ text: String?) -> JSONObject? {
        text.flatMap { try? JSONParser.parse(Array($0.utf8)) }?.objectValue
    }

    /// A staged node's body (JSON text) as an object; nil when it does not parse.
    static func stagedBody(_ text: String) -> JSONObject? {
        (try? JSONParser.parse(Array(text.utf8), maxDepth: 64))?.objectValue
    }
}

/// `BackfillJobStore` on the SQLite file: the `backfill_jobs` row of each shop and the `backfill_staging` rows.
public struct SQLiteBackfillJobs: BackfillJobStore {
    let database: SQLiteDatabase
    var pool: DatabasePool { database.pool }

    public init(database: SQLiteDatabase) {
        self.database = database
    }

    public func job(shop: String) async throws -> BackfillJob {
        try await pool.read { db in try Self.job(shop: shop, db: db) }
    }

    static func job(shop: String, db: Database) throws -> BackfillJob {
        var job = BackfillJob(shop: shop)
        guard let row = try Row.fetchOne(db, sql: "SELECT * FROM backfill_jobs WHERE shop = ?", arguments: [shop]) else { return job }
        job.state = (row["state"] as String?).flatMap(BackfillJob.State.init(rawValue:)) ?? .notStarted
        job.reason = row["reason"]
        job.phase = (row["phase"] as String?).flatMap(BackfillJob.Phase.init(rawValue:))
        job.windowStart = row["window_start"]
        job.requestedDays = row["requested_days"]
        job.days = row["days"]
        job.warning = row["warning"]
        job.checkpoint = BackfillCheckpoint(json: BackfillJob.object(row["checkpoint"]))
        job.counts = BackfillCounts(json: BackfillJob.object(row["counts"]))
        job.startedAt = row["started_at"]
        job.finishedAt = row["finished_at"]
        job.runs = row["runs"]
        return job
    }

    static func save(_ job: BackfillJob, db: Database) throws {
        try db.execute(sql: """
            INSERT OR REPLACE INTO backfill_jobs (shop, state, reason, phase, window_start, requested_days, days, warning, checkpoint, counts,
                started_at, finished_at, runs)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [job.shop, job.state.rawValue, job.reason, job.phase?.rawValue, job.windowStart, job.requestedDays, job.days, job.warning,
                             job.checkpoint.json.serialized, job.counts.json.serialized, job.startedAt, job.finishedAt, job.runs])
    }

    public func save(_ job: BackfillJob) async throws {
        try await database.backgroundWrite { db in try Self.save(job, db: db) }
    }

    public func stage(kind: String, _ nodes: [(id: String, body: JSONValue)], job: BackfillJob, persist: Bool) async throws -> BackfillJob {
        try await database.backgroundWrite { db in
            let insert = try db.cachedStatement(sql: """
                INSERT INTO backfill_staging (shop, kind, id, seq, body)
                VALUES (?, ?, ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM backfill_staging WHERE shop = ? AND kind = ?), ?)
                ON CONFLICT (shop, kind, id) DO NOTHING
                """)
            for node in nodes {
                try insert.execute(arguments: [job.shop, kind, node.id, job.shop, kind, node.body.serialized])
            }
            var job = job
            let count = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM backfill_staging WHERE shop = ? AND kind = ?", arguments: [job.shop, kind]) ?? 0
            if kind == "customer" { job.counts.customersFetched = count } else { job.counts.ordersFetched = count }
            if persist { try Self.save(job, db: db) }
            return job
        }
    }

    public func stagedCount(shop: String, kind: String) async throws -> Int {
        try await pool.read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM backfill_staging WHERE shop = ? AND kind = ?", arguments: [shop, kind]) ?? 0
        }
    }

    public func staged(shop: String, kind: String, after seq: Int64, limit: Int) async throws -> [BackfillStagedNode] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT seq, id, body FROM backfill_staging WHERE shop = ? AND kind = ? AND seq > ? ORDER BY seq LIMIT ?
                """, arguments: [shop, kind, seq, limit]).compactMap { row in
                guard let object = BackfillJob.stagedBody(row["body"]) else { return nil }
                return BackfillStagedNode(seq: row["seq"], id: row["id"], body: object)
            }
        }
    }

    public func clearStaging(shop: String) async throws {
        try await database.backgroundWrite { db in try db.execute(sql: "DELETE FROM backfill_staging WHERE shop = ?", arguments: [shop]) }
    }

    public func commitChunk(_ body: @escaping @Sendable (any ProcessorState) throws -> (job: BackfillJob, operations: [BrazeOperation])) async throws -> BackfillJob {
        let job = try await database.backgroundWrite { db in
            var (job, operations) = try body(SQLiteProcessorState(db, outboxFilled: database.outboxFilled))
            job.counts.operations += try SQLiteOutbox.enqueue(operations, in: db, wake: database.outboxFilled)
            try Self.save(job, db: db)
            return job
        }
        return job
    }
}

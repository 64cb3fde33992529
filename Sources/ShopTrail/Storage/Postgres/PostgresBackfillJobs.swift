import PostgresNIO

/// `BackfillJobStore` on PostgreSQL: the `backfill_jobs` row of each shop and its `backfill_staging` rows.
///
/// A backfill runs from one `shoptrail backfill` command per shop at a time, so staging needs no lock
/// across instances. `commitChunk` runs the chunk on the processor's state inside its own transaction,
/// which needs the engine's `ProcessorState` (`processorState`).
public struct PostgresBackfillJobs: BackfillJobStore {
    let database: PostgresDatabase
    /// The processor's state on a connection inside a transaction; nil until the engine has one.
    let processorState: (@Sendable (PostgresBlockingConnection) -> any ProcessorState)?
    private var logger: Logger { database.logger }

    /// Jobs and staging only: `commitChunk` throws (the processor's state is not on PostgreSQL yet).
    public init(database: PostgresDatabase) {
        self.init(database: database, processorState: nil)
    }

    init(database: PostgresDatabase, processorState: (@Sendable (PostgresBlockingConnection) -> any ProcessorState)?) {
        self.database = database
        self.processorState = processorState
    }

    public func job(shop: String) async throws -> BackfillJob {
        let rows = try await database.rows("""
            SELECT state, reason, phase, window_start, requested_days, days, warning, checkpoint, counts, started_at, finished_at, runs
            FROM backfill_jobs WHERE shop = \(shop)
            """)
        var job = BackfillJob(shop: shop)
        guard let row = rows.first else { return job }
        let (state, reason, phase, windowStart, requestedDays, days, warning, checkpoint, counts, startedAt, finishedAt, runs) =
            try row.decode((String, String?, String?, Int64?, Int64?, Int64?, String?, String, String, Int64?, Int64?, Int64).self)
        job.state = BackfillJob.State(rawValue: state) ?? .notStarted
        job.reason = reason
        job.phase = phase.flatMap(BackfillJob.Phase.init(rawValue:))
        job.windowStart = windowStart
        job.requestedDays = requestedDays.map(Int.init)
        job.days = days.map(Int.init)
        job.warning = warning
        job.checkpoint = BackfillCheckpoint(json: BackfillJob.object(checkpoint))
        job.counts = BackfillCounts(json: BackfillJob.object(counts))
        job.startedAt = startedAt
        job.finishedAt = finishedAt
        job.runs = Int(runs)
        return job
    }

    static func saveQuery(_ job: BackfillJob) -> PostgresQuery {
        """
        INSERT INTO backfill_jobs (shop, state, reason, phase, window_start, requested_days, days, warning, checkpoint, counts,
            started_at, finished_at, runs)
        VALUES (\(job.shop), \(job.state.rawValue), \(job.reason), \(job.phase?.rawValue), \(job.windowStart), \(job.requestedDays.map(Int64.init)),
                \(job.days.map(Int64.init)), \(job.warning), \(job.checkpoint.json.serialized), \(job.counts.json.serialized), \(job.startedAt),
                \(job.finishedAt), \(Int64(job.runs)))
        ON CONFLICT (shop) DO UPDATE SET state = excluded.state, reason = excluded.reason, phase = excluded.phase,
            window_start = excluded.window_start, requested_days = excluded.requested_days, days = excluded.days, warning = excluded.warning,
            checkpoint = excluded.checkpoint, counts = excluded.counts, started_at = excluded.started_at, finished_at = excluded.finished_at,
            runs = excluded.runs
        """
    }

    public func save(_ job: BackfillJob) async throws {
        _ = try await database.rows(Self.saveQuery(job))
    }

    public func stage(kind: String, _ nodes: [(id: String, body: JSONValue)], job: BackfillJob, persist: Bool) async throws -> BackfillJob {
        let logger = logger
        let ids = nodes.map(\.id)
        let bodies = nodes.map(\.body.serialized)
        return try await database.transaction { connection in
            // One statement for the batch, numbered after the kind's last seq in fetch order; a node staged
            // before (or twice in the batch) keeps its first row.
            try await connection.query("""
                INSERT INTO backfill_staging (shop, kind, id, seq, body)
                SELECT \(job.shop), \(kind), n.id, top.seq + n.ord, n.body
                FROM unnest(\(ids)::text[], \(bodies)::text[]) WITH ORDINALITY AS n(id, body, ord),
                     (SELECT COALESCE(MAX(seq), 0) AS seq FROM backfill_staging WHERE shop = \(job.shop) AND kind = \(kind)) AS top
                ORDER BY n.ord
                ON CONFLICT (shop, kind, id) DO NOTHING
                """, logger: logger)
            var job = job
            let count = try await connection.query("SELECT COUNT(*) FROM backfill_staging WHERE shop = \(job.shop) AND kind = \(kind)", logger: logger)
                .collect().first?.decode(Int64.self) ?? 0
            if kind == "customer" { job.counts.customersFetched = Int(count) } else { job.counts.ordersFetched = Int(count) }
            if persist { try await connection.query(Self.saveQuery(job), logger: logger) }
            return job
        }
    }

    public func stagedCount(shop: String, kind: String) async throws -> Int {
        Int(try await database.rows("SELECT COUNT(*) FROM backfill_staging WHERE shop = \(shop) AND kind = \(kind)").first?.decode(Int64.self) ?? 0)
    }

    public func staged(shop: String, kind: String, after seq: Int64, limit: Int) async throws -> [BackfillStagedNode] {
        try await database.rows("""
            SELECT seq, id, body FROM backfill_staging WHERE shop = \(shop) AND kind = \(kind) AND seq > \(seq) ORDER BY seq LIMIT \(Int64(limit))
            """).compactMap { row in
            let (seq, id, body) = try row.decode((Int64, String, String).self)
            guard let object = BackfillJob.stagedBody(body) else { return nil }
            return BackfillStagedNode(seq: seq, id: id, body: object)
        }
    }

    public func clearStaging(shop: String) async throws {
        _ = try await database.rows("DELETE FROM backfill_staging WHERE shop = \(shop)")
    }

    public func commitChunk(_ body: @escaping @Sendable (any ProcessorState) throws -> (job: BackfillJob, operations: [BrazeOperation])) async throws -> BackfillJob {
        guard let processorState else {
            throw StorageUnavailable(key: "storage.engine", reason: "the processor's state is not on PostgreSQL in this version: a backfill cannot enqueue there")
        }
        let (job, added) = try await database.blockingTransaction { connection in
            let (built, operations) = try body(processorState(connection))
            var job = built
            let added = try connection.awaitAnswer { try await PostgresOutbox.enqueue(operations, on: connection.connection, logger: connection.logger) }
            job.counts.operations += added
            try connection.rows(Self.saveQuery(job))
            return (job, added)
        }
        if added > 0 { database.outboxFilled.signal() }
        return job
    }
}

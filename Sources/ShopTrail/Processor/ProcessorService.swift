import GRDB
import Logging
import ServiceLifecycle

/// Reads the event log by position and hands each event to the `StorefrontProcessor`; a chunk's
/// identity changes, Braze operations and the new position commit in one transaction, so the
/// processor resumes exactly where it stopped and re-processing never duplicates an operation.
public final class ProcessorService: Service {
    private let database: SQLiteDatabase
    private let processor: StorefrontProcessor
    private let shops: [ShopConfig]
    private let clock: any WallClock
    private let logger: Logger
    /// Events per transaction.
    private let chunkSize: Int
    /// Sleep when the log has nothing new.
    private let idlePollMillis: EpochMillis
    /// Work per transaction before it commits and lets writers of beacons and webhooks in.
    private let transactionBudgetMillis: Int64 = 10
    static let positionName = "storefront"

    /// How far the processor has read the log.
    static func position(_ db: Database) throws -> Int64 {
        try Int64.fetchOne(db, sql: "SELECT position FROM processor_position WHERE name = ?", arguments: [positionName]) ?? 0
    }

    public init(database: SQLiteDatabase, config: ShopTrailConfig, clock: any WallClock = SystemClock(), chunkSize: Int = 500,
                idlePollMillis: EpochMillis = 100, logger: Logger) {
        self.database = database
        self.chunkSize = chunkSize
        self.idlePollMillis = idlePollMillis
        self.shops = config.shops
        self.processor = StorefrontProcessor(shops: config.shops, exportDirectory: config.server.dataDir, logger: logger)
        self.clock = clock
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            var lastPurge: EpochMillis = 0
            while !Task.isCancelled {
                do {
                    let done = try await self.processChunk()
                    if self.clock.now() - lastPurge > 3_600_000 {
                        lastPurge = self.clock.now()
                        try await self.purgeHeld()
                    }
                    if done == 0 { try? await Task.sleep(for: .milliseconds(self.idlePollMillis)) }
                } catch {
                    self.logger.error("processor chunk failed; retrying", metadata: ["error": "\(error)"])
                    try? await Task.sleep(for: .seconds(1))
                }
            }
        }
    }

    /// Processes the next chunk of the log; returns how many events it read.
    @discardableResult
    public func processChunk() async throws -> Int {
        let processor = self.processor
        let limit = chunkSize
        let budget = Duration.milliseconds(transactionBudgetMillis)
        return try await database.pool.write { db in
            let position = try Self.position(db)
            let events = try Row.fetchAll(db, sql: "SELECT \(SQLiteEventStore.eventColumns) FROM events WHERE position > ? ORDER BY position LIMIT ?",
                                          arguments: [position, limit]).map(SQLiteEventStore.loggedEvent)
            guard !events.isEmpty else { return 0 }
            let state = SQLiteProcessorState(db)
            // The transaction holds SQLite's only write lock, which beacons and webhooks wait for:
            // commit after a few milliseconds of work rather than after a fixed count.
            let clock = ContinuousClock()
            let started = clock.now
            var done = 0
            for event in events {
                try processor.process(event, state: state)
                done += 1
                if clock.now - started > budget { break }
            }
            try db.execute(sql: "INSERT OR REPLACE INTO processor_position (name, position) VALUES (?, ?)", arguments: [Self.positionName, events[done - 1].position])
            return done
        }
    }

    /// Processes until the log is drained (tests and tools).
    public func drain() async throws {
        while try await processChunk() > 0 {}
    }

    /// Hold mode: events of visitors never identified are deleted after the shop's hold window.
    func purgeHeld() async throws {
        let now = clock.now()
        let purged = try await database.pool.write { db -> Int in
            let position = try Self.position(db)
            var total = 0
            for shop in self.shops where shop.braze.anonymous == .hold {
                let cutoff = now - EpochMillis(shop.braze.holdDays) * 86_400_000
                try db.execute(sql: """
                    DELETE FROM events WHERE shop = ? AND position <= ? AND time < ? AND visitor_id IS NOT NULL
                    AND NOT EXISTS (SELECT 1 FROM visitors v WHERE v.shop = events.shop AND v.visitor_id = events.visitor_id AND v.customer_id IS NOT NULL)
                    """, arguments: [shop.domain, position, cutoff])
                total += db.changesCount
            }
            return total
        }
        if purged > 0 { logger.info("purged held events of unidentified visitors", metadata: ["events": "\(purged)"]) }
    }
}

/// The PostgreSQL engine as one store, shared by several `shoptrail serve` instances (docs/postgres.md).
///
/// Each repository is made once here: the processor log keeps this instance's leases in memory, and
/// the outbox and the log name this instance in the claims and leases they take.
public final class PostgresStore: ShopTrailStore {
    public let database: PostgresDatabase
    /// This instance's name in leases and claims.
    public let instance: String
    private let log: PostgresEventStore
    public let processorLog: any ProcessorLog
    public let outbox: any Outbox
    public let operatorViews: any OperatorViews & DeliveryLog
    public let backfillJobs: any BackfillJobStore

    public init(database: PostgresDatabase, shops: [String], instance: String, leaseTTL: Duration = .seconds(10)) {
        self.database = database
        self.instance = instance
        log = PostgresEventStore(database: database)
        processorLog = PostgresProcessorLog(database: database, shops: shops, instance: instance, leaseTTL: leaseTTL)
        outbox = PostgresOutbox(database: database, instance: instance)
        operatorViews = PostgresOperatorViews(database: database)
        backfillJobs = PostgresBackfillJobs(database: database, processorState: { PostgresProcessorState($0) })
    }

    public var state: any StateTransactions { database }
    public var engineDescription: String { "PostgreSQL \(database.url) (instance \(instance))" }

    public func append(_ events: [NewEvent]) async throws -> AppendResult { try await log.append(events) }
    public func events(after position: Int64, limit: Int) async throws -> [LoggedEvent] { try await log.events(after: position, limit: limit) }
    public func eventCount() async throws -> Int { try await log.eventCount() }
    public func checkHealth() async throws { try await log.checkHealth() }
    public func commitStats() -> CommitStats { log.commitStats() }
}

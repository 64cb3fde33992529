import Foundation
import Logging

/// One opened store on one engine: the event log and every repository the stages and the console use.
///
/// `serve`, the tests and the commands pick an engine once (`SQLiteEventStore` or `PostgresStore`);
/// everything outside `Storage/` sees only these protocols, so no stage can reach the other engine's
/// types or SQL.
public protocol ShopTrailStore: EventStore {
    /// Transactions over the processor's state (visitors, customers, carts, timers, the outbox).
    var state: any StateTransactions { get }
    /// The processor's side of the log: cursor, run record, quarantine, retention.
    var processorLog: any ProcessorLog { get }
    /// Braze operations waiting for delivery, and their dead letters.
    var outbox: any Outbox { get }
    /// The console's read side and Braze's answers.
    var operatorViews: any OperatorViews & DeliveryLog { get }
    /// Each shop's history import: its job, checkpoint and staged nodes.
    var backfillJobs: any BackfillJobStore { get }
    /// One line for the start banner and logs: the engine and where it keeps its data (never a password).
    var engineDescription: String { get }
}

extension SQLiteEventStore: ShopTrailStore {
    public var state: any StateTransactions { database }
    public var processorLog: any ProcessorLog { database.processorLog }
    public var outbox: any Outbox { SQLiteOutbox(database: database) }
    public var operatorViews: any OperatorViews & DeliveryLog { SQLiteOperatorViews(database: database) }
    public var backfillJobs: any BackfillJobStore { SQLiteBackfillJobs(database: database) }
    public var engineDescription: String { "\(path) (SQLite, WAL)" }
}

/// Opens the store `config.storage` names, runs `body` with it, and closes it: the SQLite file in
/// `server.data_dir`, or a PostgreSQL database (its pool runs around `body`, its schema is migrated
/// first). `instance` names this process in leases and claims shared with other instances.
public func withConfiguredStore<T: Sendable>(_ config: ShopTrailConfig, instance: String, logger: Logger,
                                             _ body: @Sendable (any ShopTrailStore) async throws -> T) async throws -> T {
    switch config.storage.engine {
    case .sqlite:
        let path = (config.server.dataDir as NSString).appendingPathComponent("shoptrail.sqlite")
        let store = try SQLiteEventStore(path: path, synchronous: config.server.sqliteSynchronous)
        return try await body(store)
    case .postgres:
        guard let url = config.storage.postgres else { throw StorageUnavailable(key: "storage.url", reason: "is required with engine: postgres") }
        let database = try PostgresDatabase(url: url, logger: logger)
        return try await database.withRunning { database in
            try await database.open()
            return try await body(PostgresStore(database: database, shops: config.shops.map(\.domain), instance: instance))
        }
    }
}

/// This process's name in leases and claims: host, process id and a random part, so a restarted
/// process never mistakes a dead predecessor's leases for its own.
public func defaultInstanceName() -> String {
    let host = ProcessInfo.processInfo.hostName.prefix(40)
    return "\(host)-\(getpid())-\(UUID().uuidString.prefix(8).lowercased())"
}

import Foundation
import Logging
import Testing
@testable import ShopTrail

/// The storage engines a conformance suite runs against: the embedded SQLite file and a real
/// PostgreSQL server. `./scripts/test` starts the server (`scripts/test-postgres`) and exports its
/// URL; each test gets a database of its own, dropped afterwards.
enum StorageEngineUnderTest: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case sqlite, postgres
    var testDescription: String { rawValue }

    static let urlVariable = "SHOPTRAIL_TEST_POSTGRES_URL"

    /// The test server's URL; a missing server fails the test (it is never silently skipped).
    static func serverURL() throws -> PostgresURL {
        guard let text = ProcessInfo.processInfo.environment[urlVariable] else {
            Issue.record("\(urlVariable) is not set: run ./scripts/test, or `eval \"$(scripts/test-postgres start)\"` before swift test")
            throw CancellationError()
        }
        return try PostgresURL.parse(text).get()
    }

    /// Runs `body` with a repository made on a fresh, empty store of this engine.
    func with<Repository: Sendable>(sqlite: @escaping @Sendable (SQLiteEventStore) -> Repository,
                                    postgres: @escaping @Sendable (PostgresDatabase) -> Repository,
                                    _ body: @Sendable (Repository) async throws -> Void) async throws {
        switch self {
        case .sqlite:
            let temp = try TempStore()
            try await body(sqlite(temp.store))
            withExtendedLifetime(temp) {}
        case .postgres:
            try await Self.withFreshDatabase { database async throws in try await body(postgres(database)) }
        }
    }

    /// Runs `body` with a fresh event log on this engine.
    func withEventStore(_ body: @Sendable (any EventStore) async throws -> Void) async throws {
        try await with(sqlite: { $0 as any EventStore }, postgres: { PostgresEventStore(database: $0) }, body)
    }

    /// Runs `body` with a fresh, empty outbox on this engine.
    func withOutbox(_ body: @Sendable (any Outbox) async throws -> Void) async throws {
        try await with(sqlite: { SQLiteOutbox(database: $0.database) as any Outbox }, postgres: { PostgresOutbox(database: $0) }, body)
    }

    /// Creates a database of its own on the test server, migrates it, runs `body`, drops it.
    static func withFreshDatabase(_ body: @Sendable (PostgresDatabase) async throws -> Void) async throws {
        let server = try serverURL()
        let name = "shoptrail_test_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        try await administer(server, "CREATE DATABASE \(name)")
        var url = server
        url.database = name
        do {
            // Few connections and a generous start: the suite runs tests in parallel on a loaded machine,
            // and each connection pays a SCRAM handshake in a debug build.
            let database = try PostgresDatabase(url: url, maximumConnections: 4)
            try await database.withRunning { database in
                try await database.open(timeout: .seconds(600))
                try await body(database)
            }
        } catch {
            try? await administer(server, "DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
            throw error
        }
        try await administer(server, "DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
    }

    /// One statement on the server's default database (a pool runs once, so each gets its own).
    static func administer(_ server: PostgresURL, _ sql: String) async throws {
        try await PostgresDatabase(url: server, maximumConnections: 1).withRunning { try await $0.execute(unsafeSQL: sql) }
    }
}

/// A fresh store of one engine seen through the processor's protocols: the event log it reads, its
/// state transactions, the processor's log and the outbox its operations go to.
struct ProcessorStorage: Sendable {
    let events: any EventStore
    let state: any StateTransactions
    let log: any ProcessorLog
    let outbox: any Outbox
    /// Another processor log on the same store (a restarted process: on PostgreSQL the same instance name).
    let makeLog: @Sendable () -> any ProcessorLog
}

extension StorageEngineUnderTest {
    /// Runs `body` with a fresh event log and state transactions on this engine.
    func withState(_ body: @Sendable (any EventStore, any StateTransactions) async throws -> Void) async throws {
        try await withProcessorLog(shops: []) { storage in try await body(storage.events, storage.state) }
    }

    /// Runs `body` with a fresh store on this engine; on PostgreSQL the processor log holds `shops`
    /// (as a single instance) once `beginRun` is called.
    func withProcessorLog(shops: [String], leaseTTL: Duration = .seconds(120), _ body: @Sendable (ProcessorStorage) async throws -> Void) async throws {
        try await with(sqlite: { store in
            ProcessorStorage(events: store, state: store.database, log: store.database.processorLog, outbox: SQLiteOutbox(database: store.database),
                             makeLog: { store.database.processorLog })
        }, postgres: { database in
            ProcessorStorage(events: PostgresEventStore(database: database), state: database,
                             log: PostgresProcessorLog(database: database, shops: shops, instance: "test-instance", leaseTTL: leaseTTL),
                             outbox: PostgresOutbox(database: database),
                             makeLog: { PostgresProcessorLog(database: database, shops: shops, instance: "test-instance", leaseTTL: leaseTTL) })
        }, body)
    }
}

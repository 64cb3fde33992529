import Foundation
import PostgresNIO
import Synchronization
import Testing
@testable import ShopTrail

/// A connection that closes under a transaction (PostgreSQL going away) ends the transaction with an
/// error instead of leaving it waiting for ever (PostgreSQL only).
///
/// postgres-nio writes a query to its channel without a write promise; once a closed channel has dropped
/// its handlers, that query is never answered. That is how the processor stalled after an outage in the
/// first second of a start (docs/postgres.md). Each test closes the connection itself and waits for the
/// close to complete (the handlers are gone by then), so the next query meets exactly that state.
@Suite struct PostgresOutageTests {
    /// Runs `body` and fails the test if it neither returns nor throws within a generous deadline.
    static func ends(_ what: String, _ body: @escaping @Sendable () async throws -> Void) async throws -> (any Error)? {
        let outcome = Mutex<(done: Bool, error: (any Error)?)>((false, nil))
        // Unstructured: a body stuck on an unanswered query ignores cancellation, and a task group would wait for it.
        Task {
            do { try await body() } catch { outcome.withLock { $0.error = error } }
            outcome.withLock { $0.done = true }
        }
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            if let result = outcome.withLock({ $0.done ? $0 : nil }) { return result.error }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("\(what) still waits after 60 s: a query on a closed connection was never answered")
        return nil
    }

    @Test func anAsyncTransactionWhoseConnectionClosesEndsWithAnError() async throws {
        try await StorageEngineUnderTest.withFreshDatabase { database async throws in
            let error = try await Self.ends("the transaction") {
                try await database.transaction { connection in
                    try await connection.close()
                    try await connection.closeFuture.get()
                    try await connection.query("SELECT 1", logger: database.logger)
                }
            }
            #expect(error != nil)
            #expect(error.map(PostgresDatabase.isTransient) == true, "the stages retry it: \(String(describing: error))")
            // The pool goes on with another connection.
            #expect(try await database.rows("SELECT 1").count == 1)
        }
    }

    @Test func aBlockingTransactionWhoseConnectionClosesEndsWithAnError() async throws {
        try await StorageEngineUnderTest.withFreshDatabase { database async throws in
            let error = try await Self.ends("the blocking transaction") {
                try await database.blockingTransaction { connection in
                    try connection.awaitAnswer {
                        try await connection.connection.close()
                        try await connection.connection.closeFuture.get()
                    }
                    // The processor's state bodies query from a dispatch thread, as here.
                    try connection.rows("SELECT 1")
                }
            }
            #expect(error != nil)
            #expect(error.map(PostgresDatabase.isTransient) == true, "the stages retry it: \(String(describing: error))")
            #expect(try await database.rows("SELECT 1").count == 1)
        }
    }

    /// The silence probe asks after `probeAfter` (10 s) whether the server still has the connection's process:
    /// a query that is merely slow keeps its connection (silent servers: `test_postgres_instances.py`).
    @Test func aSlowQueryIsNotTakenForASilentServer() async throws {
        try await StorageEngineUnderTest.withFreshDatabase { database async throws in
            let slept = try await database.transaction { connection in
                try await connection.query("SELECT pg_sleep(13)", logger: database.logger).collect().count
            }
            #expect(slept == 1)
            #expect(database.silence.closedSilent.load(ordering: .relaxed) == 0)
        }
    }
}

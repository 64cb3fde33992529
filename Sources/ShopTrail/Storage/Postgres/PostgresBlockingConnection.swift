import Dispatch
import Synchronization
import PostgresNIO

/// A PostgreSQL connection inside one transaction, used from synchronous code.
///
/// The processor's state protocols (`ProcessorState`, `AbandonmentTimerStore`) are synchronous:
/// on SQLite a whole chunk of events is handled in one transaction whose queries answer in
/// microseconds. The PostgreSQL engine keeps those protocols and runs such a body on a thread of
/// its own (`PostgresDatabase.blockingTransaction`), waiting there for each query; never on an
/// event loop or a thread of Swift's cooperative pool.
final class PostgresBlockingConnection: Sendable {
    let connection: PostgresConnection
    let logger: Logger
    /// Writes held back to send several as one statement (`PostgresProcessorState`); sent before the
    /// connection's next statement, whoever sends it, and before the transaction commits.
    private let heldBack = Mutex<[any PostgresHeldBackWrites]>([])

    init(connection: PostgresConnection, logger: Logger) {
        self.connection = connection
        self.logger = logger
    }

    /// Runs `query` and returns its rows.
    @discardableResult
    func rows(_ query: PostgresQuery) throws -> [PostgresRow] {
        try sendHeldBack()
        // The future-based query, waited for on this (blocking) thread: no task per query, so a round trip
        // costs one hop to the connection's event loop and back rather than three.
        return try wait(for: connection.query(query, logger: logger)).rows
    }

    /// Waits for `future` (a query on this connection); ends with `PostgresConnectionClosed` once the connection
    /// closes, since a query written to a closed connection is never answered (`PostgresDatabase.untilClosed`).
    func wait<T: Sendable>(for future: EventLoopFuture<T>) throws -> T {
        let outcome = Mutex<Result<T, any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        future.whenComplete { result in
            outcome.withLock { $0 = result }
            done.signal()
        }
        while done.wait(timeout: .now() + .milliseconds(100)) == .timedOut {
            // The answer first: a query answered just before the close still counts.
            if connection.isClosed, outcome.withLock({ $0 }) == nil { throw PostgresConnectionClosed() }
        }
        return try outcome.withLock { $0 ?? .failure(CancellationError()) }.get()
    }

    /// Waits for async `work` on this connection; ends with `PostgresConnectionClosed` once the connection closes.
    func awaitAnswer<T: Sendable>(_ work: @escaping @Sendable () async throws -> T) throws -> T {
        try sendHeldBack()
        let promise = connection.eventLoop.makePromise(of: T.self)
        promise.completeWithTask(work)
        return try wait(for: promise.futureResult)
    }

    /// Holds `writes` back until the next statement on this connection or the commit, whichever comes first.
    func holdBack(_ writes: any PostgresHeldBackWrites) {
        heldBack.withLock { held in
            if !held.contains(where: { $0 === writes }) { held.append(writes) }
        }
    }

    /// Sends the held-back writes now (they send their statements through this connection, which finds none held).
    func sendHeldBack() throws {
        let writers = heldBack.withLock { held in defer { held = [] }; return held }
        for writes in writers { try writes.send(on: self) }
    }

    /// Forgets the held-back writes of a transaction that is rolled back.
    func dropHeldBack() {
        heldBack.withLock { $0 = [] }
    }

    /// The first column of each row.
    func column<T: PostgresDecodable & Sendable>(_ query: PostgresQuery, as type: T.Type) throws -> [T] {
        try rows(query).map { try $0.makeRandomAccess()[0].decode(T.self) }
    }
}

/// Writes a transaction holds back to send together (see `PostgresBlockingConnection.holdBack`).
protocol PostgresHeldBackWrites: AnyObject, Sendable {
    func send(on connection: PostgresBlockingConnection) throws
}

extension PostgresRow {
    /// The named column, decoded.
    func value<T: PostgresDecodable>(_ name: String, as type: T.Type = T.self) throws -> T {
        try makeRandomAccess()[name].decode(T.self)
    }
}

extension PostgresDatabase {
    /// Threads that may block on a query (see `PostgresBlockingConnection`).
    static let blockingQueue = DispatchQueue(label: "shoptrail.postgres.blocking", attributes: .concurrent)

    /// Runs synchronous `body` in one transaction: it commits when `body` returns, rolls back when it throws.
    func blockingTransaction<T: Sendable>(_ body: @escaping @Sendable (PostgresBlockingConnection) throws -> T) async throws -> T {
        try await transaction { connection in
            let blocking = PostgresBlockingConnection(connection: connection, logger: self.logger)
            return try await withCheckedThrowingContinuation { continuation in
                Self.blockingQueue.async {
                    continuation.resume(with: Result {
                        do {
                            let result = try body(blocking)
                            try blocking.sendHeldBack()
                            return result
                        } catch {
                            blocking.dropHeldBack()
                            throw error
                        }
                    })
                }
            }
        }
    }
}

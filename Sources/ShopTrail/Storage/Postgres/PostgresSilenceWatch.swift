import Foundation
import PostgresNIO
import Synchronization

/// Tells a silent connection from a slow query, and closes the silent ones.
///
/// A server that stops answering without closing its connections (a failover that moved the
/// address to a new primary, a network drop, a frozen host) leaves every query on them waiting until
/// TCP gives up, about 15 minutes on Linux. A deadline per query cannot tell that from a slow query
/// (a migration, a large redact). So a transaction that has waited `probeAfter` asks the server, on a
/// connection of its own, which of this process's backends it still has (`pg_stat_activity`, by
/// process id and start time). Every pooled connection whose backend the server no longer has is
/// closed; if the server gives no answer within `probeTimeout`, all of them are. A closed connection
/// ends its query with `PostgresConnectionClosed`, which every stage retries on a new connection.
/// A backend that is there but busy is left alone: slow is not silent.
final class PostgresSilenceWatch: Sendable {
    /// How long a transaction waits before the server is asked.
    let probeAfter: Duration
    /// How long the server has to answer the question.
    let probeTimeout: Duration
    private let connect: @Sendable () async throws -> PostgresConnection
    private let logger: Logger

    /// A pooled connection and the server process behind it. Weak: the pool owns its connections, and one
    /// it lets go of must not outlive it here unclosed.
    private struct Backend {
        weak var connection: PostgresConnection?
        let pid: Int32
        /// `backend_start` in microseconds since the epoch: a process id alone may be reused, or exist on a new primary.
        let startMicros: Int64
    }

    private let backends = Mutex<[PostgresConnection.ID: Backend]>([:])
    private let probing = Atomic<Bool>(false)
    /// Connections closed because their backend was gone or the server silent (tests, logs).
    let closedSilent = Atomic<Int>(0)

    init(probeAfter: Duration = .seconds(10), probeTimeout: Duration = .seconds(10), logger: Logger,
         connect: @escaping @Sendable () async throws -> PostgresConnection) {
        self.probeAfter = probeAfter
        self.probeTimeout = probeTimeout
        self.connect = connect
        self.logger = logger
    }

    /// Learns the backend of a pooled connection the first time it is used (one query per connection).
    func record(_ connection: PostgresConnection) async throws {
        if backends.withLock({ $0[connection.id] != nil }) { return }
        let row = try await connection.query("""
            SELECT pid, (extract(epoch FROM backend_start) * 1000000)::int8 FROM pg_stat_activity WHERE pid = pg_backend_pid()
            """, logger: logger).collect().first
        // No row (a server that hides its own process?): recorded as pid 0, which the probe never closes.
        var (pid, start): (Int32, Int64) = (0, 0)
        if let row { (pid, start) = try row.decode((Int32, Int64).self) }
        backends.withLock { $0[connection.id] = Backend(connection: connection, pid: pid, startMicros: start) }
        let id = connection.id
        connection.closeFuture.whenComplete { [weak self] _ in self?.backends.withLock { _ = $0.removeValue(forKey: id) } }
    }

    /// Starts one probe unless one is running; never waits for it. `connection` is the one a transaction has
    /// waited on: if its backend is not known yet (the query that learns it is what hangs), it is closed
    /// when the server answers the probe in time (a fresh connection answers, this one does not) or does not.
    func probeSoon(waitingOn connection: PostgresConnection? = nil) {
        guard probing.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else { return }
        let unknown = connection.flatMap { c in backends.withLock { $0[c.id] == nil } ? c : nil }
        Task {
            await self.probe(unknown: unknown)
            self.probing.store(false, ordering: .releasing)
        }
    }

    /// Asks the server which recorded backends it still has and closes the connections of the others
    /// (all of them when it gives no answer in time).
    func probe(unknown: PostgresConnection? = nil) async {
        let known = backends.withLock { $0.values.filter { $0.connection != nil && $0.pid != 0 } }
        guard !known.isEmpty || unknown != nil else { return }
        // The probe's own connection, closed whatever happens (a silent server would hold it open).
        let opened = Mutex<(connection: PostgresConnection?, abandoned: Bool)>((nil, false))
        let answer = await Self.first(within: probeTimeout) { [connect, logger] () async throws -> Set<Int32> in
            let connection = try await connect()
            defer { Self.close(connection) }
            let abandoned = opened.withLock { o in
                o.connection = connection
                return o.abandoned
            }
            if abandoned { throw CancellationError() }
            let rows = try await connection.query("""
                SELECT a.pid FROM pg_stat_activity a JOIN unnest(\(known.map(\.pid))::int4[], \(known.map(\.startMicros))::int8[]) AS k(pid, start)
                ON a.pid = k.pid AND (extract(epoch FROM a.backend_start) * 1000000)::int8 = k.start
                """, logger: logger).collect()
            return Set(try rows.map { try $0.decode(Int32.self) })
        }
        opened.withLock { o in
            o.abandoned = true
            if let connection = o.connection { Self.close(connection) }
        }
        let gone: [Backend]
        switch answer {
        case .answered(let alive):
            gone = known.filter { !alive.contains($0.pid) }
        case .failed(let error as PSQLError) where error.serverInfo != nil:
            // The server answered, with an error (too many connections, say): not silent.
            logger.debug("PostgreSQL silence probe refused", metadata: ["error": "\(error.serverInfo?[.message] ?? "?")"])
            return
        case .failed, .noAnswer:
            gone = known
        }
        if let unknown {
            closedSilent.add(1, ordering: .relaxed)
            Self.close(unknown)
        }
        guard !gone.isEmpty else { return }
        logger.warning("closing PostgreSQL connections the server no longer answers on", metadata: [
            "connections": "\(gone.count)", "reason": "\(answer.isAnswered ? "their server processes are gone" : "no answer within \(probeTimeout)")"])
        for backend in gone {
            guard let connection = backend.connection else { continue }
            closedSilent.add(1, ordering: .relaxed)
            Self.close(connection)
        }
    }

    /// Closes without waiting (the close of a silent connection is not answered either).
    static func close(_ connection: PostgresConnection) {
        let closing: EventLoopFuture<Void> = connection.close()
        // Held until closed: a connection released before its close completes is a postgres-nio assertion.
        closing.whenComplete { _ in withExtendedLifetime(connection) {} }
    }

    /// What a bounded attempt came to.
    enum Outcome<T: Sendable>: Sendable {
        case answered(T)
        case failed(any Error)
        case noAnswer

        var isAnswered: Bool {
            if case .answered = self { return true }
            return false
        }
    }

    /// Runs `work` and returns its outcome, or `.noAnswer` after `timeout`. Unstructured on purpose: a query
    /// on a silent connection ignores cancellation, and a task group would wait for it.
    static func first<T: Sendable>(within timeout: Duration, _ work: @escaping @Sendable () async throws -> T) async -> Outcome<T> {
        let once = Mutex<CheckedContinuation<Outcome<T>, Never>?>(nil)
        return await withCheckedContinuation { continuation in
            once.withLock { $0 = continuation }
            let resume: @Sendable (Outcome<T>) -> Void = { outcome in once.withLock { c in defer { c = nil }; return c }?.resume(returning: outcome) }
            let timer = Task {
                try? await Task.sleep(for: timeout)
                resume(.noAnswer)
            }
            Task {
                do { resume(.answered(try await work())) } catch { resume(.failed(error)) }
                timer.cancel()
            }
        }
    }
}

import Logging
import NIOSSL
import PostgresNIO
import Synchronization

/// The PostgreSQL engine's connection pool and schema, shared by its repositories.
///
/// The pool only works while `run()` runs (it is a swift-service-lifecycle `Service`, as the pool
/// of postgres-nio is); `withRunning` does that around a body for commands and tests.
public final class PostgresDatabase: Sendable {
    public let url: PostgresURL
    let client: PostgresClient
    let logger: Logger
    /// Signalled after events are committed to the log by this process.
    public let logAppended = StageWakeup()
    /// Signalled after this process added Braze operations to the outbox.
    public let outboxFilled = StageWakeup()
    /// Since when the listener has failed to reach the server; nil while it is connected (or has not tried yet).
    let unreachableSince = Mutex<ContinuousClock.Instant?>(nil)
    /// Closes pooled connections the server no longer answers on (see `PostgresSilenceWatch`).
    let silence: PostgresSilenceWatch
    /// Notifications heard from the database (any instance's appends and enqueues), for tests and metrics.
    let notificationsHeard = Mutex((log: 0, outbox: 0))

    public init(url: PostgresURL, maximumConnections: Int = 20, logger: Logger = Logger(label: "shoptrail.postgres")) throws {
        self.url = url
        self.logger = logger
        let tls: PostgresClient.Configuration.TLS
        switch url.tls {
        case .disable: tls = .disable
        case .prefer: tls = .prefer(.makeClientConfiguration())
        case .require: tls = .require(.makeClientConfiguration())
        }
        var configuration = PostgresClient.Configuration(
            host: url.host, port: url.port, username: url.user, password: url.password?.value, database: url.database, tls: tls)
        configuration.options.maximumConnections = maximumConnections
        configuration.options.connectTimeout = .seconds(5)
        client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        silence = PostgresSilenceWatch(logger: logger) { [url, logger] in
            try await PostgresConnection.connect(configuration: Self.connectionConfiguration(url), id: 2, logger: logger)
        }
    }

    /// NOTIFY channel of appends to the event log (`PostgresEventStore`), heard by every instance.
    static let logChannel = "shoptrail_log"
    /// NOTIFY channel of operations added to the outbox.
    static let outboxChannel = "shoptrail_outbox"
    /// Names the listener's ping, so an operator (or a test) can tell its connection apart.
    static let listenerPing = "shoptrail_listener_ping"

    /// Runs the connection pool, and the connection that hears other instances' appends and enqueues,
    /// until the task is cancelled.
    public func run() async {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.client.run() }
            group.addTask { await self.listen() }
        }
    }

    /// One connection of its own (a pooled one cannot be held for ever) `LISTEN`s on both channels and
    /// signals `logAppended`/`outboxFilled`: a commit on another instance wakes this one's stages at once,
    /// not at their next poll. When the connection drops it is opened again a second later; both stages
    /// are woken on every (re)connect, since notifications sent while it was down are lost.
    func listen() async {
        while !Task.isCancelled {
            do {
                let connection = try await PostgresConnection.connect(configuration: connectionConfiguration(), id: 1, logger: logger)
                unreachableSince.withLock { $0 = nil }
                do {
                    // The whole session too: `listen` itself is a query, written to a connection that may close first.
                    try await Self.untilClosed(connection) {
                        try await connection.listen(on: Self.logChannel) { log in
                            try await connection.listen(on: Self.outboxChannel) { outbox in
                                self.logAppended.signal()
                                self.outboxFilled.signal()
                                try await withThrowingTaskGroup(of: Void.self) { group in
                                    group.addTask {
                                        for try await _ in log {
                                            self.notificationsHeard.withLock { $0.log += 1 }
                                            self.logAppended.signal()
                                        }
                                    }
                                    group.addTask {
                                        for try await _ in outbox {
                                            self.notificationsHeard.withLock { $0.outbox += 1 }
                                            self.outboxFilled.signal()
                                        }
                                    }
                                    // A dropped connection may go unnoticed by an idle listener: a ping finds it.
                                    group.addTask {
                                        while true {
                                            try await Task.sleep(for: .seconds(5))
                                            let logger = self.logger
                                            // A silent server answers neither: the session ends, and the reconnect says whether it is there.
                                            let ping = await PostgresSilenceWatch.first(within: self.silence.probeTimeout) {
                                                try await Self.untilClosed(connection) {
                                                    try await connection.query("SELECT 1 AS \(unescaped: Self.listenerPing)", logger: logger).collect()
                                                }
                                            }
                                            if case .answered = ping { continue }
                                            // Closed here: ending the session sends UNLISTEN, which a silent connection never answers.
                                            PostgresSilenceWatch.close(connection)
                                            if case .failed(let error) = ping { throw error }
                                            throw PostgresConnectionClosed()
                                        }
                                    }
                                    // The first to end (a drop ends them all) ends the connection.
                                    _ = try await group.next()
                                    group.cancelAll()
                                }
                            }
                        }
                    }
                } catch {
                    logger.debug("notification connection ended", metadata: ["error": "\(error)"])
                }
                try? await connection.close()
            } catch {
                logger.debug("notification connection failed", metadata: ["error": "\(error)"])
                // Only a failed connect says the server is gone: a dropped connection alone (a terminated
                // backend) is reconnected a second later and says nothing about the server.
                if !Task.isCancelled { unreachableSince.withLock { $0 = $0 ?? .now } }
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }

    /// Runs the pool around `body` (commands and tests, which have no service group).
    public func withRunning<T: Sendable>(_ body: @Sendable (PostgresDatabase) async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await self.run() }
            defer { group.cancelAll() }
            return try await body(self)
        }
    }

    /// Connects and migrates, or throws a `StorageUnavailable` that names `storage.url` and says why,
    /// within `timeout` (a server that never answers must not hang the start).
    public func open(timeout: Duration = .seconds(15)) async throws {
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    // One direct connection first: the pool retries a refused connection quietly,
                    // while this attempt fails with the reason (refused, no such host, wrong password).
                    let probe = try await PostgresConnection.connect(configuration: self.connectionConfiguration(), id: 0, logger: self.logger)
                    try? await probe.close()
                    try await PostgresMigrations.migrate(self)
                }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    throw StorageUnavailable(key: "storage.url", reason: "no answer from \(self.url.host):\(self.url.port) within \(timeout)")
                }
                defer { group.cancelAll() }
                try await group.next()
            }
        } catch let error as StorageUnavailable {
            throw error
        } catch let error as PSQLError {
            throw StorageUnavailable(key: "storage.url", reason: Self.explain(error, url: url))
        }
    }

    /// The same server, user and TLS as the pool, for a single connection.
    func connectionConfiguration() throws -> PostgresConnection.Configuration {
        try Self.connectionConfiguration(url)
    }

    static func connectionConfiguration(_ url: PostgresURL) throws -> PostgresConnection.Configuration {
        let tls: PostgresConnection.Configuration.TLS
        switch url.tls {
        case .disable: tls = .disable
        case .prefer: tls = .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
        case .require: tls = .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
        }
        var configuration = PostgresConnection.Configuration(
            host: url.host, port: url.port, username: url.user, password: url.password?.value, database: url.database, tls: tls)
        configuration.options.connectTimeout = .seconds(5)
        return configuration
    }

    /// A PostgreSQL error in words an operator can act on, without the password.
    static func explain(_ error: PSQLError, url: PostgresURL) -> String {
        if let message = error.serverInfo?[.message] {
            let code = error.serverInfo?[.sqlState] ?? "?"
            return "PostgreSQL at \(url.host):\(url.port) refused: \(message) (SQLSTATE \(code))"
        }
        if let underlying = error.underlying { return "cannot reach PostgreSQL at \(url.host):\(url.port): \(underlying)" }
        return "cannot reach PostgreSQL at \(url.host):\(url.port): \(error.code)"
    }

    /// Runs `body` in one transaction on a pooled connection. Not postgres-nio's `withTransaction`: that
    /// wraps the body's error in `PostgresTransactionError`, and callers here act on theirs (`ShopLeaseLost`).
    /// Throws `PostgresConnectionClosed` once the connection closes under it (see `untilClosed`).
    func transaction<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        let logger = logger
        return try await client.withConnection { connection in
            try await Self.untilClosed(connection, watch: self.silence) {
                try await self.silence.record(connection)
                try await connection.query("BEGIN", logger: logger)
                do {
                    let result = try await body(connection)
                    try await connection.query("COMMIT", logger: logger)
                    return result
                } catch {
                    _ = try? await connection.query("ROLLBACK", logger: logger)
                    throw error
                }
            }
        }
    }

    /// Runs `work` (queries on `connection`) and returns its result, or throws `PostgresConnectionClosed` as
    /// soon as the connection is closed. postgres-nio writes a query to the channel without a write promise:
    /// once a closed channel has dropped its handlers, the query is never answered, and whoever awaits it
    /// waits for ever (the processor did, after an outage at start: docs/postgres.md). A `work` left behind
    /// that way stays suspended; it holds no thread. With `watch`, a wait of `probeAfter` or longer asks
    /// whether the server still answers on this process's connections (`PostgresSilenceWatch`).
    static func untilClosed<T: Sendable>(_ connection: PostgresConnection, watch: PostgresSilenceWatch? = nil,
                                         _ work: @escaping @Sendable () async throws -> T) async throws -> T {
        if connection.isClosed { throw PostgresConnectionClosed() }
        let pending = Mutex<(continuation: CheckedContinuation<T, any Error>?, tasks: [Task<Void, Never>])>((nil, []))
        let finish: @Sendable (Result<T, any Error>) -> Void = { result in
            let (continuation, tasks) = pending.withLock { p in
                defer { p = (nil, []) }
                return (p.continuation, p.tasks)
            }
            for task in tasks { task.cancel() }
            continuation?.resume(with: result)
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                pending.withLock { $0.continuation = continuation }
                let worker = Task {
                    do { finish(.success(try await work())) } catch { finish(.failure(error)) }
                }
                // Polled, not `closeFuture.whenComplete`: a callback per query would pile up on a long-lived connection.
                let watchdog = Task {
                    let clock = ContinuousClock()
                    var probeAt = watch.map { clock.now + $0.probeAfter }
                    while !Task.isCancelled {
                        try? await Task.sleep(for: .milliseconds(100))
                        if connection.isClosed {
                            finish(.failure(PostgresConnectionClosed()))
                            return
                        }
                        if let watch, let at = probeAt, clock.now >= at {
                            watch.probeSoon(waitingOn: connection)
                            probeAt = clock.now + watch.probeAfter
                        }
                    }
                }
                let late = pending.withLock { p -> Bool in
                    guard p.continuation != nil else { return true }
                    p.tasks = [worker, watchdog]
                    return false
                }
                // `work` finished before the tasks were recorded: nothing is left to watch.
                if late { watchdog.cancel() }
            }
        } onCancel: {
            // The work only: the watchdog must still end a wait on a closed connection, which ignores cancellation.
            pending.withLock({ $0.tasks }).first?.cancel()
        }
    }

    /// Runs `operation` unless PostgreSQL is down: while the listener cannot connect to the server (it
    /// pings every 5 s and reconnects a second after a drop), the operation is refused or abandoned with
    /// `StorageUnavailable` instead of waiting in the pool's queue; `deadline` bounds it in any case. A busy
    /// but reachable server is waited for (a slow answer is not a missing one).
    func unlessUnreachable<T: Sendable>(deadline: Duration, _ operation: @escaping @Sendable () async throws -> T) async throws -> T {
        let down = StorageUnavailable(key: "storage.url", reason: "PostgreSQL at \(url.host):\(url.port) cannot be reached")
        if unreachableSince.withLock({ $0 }) != nil { throw down }
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await operation() }
            group.addTask {
                let start = ContinuousClock.now
                while ContinuousClock.now - start < deadline {
                    try await Task.sleep(for: .milliseconds(200))
                    if self.unreachableSince.withLock({ $0 }) != nil { throw down }
                }
                throw StorageUnavailable(key: "storage.url", reason: "PostgreSQL at \(self.url.host):\(self.url.port) gave no answer within \(deadline)")
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let result = first else { throw down }
            return result
        }
    }

    /// Runs one statement of trusted text (no parameters: `CREATE DATABASE` takes none), for
    /// administration and tests; never for outside data.
    public func execute(unsafeSQL sql: String) async throws {
        _ = try await rows(PostgresQuery(unsafeSQL: sql))
    }

    /// Runs a query outside any explicit transaction and collects its rows.
    func rows(_ query: PostgresQuery) async throws -> [PostgresRow] {
        let logger = logger
        return try await client.withConnection { connection in
            try await Self.untilClosed(connection, watch: self.silence) {
                try await self.silence.record(connection)
                return try await connection.query(query, logger: logger).collect()
            }
        }
    }
}

extension PostgresQuery {
    /// `($n+1, …, $n+columns)` for row `row` (from 0) of a multi-row `VALUES` list whose binds go row by row.
    static func placeholders(row: Int, columns: Int) -> String {
        "(" + (1...columns).map { "$\(row * columns + $0)" }.joined(separator: ", ") + ")"
    }
}

/// The storage could not be opened or reached; `key` is the config key to look at.
public struct StorageUnavailable: Error, Sendable, CustomStringConvertible {
    public let key: String
    public let reason: String
    public var description: String { "\(key): \(reason)" }

    public init(key: String, reason: String) {
        self.key = key
        self.reason = reason
    }
}

/// The connection a query ran on closed before the query was answered (the server went away, or the
/// connection was dropped); a transient error: the caller retries on another connection.
public struct PostgresConnectionClosed: Error, Sendable, CustomStringConvertible {
    public var description: String { "the connection to PostgreSQL closed before the query was answered" }
}

/// Runs async `work` from a thread that may block (a group committer's queue) and waits for it. `work` must end
/// by itself: the event log's appends run under `unlessUnreachable` and `transaction`, which both do.
func blockingAwait<T: Sendable>(_ work: @escaping @Sendable () async throws -> T) throws -> T {
    // The same wait as `PostgresBlockingConnection.wait(for:)`, without a connection to watch.
    let promise = PostgresConnection.defaultEventLoopGroup.any().makePromise(of: T.self)
    promise.completeWithTask(work)
    return try promise.futureResult.wait()
}

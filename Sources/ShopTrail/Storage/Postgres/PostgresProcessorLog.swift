import Foundation
import PostgresNIO
import Synchronization

/// `ProcessorLog` on PostgreSQL, for several instances sharing one database.
///
/// Each shop's log is processed by the one instance holding its lease (`PostgresShopLeases`). The log
/// takes the leases of its configured shops, renews them whenever the processor calls it and a third
/// of the time-to-live has passed (the processor calls at least every second), and takes over the
/// shops of a dead instance once their leases run out. Every processing transaction is fenced: a
/// holder that lost a shop gets `ShopLeaseLost` and commits nothing. The cursor and the crash-only run
/// record are per shop; a shop taken over from an instance that did not stop cleanly is handled one
/// event at a time for a while, and the event that instance was attempting alone is set aside.
public final class PostgresProcessorLog: ProcessorLog {
    /// A chunk holds only its shop's lease and the rows it touches (ingest never waits for it), while each of
    /// its queries is a round trip: long chunks spread the per-chunk lease check, log read and position update
    /// over many events. Bounded so that a lease holder commits well within its lease.
    public var chunkBudget: Duration { .milliseconds(250) }
    /// The cursor's and the run record's name (the SQLite engine's single cursor has the same name).
    static let positionName = "storefront"
    /// Events handled one at a time after taking over a shop from an instance that did not stop cleanly.
    static let carefulEvents = 500

    let database: PostgresDatabase
    /// The shops this instance may process.
    public let shops: [String]
    /// This instance's name on its leases.
    public let instance: String
    public let leaseTTL: Duration
    private let leases: PostgresShopLeases

    private struct State {
        var held: [String: ShopLease] = [:]
        var renewedAt: ContinuousClock.Instant?
        /// Round-robin start among the held shops, so one busy shop does not starve the others.
        var next = 0
        /// Shops taken over after an unclean stop: events left to handle one at a time.
        var careful: [String: Int] = [:]
        /// The shop of the event last committed as being attempted alone.
        var attemptingShop: String?
        /// Quarantine reason for takeovers (the one `beginRun` was given).
        var reason = "the process stopped twice while handling this event"
    }

    private let state = Mutex(State())

    /// `leaseTTL`: how long a shop stays with an instance that stopped renewing (a dead one) before another takes it.
    public init(database: PostgresDatabase, shops: [String], instance: String = UUID().uuidString, leaseTTL: Duration = .seconds(10)) {
        self.database = database
        self.shops = Array(Set(shops)).sorted()
        self.instance = instance
        self.leaseTTL = leaseTTL
        self.leases = PostgresShopLeases(database: database)
    }

    /// The shops this instance holds right now (as it last knew).
    public var heldShops: [String] { state.withLock { $0.held.keys.sorted() } }

    // MARK: - Leases

    /// Renews the held leases and tries to take the others, when a third of the TTL has passed since the
    /// last renewal (or `force`). Returns what was found on the shops taken just now.
    @discardableResult
    private func maintainLeases(force: Bool = false, carefulAfterUnclean: Bool = true) async throws -> [(shop: String, unclean: Bool, quarantined: Int64?)] {
        let due = state.withLock { s in s.renewedAt.map { ContinuousClock.now - $0 >= leaseTTL / 3 } ?? true }
        guard due || force else { return [] }
        let started = ContinuousClock.now
        var taken: [(shop: String, unclean: Bool, quarantined: Int64?)] = []
        // Balancing: each live instance holds at most its share of the shops (rounded up). Held shops are renewed
        // first; free ones are taken up to the share; an instance over its share hands the excess over cleanly.
        let live = max(1, try await leases.heartbeat(owner: instance, ttl: leaseTTL))
        let share = (shops.count + live - 1) / live
        let heldBefore = state.withLock { $0.held }
        for shop in shops where heldBefore[shop] != nil {
            guard let lease = try await leases.acquire(shop: shop, owner: instance, ttl: leaseTTL) else {
                _ = state.withLock { $0.held.removeValue(forKey: shop) }
                continue
            }
            if let previous = heldBefore[shop], lease.fence <= previous.fence + 1 {
                // Ours all along (the same fence, or the next one when it lapsed and nobody else took it).
                state.withLock { $0.held[shop] = lease }
            } else {
                try await take(lease, carefulAfterUnclean: carefulAfterUnclean, into: &taken)
            }
        }
        for shop in shops where heldBefore[shop] == nil {
            guard state.withLock({ $0.held.count }) < share else { break }
            guard let lease = try await leases.acquire(shop: shop, owner: instance, ttl: leaseTTL) else { continue }
            try await take(lease, carefulAfterUnclean: carefulAfterUnclean, into: &taken)
        }
        // Over the share: hand over shops not being handled carefully (those finish here first).
        let excess = state.withLock { s -> [ShopLease] in
            let spare = s.held.values.filter { (s.careful[$0.shop] ?? 0) == 0 && s.attemptingShop != $0.shop }.sorted { $0.shop > $1.shop }
            return Array(spare.prefix(max(0, s.held.count - share)))
        }
        for lease in excess {
            _ = state.withLock { $0.held.removeValue(forKey: lease.shop) }
            do { try await handOver(lease) } catch is ShopLeaseLost {}
        }
        state.withLock { $0.renewedAt = started }
        return taken
    }

    /// Hands a shop over to another instance while this one keeps running (balancing): the shop's run stopped
    /// cleanly and its lease released, in one fenced transaction, so the taker starts normally.
    private func handOver(_ lease: ShopLease) async throws {
        try await leases.fenced(lease) { connection in
            try connection.rows(Self.cleanStopQuery(lease))
            try connection.rows(PostgresShopLeases.releaseQuery(lease))
        }
    }

    /// Marks the shop's run stopped cleanly, nothing attempted, if `lease` is still the shop's lease.
    static func cleanStopQuery(_ lease: ShopLease) -> PostgresQuery {
        """
        UPDATE processor_run SET running = false, attempting = NULL WHERE shop = \(lease.shop) AND name = \(positionName)
        AND EXISTS (SELECT 1 FROM processor_leases WHERE shop = \(lease.shop) AND owner = \(lease.owner) AND fence = \(lease.fence))
        """
    }

    /// Records a lease just taken from another instance (or a lapsed one of ours that another took meanwhile).
    private func take(_ lease: ShopLease, carefulAfterUnclean: Bool, into taken: inout [(shop: String, unclean: Bool, quarantined: Int64?)]) async throws {
        let found = try await begin(lease)
        state.withLock { s in
            s.held[lease.shop] = lease
            if found.unclean && carefulAfterUnclean { s.careful[lease.shop] = Self.carefulEvents }
        }
        taken.append((lease.shop, found.unclean, found.quarantined))
    }

    /// Starts this run on a shop just taken: whether the last holder stopped uncleanly, and the event it
    /// died on while attempting it alone (set aside).
    private func begin(_ lease: ShopLease) async throws -> (unclean: Bool, quarantined: Int64?) {
        let reason = state.withLock { $0.reason }
        let now = Self.wallClock()
        return try await leases.fenced(lease) { connection -> (unclean: Bool, quarantined: Int64?) in
            let row = try connection.rows("""
                SELECT running, attempting FROM processor_run WHERE shop = \(lease.shop) AND name = \(Self.positionName) FOR UPDATE
                """).first
            let (running, attempting) = try row?.decode((Bool, Int64?).self) ?? (false, nil)
            try connection.rows("""
                INSERT INTO processor_run (shop, name, running, attempting, started_at) VALUES (\(lease.shop), \(Self.positionName), true, NULL, \(now))
                ON CONFLICT (shop, name) DO UPDATE SET running = true, attempting = NULL, started_at = excluded.started_at
                """)
            guard running else { return (false, nil) }
            guard let poison = attempting, poison > (try Self.position(connection, shop: lease.shop)) else { return (true, nil) }
            try Self.setAside(connection, shop: lease.shop, position: poison, reason: reason, at: now)
            return (true, poison)
        }
    }

    private static func wallClock() -> EpochMillis { EpochMillis(Date().timeIntervalSince1970 * 1000) }

    /// Runs `body` in a transaction fenced by this instance's lease on `shop`; a lost lease is dropped
    /// (the shop is no longer processed here) and reported as `ShopLeaseLost`.
    private func fenced<T: Sendable>(_ shop: String, _ body: @escaping @Sendable (PostgresBlockingConnection, PostgresProcessorState) throws -> T) async throws -> T {
        guard let lease = state.withLock({ $0.held[shop] }) else { throw ShopLeaseLost(shop: shop, fence: 0) }
        do {
            let (result, enqueued) = try await leases.fenced(lease) { connection -> (T, Bool) in
                let state = PostgresProcessorState(connection)
                let result = try body(connection, state)
                return (result, state.didEnqueue)
            }
            if enqueued { database.outboxFilled.signal() }
            return result
        } catch let error as ShopLeaseLost {
            state.withLock { s in
                if s.held[shop]?.fence == lease.fence { s.held.removeValue(forKey: shop) }
            }
            throw error
        }
    }

    /// The held shops with unread events, in round-robin order.
    private func shopsWithWork() async throws -> [String] {
        let (held, start) = state.withLock { s -> ([String], Int) in
            defer { s.next &+= 1 }
            return (s.held.keys.sorted(), s.next)
        }
        guard !held.isEmpty else { return [] }
        let pending = Set(try await database.rows("""
            SELECT s FROM unnest(\(held)::text[]) AS s WHERE EXISTS (SELECT 1 FROM events e WHERE e.shop = s AND e.position >
                COALESCE((SELECT p.position FROM processor_position p WHERE p.shop = s AND p.name = \(Self.positionName)), 0))
            """).map { try $0.decode(String.self) })
        let rotated = (0..<held.count).map { held[(start + $0) % held.count] }
        return rotated.filter(pending.contains)
    }

    // MARK: - Cursor and run record

    static func position(_ connection: PostgresBlockingConnection, shop: String) throws -> Int64 {
        try connection.column("SELECT position FROM processor_position WHERE shop = \(shop) AND name = \(positionName)", as: Int64.self).first ?? 0
    }

    static func setPosition(_ connection: PostgresBlockingConnection, shop: String, _ position: Int64) throws {
        try connection.rows("""
            INSERT INTO processor_position (shop, name, position) VALUES (\(shop), \(positionName), \(position))
            ON CONFLICT (shop, name) DO UPDATE SET position = excluded.position
            """)
    }

    static func setAttempting(_ connection: PostgresBlockingConnection, shop: String, _ position: Int64?) throws {
        try connection.rows("UPDATE processor_run SET attempting = \(position) WHERE shop = \(shop) AND name = \(positionName)")
    }

    static func quarantine(_ connection: PostgresBlockingConnection, position: Int64, reason: String, at: EpochMillis) throws {
        let event = try connection.rows("SELECT shop, event_id, name FROM events WHERE position = \(position)").first
        let (shop, eventId, name) = try event?.decode((String, String, String).self) ?? ("", "", "")
        try connection.rows("""
            INSERT INTO processor_quarantine (position, shop, event_id, name, reason, at) VALUES (\(position), \(shop), \(eventId), \(name), \(String(reason.prefix(500))), \(at))
            ON CONFLICT (position) DO UPDATE SET shop = excluded.shop, event_id = excluded.event_id, name = excluded.name, reason = excluded.reason, at = excluded.at
            """)
    }

    private static func setAside(_ connection: PostgresBlockingConnection, shop: String, position: Int64, reason: String, at now: EpochMillis) throws {
        try quarantine(connection, position: position, reason: reason, at: now)
        try setPosition(connection, shop: shop, position)
        try setAttempting(connection, shop: shop, nil)
    }

    private static func events(_ connection: PostgresBlockingConnection, shop: String, limit: Int) throws -> [LoggedEvent] {
        let cursor = try position(connection, shop: shop)
        return try connection.rows("""
            SELECT \(unescaped: PostgresEventStore.eventColumns) FROM events
            WHERE shop = \(shop) AND position > \(cursor) ORDER BY position LIMIT \(Int64(limit))
            """).map(PostgresEventStore.loggedEvent)
    }

    // MARK: - ProcessorLog

    public func beginRun(at now: EpochMillis, reason: String) async throws -> (unclean: Bool, quarantined: Int64?) {
        state.withLock { $0.reason = reason }
        // The processor goes careful itself after an unclean start; shops taken later are made careful here.
        let taken = try await maintainLeases(force: true, carefulAfterUnclean: false)
        return (taken.contains { $0.unclean }, taken.compactMap(\.quarantined).first)
    }

    public func endRun() throws {
        let held = state.withLock { s -> [ShopLease] in
            defer { s.held.removeAll() }
            return Array(s.held.values)
        }
        guard !held.isEmpty else { return }
        // Synchronous, after cancellation, often on a thread of Swift's cooperative pool: waiting there for
        // async work would need another such thread (two stopping at once on two cores deadlock). So one
        // connection of its own, driven by event-loop futures, which run on NIO's threads only.
        let logger = database.logger
        let connection = try PostgresConnection.connect(
            on: PostgresConnection.defaultEventLoopGroup.any(), configuration: try database.connectionConfiguration(), id: 2, logger: logger
        ).wait()
        defer { try? connection.close().wait() }
        for lease in held {
            // A clean stop on the shops still ours, and the shop handed over at once.
            let statements: [PostgresQuery] = ["BEGIN", Self.cleanStopQuery(lease), PostgresShopLeases.releaseQuery(lease), "COMMIT"]
            do {
                for statement in statements { _ = try connection.query(statement, logger: logger).wait() }
            } catch {
                _ = try? connection.query("ROLLBACK", logger: logger).wait()
                throw error
            }
        }
        // No longer counted among the live instances: the others' shares grow at their next renewal.
        _ = try? connection.query("DELETE FROM processor_instances WHERE instance = \(instance)", logger: logger).wait()
    }

    public func nextAlone() async throws -> LoggedEvent? {
        try await maintainLeases()
        for shop in try await shopsWithWork() {
            let event = try await fenced(shop) { connection, _ -> LoggedEvent? in
                guard let event = try Self.events(connection, shop: shop, limit: 1).first else { return nil }
                try Self.setAttempting(connection, shop: shop, event.position)
                return event
            }
            if let event {
                state.withLock { $0.attemptingShop = shop }
                return event
            }
        }
        return nil
    }

    public func handleAlone(_ event: LoggedEvent, _ body: @escaping @Sendable (any ProcessorState) throws -> Void) async throws {
        let shop = event.event.shop
        try await fenced(shop) { connection, state in
            try body(state)
            try Self.setPosition(connection, shop: shop, event.position)
            try Self.setAttempting(connection, shop: shop, nil)
        }
    }

    public func clearAttempt() async throws {
        guard let shop = state.withLock({ $0.attemptingShop }) else { return }
        try await fenced(shop) { connection, _ in try Self.setAttempting(connection, shop: shop, nil) }
    }

    public func setAside(position: Int64, reason: String, at now: EpochMillis) async throws {
        let found = try await database.rows("SELECT shop FROM events WHERE position = \(position)").first
        guard let shop = try found?.decode(String.self) ?? state.withLock({ $0.attemptingShop }) else { return }
        try await fenced(shop) { connection, _ in
            try Self.quarantine(connection, position: position, reason: reason, at: now)
            // Never backwards: with one cursor per shop an older position would hand events out twice.
            let cursor = try Self.position(connection, shop: shop)
            try Self.setPosition(connection, shop: shop, max(position, cursor))
            try Self.setAttempting(connection, shop: shop, nil)
        }
    }

    public func handleChunk(limit: Int, _ body: @escaping @Sendable ([LoggedEvent], any ProcessorState) throws -> Int) async throws -> Int {
        try await maintainLeases()
        for shop in try await shopsWithWork() {
            if state.withLock({ ($0.careful[shop] ?? 0) > 0 }) {
                // Taken over after an unclean stop: one event at a time, committed as attempted first.
                guard let event = try await nextAlone(in: shop) else { continue }
                try await fenced(shop) { connection, state in
                    guard try body([event], state) > 0 else { return }
                    try Self.setPosition(connection, shop: shop, event.position)
                    try Self.setAttempting(connection, shop: shop, nil)
                }
                state.withLock { s in s.careful[shop] = max(0, (s.careful[shop] ?? 1) - 1) }
                return 1
            }
            let done = try await fenced(shop) { connection, state -> Int in
                let events = try Self.events(connection, shop: shop, limit: limit)
                guard !events.isEmpty else { return 0 }
                try state.prefetchVisitors(shop: shop, ids: Set(events.compactMap(\.event.visitorId)))
                let done = try body(events, state)
                guard done > 0 else { return 0 }
                try Self.setPosition(connection, shop: shop, events[min(done, events.count) - 1].position)
                return done
            }
            if done > 0 { return done }
        }
        return 0
    }

    /// The shop's next unread event, committed as being attempted alone.
    private func nextAlone(in shop: String) async throws -> LoggedEvent? {
        let event = try await fenced(shop) { connection, _ -> LoggedEvent? in
            guard let event = try Self.events(connection, shop: shop, limit: 1).first else { return nil }
            try Self.setAttempting(connection, shop: shop, event.position)
            return event
        }
        if event != nil { state.withLock { $0.attemptingShop = shop } }
        return event
    }

    public func quarantined(shop: String?, limit: Int) async throws -> [QuarantinedEvent] {
        try await database.rows("""
            SELECT position, shop, event_id, name, reason, at FROM processor_quarantine
            WHERE cardinality(\(PostgresOutbox.shops(shop))::text[]) = 0 OR shop = ANY(\(PostgresOutbox.shops(shop)))
            ORDER BY position LIMIT \(Int64(limit))
            """).map { row in
            let (position, shop, eventId, name, reason, at) = try row.decode((Int64, String, String, String, String, Int64).self)
            return QuarantinedEvent(position: position, shop: shop, eventId: eventId, name: name, reason: reason, at: at)
        }
    }

    public func quarantineCount(shop: String?) async throws -> Int {
        let rows = try await database.rows("""
            SELECT COUNT(*) FROM processor_quarantine WHERE cardinality(\(PostgresOutbox.shops(shop))::text[]) = 0 OR shop = ANY(\(PostgresOutbox.shops(shop)))
            """)
        return Int(try rows.first?.decode(Int64.self) ?? 0)
    }

    public func retry(position: Int64, _ body: @escaping @Sendable (LoggedEvent, any ProcessorState) throws -> Void) async throws {
        let enqueued = try await database.blockingTransaction { connection -> Bool in
            let state = PostgresProcessorState(connection)
            if let event = try connection.rows("SELECT \(unescaped: PostgresEventStore.eventColumns) FROM events WHERE position = \(position)")
                .first.map(PostgresEventStore.loggedEvent) {
                // Any instance may retry (a command): the lease row locked FOR UPDATE waits for the holder's
                // transaction and holds its next one back, as SQLite's write lock does.
                try connection.rows("SELECT 1 FROM processor_leases WHERE shop = \(event.event.shop) FOR UPDATE")
                try body(event, state)
            }
            try connection.rows("DELETE FROM processor_quarantine WHERE position = \(position)")
            return state.didEnqueue
        }
        if enqueued { database.outboxFilled.signal() }
    }

    public func quarantine(position: Int64, reason: String, at now: EpochMillis) async throws {
        try await database.blockingTransaction { connection in try Self.quarantine(connection, position: position, reason: reason, at: now) }
    }

    public func purgeExpiredStep(now: EpochMillis, retention: RetentionConfig) async throws -> Int {
        // No single write lock here: each bounded delete is a short statement of its own.
        let cutoff = now - EpochMillis(retention.days) * 86_400_000
        let linkedCutoff = now - EpochMillis(retention.linkedVisitorDays) * 86_400_000
        let limit = Int64(PostgresRetention.rowsPerStep)
        let statements: [PostgresQuery] = [
            // The oldest processed events of each shop (read past its cursor): the processor must see every event once.
            """
            DELETE FROM events WHERE position IN (SELECT position FROM (
                SELECT e.position, e.received_at FROM events e JOIN processor_position p ON p.shop = e.shop AND p.name = \(Self.positionName)
                WHERE e.position <= p.position ORDER BY e.position LIMIT \(limit)) AS oldest WHERE received_at < \(cutoff))
            """,
            """
            DELETE FROM abandonment_timers WHERE (shop, kind, subject) IN
            (SELECT shop, kind, subject FROM abandonment_timers WHERE state <> 'armed' AND closed_at < \(cutoff) LIMIT \(limit))
            """,
            """
            DELETE FROM carts WHERE (shop, cart_token) IN (SELECT shop, cart_token FROM carts WHERE COALESCE(sent_time, 0) < \(cutoff)
                AND NOT EXISTS (SELECT 1 FROM visitors v WHERE v.shop = carts.shop AND v.visitor_id = carts.visitor_id) LIMIT \(limit))
            """,
            // Only the 30-minute de-duplication reads product views.
            """
            DELETE FROM product_views WHERE (shop, visitor_id, product_key) IN
            (SELECT shop, visitor_id, product_key FROM product_views WHERE time < \(now - 86_400_000) LIMIT \(limit))
            """,
            """
            DELETE FROM security_counts WHERE (shop, kind, detail, day) IN
            (SELECT shop, kind, detail, day FROM security_counts WHERE day < \(cutoff / 86_400_000) LIMIT \(limit))
            """,
            // Anonymous visitors after `days`, linked ones after `linked_visitor_days`; their carts lose their owner.
            """
            DELETE FROM visitors WHERE (shop, visitor_id) IN (SELECT shop, visitor_id FROM visitors
                WHERE (customer_id IS NULL AND last_seen < \(cutoff)) OR last_seen < \(linkedCutoff) LIMIT \(limit))
            """,
            """
            DELETE FROM visitor_links WHERE id IN (SELECT l.id FROM visitor_links l WHERE l.linked_at < \(linkedCutoff)
                AND NOT EXISTS (SELECT 1 FROM visitors v WHERE v.shop = l.shop AND v.visitor_id = l.visitor_id) LIMIT \(limit))
            """,
            """
            DELETE FROM event_contexts WHERE id IN (SELECT id FROM event_contexts c
                WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.context_id = c.id) LIMIT \(limit))
            """,
        ]
        var deleted = 0
        for var statement in statements {
            statement.sql += " RETURNING 1"
            deleted += try await database.rows(statement).count
        }
        return deleted
    }

    public func purgeHeld(cutoffs: [(shop: String, before: EpochMillis)]) async throws -> Int {
        try await database.blockingTransaction { connection -> Int in
            var total = 0
            for cutoff in cutoffs {
                let position = try Self.position(connection, shop: cutoff.shop)
                total += try PostgresEventStore.deleteEvents(connection, where: """
                    shop = \(cutoff.shop) AND position <= \(position) AND time < \(cutoff.before) AND visitor_id IS NOT NULL
                    AND NOT EXISTS (SELECT 1 FROM visitors v WHERE v.shop = events.shop AND v.visitor_id = events.visitor_id AND v.customer_id IS NOT NULL)
                    """)
            }
            return total
        }
    }

    public func waitForEvents(timeout: Duration) async {
        // Renewing here too: an idle processor calls this at least every second.
        let taken = (try? await maintainLeases()) ?? []
        guard taken.isEmpty else { return }
        await database.logAppended.wait(timeout: min(timeout, leaseTTL / 3))
    }

    public func isTransient(_ error: any Error) -> Bool {
        PostgresDatabase.isTransient(error)
    }
}

/// Bounds of the retention deletes on PostgreSQL.
enum PostgresRetention {
    static let rowsPerStep = 2_000
}

extension PostgresDatabase {
    /// A storage error that could pass: the connection (or server) went away, a serialization failure or
    /// deadlock (40001, 40P01), a server out of resources or shutting down, a lease lost to another instance,
    /// a connection closed under a query (`PostgresConnectionClosed`), a server not reached (`StorageUnavailable`).
    static func isTransient(_ error: any Error) -> Bool {
        if error is ShopLeaseLost || error is CancellationError || error is PostgresConnectionClosed || error is StorageUnavailable { return true }
        if let error = error as? PSQLError {
            switch error.code {
            case .connectionError, .serverClosedConnection, .clientClosedConnection, .uncleanShutdown, .poolClosed, .queryCancelled:
                return true
            case .server:
                let state = error.serverInfo?[.sqlState] ?? ""
                return ["40001", "40P01", "55P03", "57014"].contains(state) || state.hasPrefix("08") || state.hasPrefix("53") || state.hasPrefix("57P")
            default:
                return false
            }
        }
        // The pool's own errors (its type lives in a module of postgres-nio not imported here): no connection could be had.
        return String(describing: type(of: error)) == "ConnectionPoolError"
    }
}

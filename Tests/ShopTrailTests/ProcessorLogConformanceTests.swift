import Foundation
import Synchronization
import Testing
@testable import ShopTrail

/// The processor log's contract on every engine (chunks commit with the cursor, the crash-only run
/// record and quarantine, retention), and on PostgreSQL that several instances share one database
/// with each shop processed by one instance at a time.
@Suite struct ProcessorLogConformanceTests {
    static let shop = "a-shop.myshopify.com"
    typealias State = ProcessorStateConformanceTests

    static func events(_ ids: [String], shop: String = shop, visitor: String? = "v1", time: EpochMillis = 1_000, received: EpochMillis = 2_000) -> [NewEvent] {
        ids.map { State.event($0, shop: shop, visitor: visitor, time: time, received: received) }
    }

    struct Refused: Error {}

    @Test(arguments: StorageEngineUnderTest.allCases)
    func aChunkMovesTheCursorWithItsEffectsAndAThrowingOneCommitsNothing(engine: StorageEngineUnderTest) async throws {
        try await engine.withProcessorLog(shops: [Self.shop]) { storage async throws in
            let log = storage.log
            #expect(try await log.beginRun(at: 1, reason: "test") == (false, nil))
            #expect(try await log.handleChunk(limit: 10) { _, _ in Issue.record("no events yet"); return 0 } == 0)
            _ = try await storage.events.append(Self.events(["e1", "e2", "e3", "e4", "e5"]))

            // The body handles 3 of the 5 events it is given: their effects and the cursor after e3 commit.
            let seen = LockedValue<[String]>([])
            #expect(try await log.handleChunk(limit: 10) { events, state in
                seen.withLock { $0 = events.map(\.event.eventId) }
                for event in events.prefix(3) { _ = try state.markOnce(shop: Self.shop, key: event.event.eventId) }
                return 3
            } == 3)
            #expect(seen.withLock { $0 } == ["e1", "e2", "e3", "e4", "e5"])
            #expect(try await storage.state.read { try $0.isMarked(shop: Self.shop, key: "e3") })

            // A body that throws commits nothing: no mark, no operation, the cursor where it was.
            await #expect(throws: Refused.self) {
                _ = try await log.handleChunk(limit: 10) { events, state in
                    _ = try state.markOnce(shop: Self.shop, key: "e4")
                    try state.enqueue([State.operation("op-e4", user: "c:1", payload: "{}")])
                    throw Refused()
                }
            }
            #expect(try await !storage.state.read { try $0.isMarked(shop: Self.shop, key: "e4") })
            #expect(try await storage.outbox.status(shop: Self.shop, now: 0).pending == 0)
            // Handling none leaves the cursor where it was.
            #expect(try await log.handleChunk(limit: 10) { _, _ in 0 } == 0)

            let rest = LockedValue<[String]>([])
            #expect(try await log.handleChunk(limit: 10) { events, state in
                rest.withLock { $0 = events.map(\.event.eventId) }
                try state.enqueue([State.operation("op-e4", user: "c:1", payload: "{}")])
                return events.count
            } == 2)
            #expect(rest.withLock { $0 } == ["e4", "e5"])
            #expect(try await storage.outbox.status(shop: Self.shop, now: 0).pending == 1)
            #expect(try await log.handleChunk(limit: 10) { _, _ in 1 } == 0)
            try log.endRun()
        }
    }

    @Test(arguments: StorageEngineUnderTest.allCases)
    func anUncleanStopSetsAsideTheEventAttemptedAlone(engine: StorageEngineUnderTest) async throws {
        try await engine.withProcessorLog(shops: [Self.shop]) { storage async throws in
            _ = try await storage.events.append(Self.events(["e1", "e2", "e3", "e4", "e5"]))
            let positions = try await storage.events.events(after: 0, limit: 10).map(\.position)
            let first = storage.makeLog()
            #expect(try await first.beginRun(at: 1, reason: "died twice") == (false, nil))
            // The first event is committed as attempted alone, and the process dies (no endRun).
            let attempted = try await first.nextAlone()
            #expect(attempted?.event.eventId == "e1")

            let second = storage.makeLog()
            let begun = try await second.beginRun(at: 50, reason: "died twice")
            #expect(begun.unclean)
            #expect(begun.quarantined == positions[0])
            #expect(try await second.quarantined(shop: Self.shop, limit: 10).map(\.eventId) == ["e1"])
            #expect(try await second.quarantined(shop: Self.shop, limit: 10).first?.reason == "died twice")
            #expect(try await second.quarantineCount(shop: Self.shop) == 1)
            #expect(try await second.quarantineCount(shop: "elsewhere.myshopify.com") == 0)
            #expect(try await second.quarantineCount(shop: nil) == 1)

            // Handled alone: e2 with its effects, then e3 set aside, then e4 attempted and the attempt cleared.
            let e2 = try #require(try await second.nextAlone())
            #expect(e2.event.eventId == "e2")
            try await second.handleAlone(e2) { state in _ = try state.markOnce(shop: Self.shop, key: "e2") }
            #expect(try await storage.state.read { try $0.isMarked(shop: Self.shop, key: "e2") })
            let e3 = try #require(try await second.nextAlone())
            try await second.setAside(position: e3.position, reason: "processing failed", at: 60)
            #expect(try await second.quarantined(shop: nil, limit: 10).map(\.eventId) == ["e1", "e3"])
            let e4 = try #require(try await second.nextAlone())
            #expect(e4.event.eventId == "e4")
            try await second.clearAttempt()
            // A clean stop: the next run starts clean, and nothing attempted is set aside.
            try second.endRun()
            let third = storage.makeLog()
            #expect(try await third.beginRun(at: 70, reason: "died twice") == (false, nil))
            let rest = LockedValue<[String]>([])
            #expect(try await third.handleChunk(limit: 10) { events, _ in rest.withLock { $0 = events.map(\.event.eventId) }; return events.count } == 2)
            #expect(rest.withLock { $0 } == ["e4", "e5"])
            // An unclean stop with nothing attempted alone is reported without a quarantine.
            let fourth = storage.makeLog()
            #expect(try await fourth.beginRun(at: 80, reason: "died twice") == (true, nil))
            try fourth.endRun()
        }
    }

    @Test(arguments: StorageEngineUnderTest.allCases)
    func aQuarantinedEventIsRetried(engine: StorageEngineUnderTest) async throws {
        try await engine.withProcessorLog(shops: [Self.shop]) { storage async throws in
            let log = storage.log
            _ = try await log.beginRun(at: 1, reason: "test")
            _ = try await storage.events.append(Self.events(["e1", "e2"]))
            let e1 = try #require(try await log.nextAlone())
            try await log.setAside(position: e1.position, reason: "processing failed", at: 10)
            await #expect(throws: Refused.self) {
                try await log.retry(position: e1.position) { _, state in
                    _ = try state.markOnce(shop: Self.shop, key: "retried")
                    throw Refused()
                }
            }
            #expect(try await !storage.state.read { try $0.isMarked(shop: Self.shop, key: "retried") })
            try await log.quarantine(position: e1.position, reason: "retry failed", at: 20)
            #expect(try await log.quarantined(shop: nil, limit: 10).map { "\($0.eventId) \($0.reason) \($0.at)" } == ["e1 retry failed 20"])
            let handled = LockedValue<String?>(nil)
            try await log.retry(position: e1.position) { event, state in
                handled.withLock { $0 = event.event.eventId }
                _ = try state.markOnce(shop: Self.shop, key: "retried")
            }
            #expect(handled.withLock { $0 } == "e1")
            #expect(try await storage.state.read { try $0.isMarked(shop: Self.shop, key: "retried") })
            #expect(try await log.quarantineCount(shop: nil) == 0)
            // The cursor stayed past e1: the next chunk is e2.
            #expect(try await log.handleChunk(limit: 10) { events, _ in events.map(\.event.eventId) == ["e2"] ? 1 : 0 } == 1)
            try log.endRun()
        }
    }

    @Test(arguments: StorageEngineUnderTest.allCases)
    func retentionDeletesOnlyWhatWasProcessedAndExpired(engine: StorageEngineUnderTest) async throws {
        let day: EpochMillis = 86_400_000
        let now = 200 * day
        try await engine.withProcessorLog(shops: [Self.shop]) { storage async throws in
            let log = storage.log
            _ = try await log.beginRun(at: now, reason: "test")
            _ = try await storage.events.append(Self.events(["old1", "old2"], visitor: "anon", time: 10 * day, received: 10 * day))
            _ = try await storage.events.append(Self.events(["old3"], visitor: "known", time: 10 * day, received: 10 * day))
            _ = try await storage.events.append(Self.events(["new1"], visitor: "anon", time: now, received: now))
            _ = try await storage.events.append(Self.events(["old4"], visitor: "anon", time: 10 * day, received: 10 * day))
            try await storage.state.write { s in
                var known = Visitor(shop: Self.shop, id: "known", firstSeen: now)
                known.lastSeen = now
                known.customerId = "c1"
                try s.save(known)
                var stale = Visitor(shop: Self.shop, id: "stale", firstSeen: 10 * day)
                stale.lastSeen = 10 * day
                try s.save(stale)
                var cart = CartSnapshot(shop: Self.shop, token: "old-cart")
                cart.visitorId = "gone"
                cart.sentTime = 10 * day
                try s.save(cart)
                _ = try s.swapProductView(shop: Self.shop, visitorId: "known", productKey: "p", time: now - 2 * day)
            }
            // Everything but old4 is processed.
            #expect(try await log.handleChunk(limit: 4) { events, _ in events.count } == 4)

            // Hold mode first: read events of visitors never identified, older than the cutoff.
            #expect(try await log.purgeHeld(cutoffs: [(shop: Self.shop, before: 20 * day)]) == 2)
            #expect(try await storage.events.events(after: 0, limit: 10).map(\.event.eventId) == ["old3", "new1", "old4"])

            var total = 0
            while true {
                let deleted = try await log.purgeExpiredStep(now: now, retention: RetentionConfig())
                if deleted == 0 { break }
                total += deleted
            }
            #expect(total >= 4)  // old3, the stale visitor, the ownerless cart, the old product view
            #expect(try await storage.events.events(after: 0, limit: 10).map(\.event.eventId) == ["new1", "old4"])
            #expect(try await storage.state.read { try $0.visitor(shop: Self.shop, id: "stale") } == nil)
            #expect(try await storage.state.read { try $0.visitor(shop: Self.shop, id: "known") } != nil)
            #expect(try await storage.state.read { try $0.cart(shop: Self.shop, token: "old-cart") } == nil)
            #expect(try await storage.state.write { try $0.swapProductView(shop: Self.shop, visitorId: "known", productKey: "p", time: now) } == nil)
            try log.endRun()
        }
    }

    @Test(arguments: StorageEngineUnderTest.allCases)
    func storageErrorsThatPassAreTransient(engine: StorageEngineUnderTest) async throws {
        try await engine.withProcessorLog(shops: [Self.shop]) { storage async throws in
            #expect(storage.log.isTransient(CancellationError()))
            #expect(!storage.log.isTransient(Refused()))
        }
    }

    // MARK: - Several instances on PostgreSQL

    static let shops = ["s1.myshopify.com", "s2.myshopify.com", "s3.myshopify.com"]

    @Test func twoInstancesShareThreeShopsAndTakeOverADeadOnesShops() async throws {
        try await StorageEngineUnderTest.withFreshDatabase { databaseA async throws in
            let databaseB = try PostgresDatabase(url: databaseA.url, maximumConnections: 4)
            try await databaseB.withRunning { databaseB in
                let store = PostgresEventStore(database: databaseA)
                let a = PostgresProcessorLog(database: databaseA, shops: Self.shops, instance: "A", leaseTTL: .seconds(10))
                let b = PostgresProcessorLog(database: databaseB, shops: Self.shops, instance: "B", leaseTTL: .seconds(10))
                _ = try await a.beginRun(at: 1, reason: "test")
                _ = try await b.beginRun(at: 1, reason: "test")
                // Every shop is held by one of them (which one, a loaded machine decides).
                #expect(Set(a.heldShops + b.heldShops) == Set(Self.shops))

                let handled = LockedValue<[String: String]>([:])  // event id -> instance, after commit
                let duplicates = LockedValue<[String]>([])
                let owners = LockedValue<[String: Set<String>]>([:])
                @Sendable func run(_ log: PostgresProcessorLog, until: @escaping @Sendable () -> Bool) async {
                    let deadline = ContinuousClock.now + .seconds(120)
                    while !until(), ContinuousClock.now < deadline {
                        do {
                            let chunk = LockedValue<[LoggedEvent]>([])
                            let done = try await log.handleChunk(limit: 7) { events, state in
                                for event in events where !(try state.markOnce(shop: event.event.shop, key: "handled:" + event.event.eventId)) {
                                    duplicates.withLock { $0.append(event.event.eventId) }
                                }
                                chunk.withLock { $0 = events }
                                return events.count
                            }
                            for event in chunk.withLock({ $0 }).prefix(done) {
                                handled.withLock { $0[event.event.eventId] = log.instance }
                                owners.withLock { _ = $0[event.event.shop, default: []].insert(log.instance) }
                            }
                            if done == 0 { await log.waitForEvents(timeout: .milliseconds(200)) }
                        } catch {
                            if !log.isTransient(error) { Issue.record("\(log.instance): \(error)") }
                            try? await Task.sleep(for: .milliseconds(100))
                        }
                    }
                }

                // Phase 1: both run while events arrive for the three shops.
                let firstIds = (0..<60).map { "p1-\($0)" }
                let countHandled: @Sendable (Set<String>) -> Int = { ids in handled.withLock { $0.keys.filter(ids.contains).count } }
                let firstSet = Set(firstIds)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { await run(a) { countHandled(firstSet) == firstSet.count } }
                    group.addTask { await run(b) { countHandled(firstSet) == firstSet.count } }
                    for (i, id) in firstIds.enumerated() {
                        _ = try await store.append(Self.events([id], shop: Self.shops[i % 3]))
                    }
                    try await group.waitForAll()
                }
                #expect(countHandled(firstSet) == firstSet.count)
                #expect(duplicates.withLock { $0 } == [])
                // Balanced: a shop may have moved once from the first instance to the second (never back and forth).
                for (shop, instances) in owners.withLock({ $0 }) { #expect(instances.count <= 2, "\(shop) handled by \(instances)") }

                // Phase 2: A dies (it just stops: no endRun, no renewal). B takes its shops once their leases run out.
                let aShops = a.heldShops
                let secondIds = (0..<30).map { "p2-\($0)" }
                for (i, id) in secondIds.enumerated() { _ = try await store.append(Self.events([id], shop: Self.shops[i % 3])) }
                let secondSet = Set(secondIds)
                await run(b) { countHandled(secondSet) == secondSet.count }
                #expect(countHandled(secondSet) == secondSet.count)
                #expect(Set(b.heldShops) == Set(Self.shops))
                #expect(duplicates.withLock { $0 } == [])
                for id in secondIds { #expect(handled.withLock { $0[id] } == "B") }
                // Taking a shop from an instance that did not stop cleanly is an unclean start for that shop.
                _ = aShops
                try b.endRun()
            }
        }
    }

    /// Shops are balanced: a second instance gets its share (rounded up) from the first, which hands the excess
    /// over cleanly (the taker starts normally, not carefully); when one stops, the other takes every shop again.
    @Test func aSecondInstanceGetsItsShareOfTheShops() async throws {
        try await StorageEngineUnderTest.withFreshDatabase { database async throws in
            let shops = Self.shops + ["s4.myshopify.com"]
            let a = PostgresProcessorLog(database: database, shops: shops, instance: "A", leaseTTL: .seconds(120))
            _ = try await a.beginRun(at: 1, reason: "test")
            #expect(a.heldShops == shops)
            let b = PostgresProcessorLog(database: database, shops: shops, instance: "B", leaseTTL: .seconds(120))
            #expect(try await b.beginRun(at: 1, reason: "test").unclean == false)
            #expect(b.heldShops == [], "every shop is A's until A renews")
            // A's next renewal (forced here: it comes every third of the TTL) counts two instances and hands two over.
            _ = try await a.beginRun(at: 2, reason: "test")
            #expect(a.heldShops.count == 2)
            let taken = try await b.beginRun(at: 2, reason: "test")
            #expect(taken.unclean == false, "a handed-over shop was stopped cleanly")
            #expect(Set(a.heldShops).isDisjoint(with: b.heldShops))
            #expect(Set(a.heldShops + b.heldShops) == Set(shops))
            // B stops cleanly: A takes every shop at its next renewal.
            try b.endRun()
            _ = try await a.beginRun(at: 3, reason: "test")
            #expect(a.heldShops == shops)
            try a.endRun()
        }
    }

    @Test func aHolderThatLostItsLeaseCommitsNothing() async throws {
        try await StorageEngineUnderTest.withFreshDatabase { database async throws in
            let store = PostgresEventStore(database: database)
            let shop = Self.shops[0]
            let a = PostgresProcessorLog(database: database, shops: [shop], instance: "A", leaseTTL: .seconds(10))
            _ = try await store.append(Self.events(["e1", "e2"], shop: shop))
            _ = try await a.beginRun(at: 1, reason: "test")
            #expect(a.heldShops == [shop])
            let e1 = try #require(try await a.nextAlone())
            let b = PostgresProcessorLog(database: database, shops: [shop], instance: "B", leaseTTL: .seconds(10))
            _ = try await b.beginRun(at: 1, reason: "test")

            // A stalls past its lease; B takes the shop (waiting as a processor would).
            let deadline = ContinuousClock.now + .seconds(180)
            while b.heldShops.isEmpty, ContinuousClock.now < deadline { await b.waitForEvents(timeout: .milliseconds(200)) }
            #expect(b.heldShops == [shop])

            // A wakes up and finishes its event: refused, nothing committed.
            do {
                try await a.handleAlone(e1) { state in _ = try state.markOnce(shop: shop, key: "by-A") }
                Issue.record("a holder that lost its lease committed")
            } catch {
                #expect(error is ShopLeaseLost)
                #expect(a.isTransient(error))
            }
            #expect(a.heldShops == [])
            let marked = try await database.read { try $0.isMarked(shop: shop, key: "by-A") }
            #expect(!marked)

            // B found A's run unclean with e1 attempted alone, so e1 is set aside (a holder that vanishes while
            // handling an event alone may have died on it); B handles e2.
            #expect(try await b.quarantined(shop: shop, limit: 10).map(\.eventId) == ["e1"])
            let seen = LockedValue<[String]>([])
            while seen.withLock({ $0.count }) < 1, ContinuousClock.now < deadline {
                let done = try await b.handleChunk(limit: 10) { events, _ in seen.withLock { $0 += events.map(\.event.eventId) }; return events.count }
                if done == 0 { await b.waitForEvents(timeout: .milliseconds(200)) }
            }
            #expect(seen.withLock { $0 } == ["e2"])
            try b.endRun()
        }
    }

    @Test func appendsOnOneInstanceWakeAnotherAndTheListenerReconnects() async throws {
        try await StorageEngineUnderTest.withFreshDatabase { databaseA async throws in
            let databaseB = try PostgresDatabase(url: databaseA.url, maximumConnections: 2)
            try await databaseB.withRunning { databaseB in
                let store = PostgresEventStore(database: databaseA)
                let outbox = PostgresOutbox(database: databaseA)
                let deadline = ContinuousClock.now + .seconds(180)
                // The listener connects in the background: append until B has heard one.
                var n = 0
                while databaseB.notificationsHeard.withLock({ $0.log }) == 0, ContinuousClock.now < deadline {
                    n += 1
                    _ = try await store.append(Self.events(["wake-\(n)"]))
                    await databaseB.logAppended.wait(timeout: .milliseconds(200))
                }
                #expect(databaseB.notificationsHeard.withLock { $0.log } > 0)
                var m = 0
                while databaseB.notificationsHeard.withLock({ $0.outbox }) == 0, ContinuousClock.now < deadline {
                    m += 1
                    let id = "op-wake-\(m)"
                    try await databaseA.write { try $0.enqueue([State.operation(id, user: "c:1", payload: "{}")]) }
                    await databaseB.outboxFilled.wait(timeout: .milliseconds(200))
                }
                #expect(databaseB.notificationsHeard.withLock { $0.outbox } > 0)

                // The server drops the listeners' connections: they connect again and hear the next appends.
                _ = try await databaseA.rows("""
                    SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()
                    AND (query LIKE 'LISTEN%' OR query LIKE \("%" + PostgresDatabase.listenerPing + "%"))
                    """)
                let heard = databaseB.notificationsHeard.withLock { $0.log }
                let reconnected = ContinuousClock.now + .seconds(180)
                while databaseB.notificationsHeard.withLock({ $0.log }) == heard, ContinuousClock.now < reconnected {
                    n += 1
                    _ = try? await store.append(Self.events(["wake-\(n)"]))
                    await databaseB.logAppended.wait(timeout: .milliseconds(200))
                }
                #expect(databaseB.notificationsHeard.withLock { $0.log } > heard)
            }
        }
    }
}

/// A value shared with `@Sendable` closures (a `Mutex` cannot be captured by an escaping one).
final class LockedValue<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    func withLock<T: Sendable>(_ body: (inout Value) -> T) -> T { mutex.withLock { body(&$0) } }
}

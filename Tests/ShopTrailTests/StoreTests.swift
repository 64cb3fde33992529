import Dispatch
import Foundation
import Synchronization
import Testing
@testable import ShopTrail

@Suite struct StoreTests {
    static func event(_ id: String, shop: String = "a-shop.myshopify.com") -> NewEvent {
        NewEvent(shop: shop, source: .storefront, eventId: id, name: "page_viewed", visitorId: "v_0123456789", sessionId: nil,
                 clientTime: 1, time: 2, receivedAt: 3, context: nil, properties: "{}")
    }

    /// Issue 16: the log has no visitor index; a visitor's events are `visitor_events` plus the log above the cursor.
    @Test func aVisitorsEventsAreFoundBeforeAndAfterTheProcessorRecordsThem() async throws {
        let temp = try TempStore()
        _ = try await temp.store.append([Self.event("a"), Self.event("b"), Self.event("c")])
        _ = try await temp.store.append([Self.event("other", shop: "b-shop.myshopify.com")])
        let pool = temp.store.database.pool
        let shop = "a-shop.myshopify.com", visitor = "v_0123456789"
        func read() async throws -> (recorded: Int, found: [Int64]) {
            try await pool.read { db in
                (try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM visitor_events") ?? -1,
                 try Int64.fetchAll(db, sql: "SELECT position FROM events WHERE position IN (\(SQLiteVisitorEvents.positionsOfOne)) ORDER BY position",
                                    arguments: [shop, visitor, shop, visitor]))
            }
        }
        #expect(try await read() == (0, [1, 2, 3]), "none processed: all found in the log's tail")
        try await pool.write { db in try SQLiteProcessorLog.setPosition(db, 2) }
        #expect(try await read() == (2, [1, 2, 3]), "two recorded as the cursor moved past them, one still in the tail")
        try await pool.write { db in try SQLiteProcessorLog.setPosition(db, 4) }
        #expect(try await read() == (4, [1, 2, 3]), "the other shop's event is recorded under its own shop")
        _ = try await pool.write { db in try SQLiteEventStore.deleteEvents(db, where: "position = ?", arguments: [2]) }
        #expect(try await read() == (3, [1, 3]), "a deleted event's record goes with it")
    }

    @Test func eventsSurviveReopeningTheFile() async throws {
        let temp = try TempStore()
        _ = try await temp.store.append([Self.event("a"), Self.event("b")])
        let reopened = try SQLiteEventStore(path: temp.path)
        #expect(try await reopened.eventCount() == 2)
        #expect(try await reopened.append([Self.event("a")]) == AppendResult(inserted: 0, duplicates: 1))
        let page = try await reopened.events(after: 1, limit: 10)
        #expect(page.map(\.event.eventId) == ["b"])
        #expect(page.first?.event == Self.event("b"))
    }

    @Test func concurrentAppendsShareTransactionsAndAllLand() async throws {
        let temp = try TempStore()
        let results = try await withThrowingTaskGroup(of: AppendResult.self) { group in
            for i in 0..<400 {
                group.addTask { try await temp.store.append([Self.event("c\(i)-1"), Self.event("c\(i)-2")]) }
            }
            return try await group.reduce(into: [AppendResult]()) { $0.append($1) }
        }
        #expect(results.allSatisfy { $0 == AppendResult(inserted: 2, duplicates: 0) })
        #expect(try await temp.store.eventCount() == 800)
        let stats = temp.store.commitStats()
        #expect(stats.batches == 400)
        #expect(stats.transactions <= stats.batches)
    }

    @Test func groupCommitBatchesWaitersBehindASlowCommit() async throws {
        let calls = Mutex<[[Int]]>([])
        let firstCommitMayFinish = DispatchSemaphore(value: 0)
        let committer = GroupCommitter<Int, Int> { items in
            let isFirst = calls.withLock { calls in
                calls.append(items)
                return calls.count == 1
            }
            if isFirst { firstCommitMayFinish.wait() }  // hold the writer until everyone else queued
            return items.map { $0 * 10 }
        }
        let outcomes = try await withThrowingTaskGroup(of: (Int, Int).self) { group in
            group.addTask { (0, try await committer.submit(0)) }
            while calls.withLock({ $0.isEmpty }) { try await Task.sleep(for: .milliseconds(1)) }
            for i in 1..<50 {
                group.addTask { (i, try await committer.submit(i)) }
            }
            let deadline = ContinuousClock.now + .seconds(30)
            while committer.queuedCount < 49, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(1)) }
            firstCommitMayFinish.signal()
            return try await group.reduce(into: [Int: Int]()) { $0[$1.0] = $1.1 }
        }
        #expect(outcomes.count == 50)
        #expect(outcomes.allSatisfy { $0.value == $0.key * 10 })
        let groups = calls.withLock { $0 }
        #expect(groups.first == [0])
        #expect(groups.count == 2, "\(groups)")
        #expect(groups.last?.sorted() == Array(1..<50))
        #expect(committer.stats.transactions == 2)
    }

    @Test func oneFailingBatchDoesNotFailItsNeighbours() async throws {
        struct Poison: Error {}
        let committer = GroupCommitter<Int, Int> { items in
            Thread.sleep(forTimeInterval: 0.01)
            if items.contains(13) { throw Poison() }
            return items
        }
        let results = await withTaskGroup(of: (Int, Bool).self) { group in
            for i in 0..<30 {
                group.addTask { (i, (try? await committer.submit(i)) != nil) }
            }
            return await group.reduce(into: [Int: Bool]()) { $0[$1.0] = $1.1 }
        }
        #expect(results[13] == false)
        #expect(results.filter { $0.value }.count == 29)
    }
}

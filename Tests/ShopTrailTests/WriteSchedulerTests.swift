import Foundation
import GRDB
import Testing
@testable import ShopTrail

/// The SQLite write scheduler (issue 16): ingest commits never queue behind background transactions.
@Suite struct WriteSchedulerTests {
    static func marksTable(_ pool: DatabasePool) async throws {
        try await pool.write { db in try db.execute(sql: "CREATE TABLE marks (id INTEGER PRIMARY KEY, lane TEXT NOT NULL)") }
    }

    static func lanes(_ pool: DatabasePool) async throws -> [String] {
        try await pool.read { db in try String.fetchAll(db, sql: "SELECT lane FROM marks ORDER BY id") }
    }

    static func waitUntil(_ what: String, _ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while !condition() {
            guard ContinuousClock.now < deadline else { Issue.record("timed out waiting for \(what)"); return }
            try await Task.sleep(for: .milliseconds(2))
        }
    }

    @Test func aBackgroundWriteWaitsWhileIngestIsCommittingAndGoesWhenItPauses() async throws {
        let temp = try TempStore()
        let pool = temp.store.database.pool
        try await Self.marksTable(pool)
        // A deferral bound far beyond the test: only ingest going idle can let the background write in.
        let writes = SQLiteWriteScheduler(pool: pool, maxDefer: .seconds(3_600))
        writes.ingestActivity(true)
        let background = Task {
            try await writes.background { db in try db.execute(sql: "INSERT INTO marks (lane) VALUES ('background')") }
        }
        try await Self.waitUntil("the background write to queue") { writes.stats.deferred == 1 }
        try writes.ingest { db in try db.execute(sql: "INSERT INTO marks (lane) VALUES ('ingest')") }
        writes.ingestActivity(false)
        try await background.value
        #expect(try await Self.lanes(pool) == ["ingest", "background"])
        #expect(writes.stats.background == 1)
        #expect(writes.stats.forcedByDeadline == 0)
    }

    @Test func aSaturatedIngestDoesNotStarveBackgroundWork() async throws {
        let temp = try TempStore()
        let pool = temp.store.database.pool
        try await Self.marksTable(pool)
        let writes = SQLiteWriteScheduler(pool: pool, maxDefer: .milliseconds(20))
        writes.ingestActivity(true)  // and never idle again
        for i in 0..<3 {
            try await writes.background { db in try db.execute(sql: "INSERT INTO marks (lane) VALUES (?)", arguments: ["background \(i)"]) }
        }
        #expect(try await Self.lanes(pool) == ["background 0", "background 1", "background 2"])
        #expect(writes.stats.forcedByDeadline == 3)
    }

    @Test func everyQueuedBackgroundWriteRunsOnceIngestPauses() async throws {
        let temp = try TempStore()
        let pool = temp.store.database.pool
        try await Self.marksTable(pool)
        let writes = SQLiteWriteScheduler(pool: pool, maxDefer: .seconds(3_600))
        writes.ingestActivity(true)
        let tasks = (0..<5).map { i in
            Task { try await writes.background { db in try db.execute(sql: "INSERT INTO marks (lane) VALUES (?)", arguments: ["background \(i)"]) } }
        }
        try await Self.waitUntil("five queued background writes") { writes.stats.deferred == 5 }
        writes.ingestActivity(false)
        for task in tasks { try await task.value }
        #expect(try await Self.lanes(pool).sorted() == (0..<5).map { "background \($0)" })
        #expect(writes.stats.background == 5)
    }

    @Test func aCancelledBackgroundWriteLeavesTheQueueAndWritesNothing() async throws {
        let temp = try TempStore()
        let pool = temp.store.database.pool
        try await Self.marksTable(pool)
        let writes = SQLiteWriteScheduler(pool: pool, maxDefer: .seconds(3_600))
        writes.ingestActivity(true)
        let cancelled = Task { try await writes.background { db in try db.execute(sql: "INSERT INTO marks (lane) VALUES ('cancelled')") } }
        try await Self.waitUntil("the background write to queue") { writes.stats.deferred == 1 }
        cancelled.cancel()
        await #expect(throws: CancellationError.self) { try await cancelled.value }
        writes.ingestActivity(false)
        try await writes.background { db in try db.execute(sql: "INSERT INTO marks (lane) VALUES ('next')") }
        #expect(try await Self.lanes(pool) == ["next"])
    }

    @Test func theEventStoreTellsTheSchedulerWhileItCommits() async throws {
        let temp = try TempStore()
        let writes = temp.store.database.writes
        #expect(writes.chunkLimit(500) == 500)  // ingest never ran: a chunk is as long as the processor asks
        _ = try await temp.store.append([StoreTests.event("a")])
        _ = try await temp.store.append([StoreTests.event("b")])
        #expect(writes.stats.ingestDrains >= 1)  // two appends in a row may share one drain
        // With priorities (on by default, see SQLiteDatabase), a chunk is cut while ingest is busy to what
        // fits the short budget at the measured cost per event.
        let prioritized = SQLiteWriteScheduler(pool: temp.store.database.pool)
        prioritized.ingestActivity(true)
        prioritized.recordChunk(events: 100, took: .milliseconds(10))
        #expect(prioritized.chunkLimit(500) == 20)
        #expect(prioritized.chunkLimit(5) == 5)
        prioritized.ingestActivity(false)
    }

    @Test func ingestIsSaturatedWhenItDrainsWithoutPauseOrNearlyAllTheTime() {
        let t0 = ContinuousClock.now
        func at(_ ms: Int) -> ContinuousClock.Instant { t0 + .milliseconds(ms) }
        var load = IngestLoad()
        #expect(!load.saturated(at: at(0)))
        load.began(at: at(0))
        #expect(!load.saturated(at: at(50)))
        #expect(load.saturated(at: at(100)), "draining without a pause for a whole window")
        load.ended(at: at(101))

        // Busy 9 ms of every 10: saturated on the window's share although it pauses.
        var busy = IngestLoad()
        for start in stride(from: 0, to: 300, by: 10) {
            busy.began(at: at(start))
            busy.ended(at: at(start + 9))
        }
        #expect(busy.lastShare > 0.8 && busy.saturated(at: at(300)), "\(busy.lastShare)")
        #expect(!busy.saturated(at: at(600)), "an old window says nothing about now")

        // Busy 3 ms of every 10: a moderate load keeps admitting background work in its pauses.
        var moderate = IngestLoad()
        for start in stride(from: 0, to: 300, by: 10) {
            moderate.began(at: at(start))
            moderate.ended(at: at(start + 3))
        }
        #expect(moderate.lastShare < 0.5 && !moderate.saturated(at: at(300)), "\(moderate.lastShare)")

        // The same pauses, but each commit carried 12 beacons: as loaded as it gets where the CPU runs out first.
        var deep = IngestLoad()
        for start in stride(from: 0, to: 300, by: 10) {
            deep.began(at: at(start))
            deep.committed(batches: 12)
            deep.ended(at: at(start + 3))
        }
        #expect(deep.lastGroupSize == 12 && deep.saturated(at: at(300)), "\(deep.lastGroupSize)")
    }

    @Test func underSaturationBackgroundWritesKeepATenthOfTheWriter() {
        let maxDefer = Duration.milliseconds(20)
        #expect(SQLiteWriteScheduler.deferral(saturated: false, lastTook: .milliseconds(50), maxDefer: maxDefer) == maxDefer)
        #expect(SQLiteWriteScheduler.deferral(saturated: true, lastTook: .milliseconds(1), maxDefer: maxDefer) == maxDefer)
        #expect(SQLiteWriteScheduler.deferral(saturated: true, lastTook: .milliseconds(4), maxDefer: maxDefer) == .milliseconds(36))
        #expect(SQLiteWriteScheduler.deferral(saturated: true, lastTook: .milliseconds(50), maxDefer: maxDefer) == .milliseconds(100))
    }

    @Test func theWALIsCopiedBackOffTheCommitPath() async throws {
        let temp = try TempStore()
        let checkpointer = temp.store.database.checkpointer
        #expect(checkpointer.runs.load(ordering: .relaxed) == 0)
        // Page-sized events until the WAL passes the checkpointer's threshold (far below SQLite's own in the hook).
        let properties = #"{"pad":"\#(String(repeating: "x", count: 3_000))"}"#
        var appended = 0
        for batch in 0..<400 where checkpointer.runs.load(ordering: .relaxed) == 0 {
            let events = (0..<50).map { i in
                var event = StoreTests.event("wal-\(batch)-\(i)")
                event.properties = properties
                return event
            }
            _ = try await temp.store.append(events)
            appended += events.count
        }
        try await Self.waitUntil("a background checkpoint") { checkpointer.runs.load(ordering: .relaxed) >= 1 }
        #expect(try await temp.store.eventCount() == appended)
    }
}

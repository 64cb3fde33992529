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
        // With priorities (off by default, see SQLiteDatabase), a chunk is cut while ingest is busy to what
        // fits the short budget at the measured cost per event.
        let prioritized = SQLiteWriteScheduler(pool: temp.store.database.pool)
        prioritized.ingestActivity(true)
        prioritized.recordChunk(events: 100, took: .milliseconds(10))
        #expect(prioritized.chunkLimit(500) == 20)
        #expect(prioritized.chunkLimit(5) == 5)
        prioritized.ingestActivity(false)
    }
}

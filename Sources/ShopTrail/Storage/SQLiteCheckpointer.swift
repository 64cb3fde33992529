import Dispatch
import GRDBSQLite
import Synchronization

/// Copies the WAL into the database file away from the commits that beacons wait for.
///
/// SQLite's own checkpoint runs inside the commit that takes the WAL past 1,000 frames, so every
/// few dozen group commits one beacon waited for a thousand page copies and an fsync of the file.
/// Here the writer's WAL hook only asks: past `softFrames` a PASSIVE checkpoint runs on this
/// object's own connection and thread (it copies what no reader still needs, never blocking the
/// writer); past `hardFrames` (the WAL never emptied because commits never paused) the committing
/// connection checkpoints itself as SQLite would, which then has little left to copy.
final class SQLiteCheckpointer: @unchecked Sendable {
    static let softFrames: Int32 = 4_000
    static let hardFrames: Int32 = 20_000

    let path: String
    private let queue = DispatchQueue(label: "shoptrail.checkpoint", qos: .utility)
    private let pending = Atomic<Bool>(false)
    /// This object's connection: opened on first use, touched only on `queue` (hence unchecked Sendable).
    private var handle: OpaquePointer?
    /// Background checkpoints run (tests and the benchmark log).
    let runs = Atomic<Int>(0)

    init(path: String) {
        self.path = path
    }

    deinit {
        if let handle { sqlite3_close(handle) }
    }

    /// Replaces SQLite's automatic checkpoint on the writer `connection` by this object's hook.
    /// The hook holds this object unretained: the caller's `prepareDatabase` closure, which GRDB keeps
    /// in the connection's configuration until the connection is closed, is what keeps it alive.
    func install(on connection: OpaquePointer) {
        sqlite3_wal_hook(connection, { context, db, name, frames in
            guard let context else { return SQLITE_OK }
            if frames >= SQLiteCheckpointer.hardFrames {
                sqlite3_wal_checkpoint(db, name)
            } else if frames >= SQLiteCheckpointer.softFrames {
                Unmanaged<SQLiteCheckpointer>.fromOpaque(context).takeUnretainedValue().runSoon()
            }
            return SQLITE_OK
        }, Unmanaged.passUnretained(self).toOpaque())
    }

    /// Queues one PASSIVE checkpoint unless one is queued already; never blocks the caller (the commit).
    func runSoon() {
        guard pending.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else { return }
        queue.async {
            self.pending.store(false, ordering: .releasing)
            self.passive()
            self.runs.add(1, ordering: .relaxed)
        }
    }

    private func passive() {
        if handle == nil {
            var opened: OpaquePointer?
            guard sqlite3_open_v2(path, &opened, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nil) == SQLITE_OK, let opened else {
                sqlite3_close(opened)
                return
            }
            handle = opened
        }
        // The pragma, as in `SQLiteCheckpoint.truncate`: it opens the WAL on this connection first.
        _ = SQLiteCheckpoint.run(handle, "PRAGMA wal_checkpoint(PASSIVE)")
    }
}

/// Empties the WAL after a redact: `PRAGMA wal_checkpoint(TRUNCATE)` copies the latest (zeroed) pages
/// into the database file and truncates the WAL, which still holds the deleted rows' older page images.
enum SQLiteCheckpoint {
    /// Runs the checkpoint in the background on its own connection, retrying while readers or a writer
    /// keep it from completing (best effort: the WAL is also reset by SQLite's own checkpoints later).
    static func truncateSoon(path: String, attempts: Int = 10) {
        Task.detached(priority: .utility) {
            for attempt in 0..<attempts {
                if truncate(path: path) { return }
                try? await Task.sleep(for: .milliseconds(200 * (attempt + 1)))
            }
        }
    }

    /// One `wal_checkpoint(TRUNCATE)`; true when every frame was copied and the WAL truncated.
    @discardableResult
    static func truncate(path: String) -> Bool {
        var handle: OpaquePointer?
        guard sqlite3_open_v2(path, &handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nil) == SQLITE_OK, let handle else {
            sqlite3_close(handle)
            return false
        }
        defer { sqlite3_close(handle) }
        sqlite3_busy_timeout(handle, 1_000)
        return run(handle, "PRAGMA wal_checkpoint(TRUNCATE)")
    }

    /// Runs a `wal_checkpoint` pragma on `handle`; true when it completed (every frame copied).
    /// The pragma, not sqlite3_wal_checkpoint_v2: preparing it reads the schema, which opens the WAL
    /// (on a fresh connection the C call finds no WAL open yet and returns OK having done nothing).
    static func run(_ handle: OpaquePointer?, _ pragma: String) -> Bool {
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(handle, pragma, -1, &statement, nil) == SQLITE_OK else { return false }
        defer { sqlite3_finalize(statement) }
        // One row: busy (1 when it could not complete), WAL frames, frames checkpointed.
        guard sqlite3_step(statement) == SQLITE_ROW else { return false }
        return sqlite3_column_int(statement, 0) == 0
    }
}

import Dispatch
import GRDB
import Synchronization

/// Turns many concurrent appends into few transactions (group commit).
///
/// Appends queue up; one serial writer queue drains everything queued so far into a single
/// transaction, resumes those callers, and loops while more arrived meanwhile. A lone request
/// commits at once (no waiting to fill a batch, which the stack notes measured as slower at
/// 64 connections), a busy server pays one fsync per group, and commits follow each other on
/// the writer thread without a hop through the task pool in between. `activity` hears when the
/// committer starts and stops draining (the write scheduler holds background writes meanwhile).
public final class GroupCommitter<Item: Sendable, Outcome: Sendable>: Sendable {
    /// Writes all groups in one transaction, returning one outcome per group in order.
    /// Runs on the committer's own serial queue, so it may block (SQLite does).
    public typealias Writer = @Sendable ([Item]) throws -> [Outcome]

    private struct Waiter: Sendable {
        let item: Item
        let continuation: CheckedContinuation<Outcome, any Error>
    }

    private struct State: Sendable {
        var draining = false
        var queue: [Waiter] = []
        var stats = CommitStats()
    }

    private let state = Mutex(State())
    private let writer: Writer
    private let queue: DispatchQueue
    private let activity: (@Sendable (_ busy: Bool) -> Void)?

    /// `activity` is called with true when commits start queueing and false when the queue is empty
    /// again, inside the committer's lock (so the calls never cross); it must not block.
    public init(label: String = "shoptrail.group-commit", activity: (@Sendable (_ busy: Bool) -> Void)? = nil, writer: @escaping Writer) {
        self.writer = writer
        self.activity = activity
        self.queue = DispatchQueue(label: label)
    }

    public var stats: CommitStats { state.withLock { $0.stats } }

    /// Appends waiting for the writer (not counting a commit in progress).
    var queuedCount: Int { state.withLock { $0.queue.count } }

    /// Commits `item` (possibly together with others) and returns its own outcome once durable.
    public func submit(_ item: Item) async throws -> Outcome {
        try await withCheckedThrowingContinuation { continuation in
            let startDrain = state.withLock { state -> Bool in
                state.queue.append(Waiter(item: item, continuation: continuation))
                if state.draining { return false }
                state.draining = true
                activity?(true)
                return true
            }
            if startDrain { queue.async { self.drain() } }
        }
    }

    /// Runs on `queue`: commit whatever is queued, repeat until the queue is empty.
    private func drain() {
        while true {
            let waiters = state.withLock { state -> [Waiter] in
                if state.queue.isEmpty {
                    state.draining = false
                    activity?(false)
                    return []
                }
                defer { state.queue.removeAll(keepingCapacity: true) }
                return state.queue
            }
            if waiters.isEmpty { return }
            let results = commit(waiters.map(\.item))
            for (waiter, result) in zip(waiters, results) {
                waiter.continuation.resume(with: result)
            }
        }
    }

    private func commit(_ items: [Item]) -> [Result<Outcome, any Error>] {
        do {
            let outcomes = try writer(items)
            state.withLock { $0.stats.transactions += 1; $0.stats.batches += items.count }
            return outcomes.map { .success($0) }
        } catch {
            // One bad batch must not fail its neighbours: retry each in its own transaction.
            guard items.count > 1 else { return [.failure(error)] }
            return items.map { item in
                do {
                    let outcome = try writer([item])
                    state.withLock { $0.stats.transactions += 1; $0.stats.batches += 1 }
                    return outcome.first.map { .success($0) } ?? .failure(error)
                } catch {
                    return .failure(error)
                }
            }
        }
    }
}


/// How long a write may hold SQLite's only write lock, declared by the caller: ingest commits go
/// first, background work waits for a gap and keeps its transactions short.
public enum WriteBudget: Sendable, Equatable {
    /// The event log's group commits (beacons, pixels, webhooks): never queued behind background work.
    case ingest
    /// A background transaction expected to take at most `milliseconds` of lock time.
    case background(milliseconds: Int)

    /// A few single-row statements (outbox leases, job saves, run records).
    public static let short = WriteBudget.background(milliseconds: 2)
    /// A processor chunk while ingest is busy: sized to this from the measured cost per event.
    public static let chunkUnderIngest = WriteBudget.background(milliseconds: 2)
}

/// The one owner of the SQLite file's write lock: every write of this process goes through it.
///
/// Two lanes. Ingest (the event log's group committer) writes at once. A background write (the
/// processor, the forwarder's claims, the abandonment scheduler, backfill, retention) waits until
/// no ingest commit is queued or running, or until it has waited `maxDefer`, so that a saturated
/// ingest cannot starve the pipeline; background writes go one at a time, so an ingest commit waits
/// behind at most one background transaction, whose length its caller bounds (`WriteBudget`).
/// While ingest is saturated (`IngestLoad`) only a real pause or the deadline admits one, and the
/// deadline keeps background work to a tenth of the writer (`deferral`).
/// Waiting is woken by the ingest lane going idle (and by the deferral deadline), never polled.
public final class SQLiteWriteScheduler: Sendable {
    private struct Waiter {
        let id: UInt64
        let continuation: CheckedContinuation<Void, any Error>
        var overdue = false
    }

    private struct State {
        /// Group committers draining (ingest commits queued or running); one per event store on the file.
        var ingestDraining = 0
        var ingestBusy: Bool { ingestDraining > 0 }
        /// When ingest last went busy or idle, for callers sizing their work (`ingestRecentlyBusy`).
        var ingestLastActive: ContinuousClock.Instant?
        /// How much of the writer's time ingest took lately (`saturated`).
        var ingestLoad = IngestLoad()
        /// How long the last background write held the writer (with its wait for a running commit).
        var lastBackgroundTook: Duration = .zero
        /// A look at whether ingest's pause is long enough is scheduled (`checkPauseSoon`).
        var pauseCheckPending = false
        var backgroundRunning = false
        var waiters: [Waiter] = []
        var nextId: UInt64 = 0
        var stats = WriteSchedulerStats()
        /// Lock time per event of the processor's chunks (moving average, nanoseconds).
        var chunkNanosPerEvent: Double = 0
    }

    let pool: DatabasePool
    /// The longest a background write waits for ingest to pause before it goes anyway.
    let maxDefer: Duration
    /// False: every write goes first come, first served, chunks as long as asked (the behaviour before
    /// the scheduler, kept for the benchmark's comparison in the same run: `SHOPTRAIL_WRITE_SCHEDULER=off`).
    let prioritizes: Bool
    private let state = Mutex(State())
    private let clock = ContinuousClock()

    init(pool: DatabasePool, maxDefer: Duration = .milliseconds(20), prioritizes: Bool = true) {
        self.pool = pool
        self.maxDefer = maxDefer
        self.prioritizes = prioritizes
    }

    /// What the lanes did so far.
    public var stats: WriteSchedulerStats { state.withLock { $0.stats } }

    /// True while ingest commits are queued or running, or were within the last 100 ms.
    var ingestRecentlyBusy: Bool {
        let now = clock.now
        return state.withLock { state in
            state.ingestBusy || state.ingestLastActive.map { now - $0 < .milliseconds(100) } ?? false
        }
    }

    /// How many events a processor chunk should read: all it asked for while ingest is quiet; while
    /// ingest is busy, what fits `WriteBudget.chunkUnderIngest` at the measured cost per event.
    func chunkLimit(_ requested: Int) -> Int {
        guard prioritizes, ingestRecentlyBusy else { return requested }
        guard case .background(let millis) = WriteBudget.chunkUnderIngest else { return requested }
        let perEvent = state.withLock { $0.chunkNanosPerEvent }
        // No measurement yet: a small first chunk measures the cost.
        guard perEvent > 0 else { return min(requested, 8) }
        return max(1, min(requested, Int(Double(millis) * 1_000_000 / perEvent)))
    }

    /// Records a chunk's lock time for `chunkLimit`.
    func recordChunk(events: Int, took: Duration) {
        guard events > 0 else { return }
        let nanos = Double(took.components.seconds) * 1e9 + Double(took.components.attoseconds) / 1e9
        let sample = nanos / Double(events)
        state.withLock { state in
            state.chunkNanosPerEvent = state.chunkNanosPerEvent == 0 ? sample : state.chunkNanosPerEvent * 0.7 + sample * 0.3
        }
    }

    // MARK: Ingest lane

    /// A group committer's drain began (true) or its queue emptied (false).
    func ingestActivity(_ busy: Bool) {
        if busy { ingestBegan() } else { ingestEnded() }
    }

    /// A group committer began draining: background writes not yet admitted wait.
    func ingestBegan() {
        let now = clock.now
        state.withLock { state in
            if state.ingestDraining == 0 { state.ingestLoad.began(at: now) }
            state.ingestDraining += 1
            state.ingestLastActive = now
            state.stats.ingestDrains += 1
        }
    }

    /// The group committer's queue is empty: admit a waiting background write.
    func ingestEnded() {
        let now = clock.now
        let admitted = state.withLock { state -> CheckedContinuation<Void, any Error>? in
            state.ingestDraining = max(0, state.ingestDraining - 1)
            if state.ingestDraining == 0 { state.ingestLoad.ended(at: now) }
            state.ingestLastActive = now
            return admitOrWatch(&state, now: now)
        }
        admitted?.resume()
    }

    /// An ingest transaction, synchronous on the caller's (the group committer's) queue.
    /// `batches`: how many appends the commit carries (a deep group means many beacons in flight).
    func ingest<T>(batches: Int = 1, _ body: (Database) throws -> T) throws -> T {
        let result = try pool.write(body)
        state.withLock { $0.ingestLoad.committed(batches: batches) }
        return result
    }

    // MARK: Background lane

    /// Runs `body` in one write transaction once ingest leaves a gap (or after `maxDefer`).
    func background<T: Sendable>(_ budget: WriteBudget = .short, _ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await admit()
        let started = clock.now
        defer { finish(budget: budget, took: clock.now - started) }
        return try await pool.write(body)
    }

    /// A background write from synchronous code (a clean stop after cancellation, tools): not deferred;
    /// it queues for GRDB's writer like any other.
    func backgroundNow<T>(_ body: (Database) throws -> T) throws -> T {
        try pool.write(body)
    }

    private func admit() async throws {
        let id: UInt64? = state.withLock { state in
            if !prioritizes || (!state.backgroundRunning && !state.ingestBusy && state.waiters.isEmpty) {
                state.backgroundRunning = true
                return nil
            }
            state.nextId &+= 1
            return state.nextId
        }
        guard let id else { return }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let now = clock.now
                let (admitted, deadline) = state.withLock { state -> (CheckedContinuation<Void, any Error>?, Duration) in
                    state.waiters.append(Waiter(id: id, continuation: continuation))
                    state.stats.deferred += 1
                    return (admitOrWatch(&state, now: now),
                            Self.deferral(saturated: state.ingestLoad.saturated(at: now), lastTook: state.lastBackgroundTook, maxDefer: maxDefer))
                }
                admitted?.resume()
                Task {
                    try? await Task.sleep(for: deadline)
                    self.markOverdue(id)
                }
            }
        } onCancel: {
            let cancelled = state.withLock { state -> CheckedContinuation<Void, any Error>? in
                guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                return state.waiters.remove(at: index).continuation
            }
            cancelled?.resume(throwing: CancellationError())
        }
    }

    /// How long a background write waits at most: `maxDefer`; while ingest is saturated, long enough
    /// after the last background write that background work keeps `saturatedShare` of the writer's
    /// time (the processor's chunks then take a tenth of the CPU, not one in every pause), up to 5 ×
    /// `maxDefer`. The pipeline catches up when the load eases (docs/storage.md, "One writer, two lanes").
    static func deferral(saturated: Bool, lastTook: Duration, maxDefer: Duration) -> Duration {
        guard saturated else { return maxDefer }
        let rest = lastTook * ((1 - saturatedShare) / saturatedShare)
        return min(max(maxDefer, rest), maxDefer * 5)
    }

    /// The share of the writer's time background writes keep while ingest is saturated.
    static let saturatedShare = 0.1

    private func markOverdue(_ id: UInt64) {
        let now = clock.now
        let admitted = state.withLock { state -> CheckedContinuation<Void, any Error>? in
            guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
            state.waiters[index].overdue = true
            return admitOrWatch(&state, now: now)
        }
        admitted?.resume()
    }

    private func finish(budget: WriteBudget, took: Duration) {
        let now = clock.now
        let admitted = state.withLock { state -> CheckedContinuation<Void, any Error>? in
            state.backgroundRunning = false
            state.lastBackgroundTook = took
            state.stats.background += 1
            if case .background(let millis) = budget, took > .milliseconds(millis) * 2 { state.stats.overBudget += 1 }
            return admitOrWatch(&state, now: now)
        }
        admitted?.resume()
    }

    /// The first waiter when the background slot is free and ingest is idle, or the first overdue one.
    /// While ingest is saturated its short idle moments admit nobody, only a pause of `pause` or more:
    /// background writes then go at their deadline (`deferral`), so they keep a bounded share of the
    /// writer (and of the CPU) instead of one in every gap between two group commits.
    private static func admitNext(_ state: inout State, now: ContinuousClock.Instant) -> CheckedContinuation<Void, any Error>? {
        guard !state.backgroundRunning, !state.waiters.isEmpty else { return nil }
        let index: Int
        if !state.ingestBusy, !state.ingestLoad.saturated(at: now) || Self.pausedLongEnough(state, now: now) {
            index = 0
        } else if let overdue = state.waiters.firstIndex(where: \.overdue) {
            index = overdue
            state.stats.forcedByDeadline += 1
        } else {
            if !state.ingestBusy { state.stats.heldWhileSaturated += 1 }
            return nil
        }
        state.backgroundRunning = true
        return state.waiters.remove(at: index).continuation
    }

    /// `admitNext`, and when it held a write back while ingest is idle, a look again once the pause is long enough.
    private func admitOrWatch(_ state: inout State, now: ContinuousClock.Instant) -> CheckedContinuation<Void, any Error>? {
        let admitted = Self.admitNext(&state, now: now)
        if admitted == nil, !state.ingestBusy { checkPauseSoon(&state) }
        return admitted
    }

    /// How long ingest must have been idle after a saturated stretch before a waiting write goes.
    static let pause: Duration = .milliseconds(10)

    private static func pausedLongEnough(_ state: State, now: ContinuousClock.Instant) -> Bool {
        guard let last = state.ingestLastActive else { return true }
        return now - last >= pause
    }

    /// After ingest went idle with writes held for saturation: looks again once the pause is long
    /// enough (one check at a time), so a pause admits them without waiting for their deadline.
    private func checkPauseSoon(_ state: inout State) {
        guard !state.pauseCheckPending, !state.waiters.isEmpty, !state.backgroundRunning else { return }
        state.pauseCheckPending = true
        Task {
            try? await Task.sleep(for: Self.pause)
            self.checkPause()
        }
    }

    private func checkPause() {
        let now = clock.now
        let admitted = state.withLock { state -> CheckedContinuation<Void, any Error>? in
            state.pauseCheckPending = false
            guard !state.ingestBusy else { return nil }  // its next idle moment looks again
            return admitOrWatch(&state, now: now)
        }
        admitted?.resume()
    }
}

/// How loaded the ingest lane was lately: saturated when it was draining for at least `threshold` of
/// the last complete window, or without a pause for a whole window, or when its commits carried
/// `deepGroup` appends or more on average (many beacons in flight: on a machine where the CPU, not the
/// writer, is what runs out, the writer pauses often while the load is as heavy as it gets).
struct IngestLoad {
    static let window: Duration = .milliseconds(100)
    static let threshold = 0.8
    static let deepGroup = 6.0
    private var commitsInWindow = 0
    private var batchesInWindow = 0
    /// Appends per commit in the last complete window.
    private(set) var lastGroupSize = 0.0
    private var busySince: ContinuousClock.Instant?
    private var windowStart: ContinuousClock.Instant?
    private var busyInWindow: Duration = .zero
    /// Ingest's share of the last complete window (0...1).
    private(set) var lastShare = 0.0

    mutating func began(at now: ContinuousClock.Instant) {
        roll(at: now)
        busySince = now
    }

    mutating func ended(at now: ContinuousClock.Instant) {
        if let since = busySince { busyInWindow += now - max(since, windowStart ?? since) }
        busySince = nil
        roll(at: now)
    }

    mutating func committed(batches: Int) {
        commitsInWindow += 1
        batchesInWindow += batches
    }

    func saturated(at now: ContinuousClock.Instant) -> Bool {
        if let since = busySince, now - since >= Self.window { return true }
        guard let start = windowStart, now - start < Self.window * 2 else { return false }
        return lastShare >= Self.threshold || lastGroupSize >= Self.deepGroup
    }

    /// Closes the window when it is complete (a busy stretch counts up to the window's end).
    private mutating func roll(at now: ContinuousClock.Instant) {
        guard let start = windowStart else { windowStart = now; return }
        let elapsed = now - start
        guard elapsed >= Self.window else { return }
        var busy = busyInWindow
        if let since = busySince { busy += now - max(since, start); busySince = now }
        lastShare = min(1, busy / elapsed)
        lastGroupSize = commitsInWindow == 0 ? 0 : Double(batchesInWindow) / Double(commitsInWindow)
        windowStart = now
        busyInWindow = .zero
        commitsInWindow = 0
        batchesInWindow = 0
    }
}

/// Counters of the write scheduler (tests and the benchmark log).
public struct WriteSchedulerStats: Sendable, Equatable {
    /// Times the event log's group committer started draining (ingest went busy).
    public var ingestDrains = 0
    /// Background transactions run.
    public var background = 0
    /// Background writes that had to wait for ingest or for another background write.
    public var deferred = 0
    /// Background writes admitted at their deferral deadline while ingest was still busy.
    public var forcedByDeadline = 0
    /// Background transactions that took more than twice their declared budget.
    public var overBudget = 0
    /// Times a waiting background write was not admitted in a pause of ingest because ingest was saturated.
    public var heldWhileSaturated = 0
}

import Dispatch
import Synchronization

/// Turns many concurrent appends into few transactions (group commit).
///
/// Appends queue up; one serial writer queue drains everything queued so far into a single
/// transaction, resumes those callers, and loops while more arrived meanwhile. A lone request
/// commits at once (no waiting to fill a batch, which the stack notes measured as slower at
/// 64 connections), a busy server pays one fsync per group, and commits follow each other on
/// the writer thread without a hop through the task pool in between.
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

    public init(label: String = "shoptrail.group-commit", writer: @escaping Writer) {
        self.writer = writer
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

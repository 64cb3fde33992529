import Foundation
import Synchronization

/// Wakes a background stage when what it waits for has happened (a commit to the log, an enqueue to the
/// outbox) instead of it polling. A signal with nobody waiting is kept for the next wait, so none is lost;
/// every wait also ends after its timeout, which covers writers in other processes (`shoptrail backfill`).
public final class StageWakeup: Sendable {
    private struct State {
        var pending = false
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
        var nextId: UInt64 = 0
        /// Waits ended (cancelled) before they started.
        var ended = Set<UInt64>()
    }

    private let state = Mutex(State())

    public init() {}

    /// Wakes every waiting stage, or the next one to wait.
    public func signal() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            guard !state.waiters.isEmpty else {
                state.pending = true
                return []
            }
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns at the next signal (at once when one came since the last wait), after `timeout`, or when the
    /// task is cancelled (a graceful shutdown does not wait for the timeout).
    public func wait(timeout: Duration) async {
        let id: UInt64? = state.withLock { state in
            if state.pending {
                state.pending = false
                return nil
            }
            // Older "ended" marks are stale (their waits are over); at worst a wait cancelled in the gap ends at its timeout.
            state.ended.removeAll(keepingCapacity: true)
            state.nextId &+= 1
            return state.nextId
        }
        guard let id, !Task.isCancelled else { return }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    // A signal or a cancellation between the check above and here: do not wait.
                    if state.pending || state.ended.remove(id) != nil {
                        state.pending = false
                        return true
                    }
                    state.waiters[id] = continuation
                    return false
                }
                if resumeNow {
                    continuation.resume()
                    return
                }
                Task {
                    try? await Task.sleep(for: timeout)
                    self.end(id)
                }
            }
        } onCancel: {
            self.end(id)
        }
    }

    /// Ends one wait (its timeout, or its task's cancellation); remembered when the wait has not started yet.
    private func end(_ id: UInt64) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if let waiter = state.waiters.removeValue(forKey: id) { return waiter }
            // Not waiting (yet, or any more): a cancellation before the wait starts must still end it.
            if id == state.nextId { state.ended.insert(id) }
            return nil
        }
        waiter?.resume()
    }
}

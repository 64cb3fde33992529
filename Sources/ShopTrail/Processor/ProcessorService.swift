import Logging
import ServiceLifecycle

/// Reads the event log by position and hands each event to the `StorefrontProcessor`; a chunk's
/// identity changes, Braze operations and the new position commit in one transaction, so the
/// processor resumes exactly where it stopped and re-processing never duplicates an operation.
///
/// Crash-only safety net: a run marks itself running. After an unclean stop (the process died, maybe
/// on an event it cannot handle) the next run handles the first `chunkSize` events one at a time,
/// committing each one's position as "attempting" before handling it; if the process dies again, the
/// run after finds that position and quarantines the event instead of dying on it a third time. An
/// event whose handling throws (other than a transient storage error) is quarantined at once. So one
/// poison event never stops a shop's pipeline (docs/identity.md, "Poison events").
public final class ProcessorService: Service {
    /// A test-only fault, called before each event is handled (`SHOPTRAIL_TEST_FAULT_EVENT_ID`).
    public typealias FaultHook = @Sendable (LoggedEvent) throws -> Void

    private let log: any ProcessorLog
    private let processor: StorefrontProcessor
    private let shops: [ShopConfig]
    private let clock: any WallClock
    private let logger: Logger
    /// Events per transaction.
    private let chunkSize: Int
    /// Sleep when the log has nothing new.
    private let idlePollMillis: EpochMillis
    private let faultHook: FaultHook?
    private let retention: RetentionConfig
    static let redactTopics: Set<String> = ["customers/redact", "shop/redact"]

    public init(log: any ProcessorLog, config: ShopTrailConfig, clock: any WallClock = SystemClock(), chunkSize: Int = 500,
                idlePollMillis: EpochMillis = 1_000, faultHook: FaultHook? = nil, logger: Logger) {
        self.log = log
        self.chunkSize = chunkSize
        self.idlePollMillis = idlePollMillis
        self.shops = config.shops
        self.processor = StorefrontProcessor(shops: config.shops, exportDirectory: config.server.dataDir, logger: logger)
        self.clock = clock
        self.faultHook = faultHook
        self.retention = config.server.retention
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            // Events to handle one at a time before going back to chunks.
            var careful = 0
            do {
                careful = try await self.beginRun()
            } catch {
                self.logger.error("processor could not record its start", metadata: ["error": "\(error)"])
            }
            var lastPurge: EpochMillis = 0
            // After a failure, the next attempt waits this long; doubled while failures go on (PostgreSQL down), 5 s at most:
            // below the lease TTL, so a holder whose failures are not an outage still renews its leases.
            var backoff = Duration.seconds(1)
            while !Task.isCancelled {
                do {
                    let done: Int
                    if careful > 0 {
                        done = try await self.processOneAlone()
                        careful = done == 0 ? 0 : careful - 1
                    } else {
                        done = try await self.processChunk()
                    }
                    if self.clock.now() - lastPurge > 3_600_000 {
                        lastPurge = self.clock.now()
                        try await self.purgeHeld()
                        try await self.purgeExpired()
                    }
                    // Idle: woken by the next commit to the log (the timeout covers writers in other processes).
                    if done == 0 { await self.log.waitForEvents(timeout: .milliseconds(self.idlePollMillis)) }
                    backoff = .seconds(1)
                } catch {
                    self.logger.error("processor failed; retrying event by event", metadata: ["error": "\(error)", "retry_in": "\(backoff)"])
                    // A chunk that fails is retried one event at a time, so a bad event is found and set aside.
                    careful = max(careful, self.chunkSize)
                    try? await Task.sleep(for: backoff)
                    backoff = min(backoff * 2, .seconds(5))
                }
            }
            self.endRun()
        }
    }

    /// Records the start of a run; after an unclean stop, quarantines the event the last run died on
    /// while handling it alone, and returns how many events to handle alone now.
    func beginRun() async throws -> Int {
        let (unclean, quarantined) = try await log.beginRun(at: clock.now(), reason: "the process stopped twice while handling this event")
        let careful = unclean ? chunkSize : 0
        if let quarantined {
            logger.critical("processor quarantined an event it died on", metadata: ["position": "\(quarantined)"])
        } else if careful > 0 {
            logger.warning("processor did not stop cleanly; handling the next events one at a time", metadata: ["events": "\(careful)"])
        }
        return careful
    }

    /// Records a clean stop. Synchronous on purpose: the task is cancelled by now, and this must still be written.
    private func endRun() {
        do {
            try log.endRun()
        } catch {
            logger.error("processor could not record its clean stop", metadata: ["error": "\(error)"])
        }
    }

    /// Handles the next event alone, its position committed as "attempting" first; returns 0 when the log is drained.
    func processOneAlone() async throws -> Int {
        guard let event = try await log.nextAlone() else { return 0 }
        do {
            try await log.handleAlone(event) { state in try self.handle(event, state: state) }
        } catch where log.isTransient(error) {
            try? await log.clearAttempt()
            throw error
        } catch {
            try await log.setAside(position: event.position, reason: "processing failed: \(error)", at: clock.now())
            logger.error("processor quarantined an event", metadata: ["shop": .string(event.event.shop), "position": "\(event.position)",
                                                                       "event": .string(event.event.name), "error": "\(error)"])
        }
        return 1
    }

    private func handle(_ event: LoggedEvent, state: any ProcessorState) throws {
        try faultHook?(event)
        try processor.process(event, state: state)
    }

    /// Processes the next chunk of the log; returns how many events it read.
    @discardableResult
    public func processChunk() async throws -> Int {
        let limit = chunkSize
        let budget = log.chunkBudget
        return try await log.handleChunk(limit: limit) { events, state in
            // Commit after the engine's budget of work rather than after a fixed count (SQLite: beacons and
            // webhooks wait for this transaction's write lock).
            let clock = ContinuousClock()
            let started = clock.now
            var done = 0
            for event in events {
                try self.handle(event, state: state)
                done += 1
                // A redact deletes rows this chunk may still hold in memory: re-read after it.
                if event.event.source == .webhook, Self.redactTopics.contains(event.event.name) { break }
                if clock.now - started > budget { break }
            }
            return done
        }
    }

    /// Processes until the log is drained (tests and tools).
    public func drain() async throws {
        while try await processChunk() > 0 {}
    }

    /// The quarantined events, oldest first.
    public func quarantined(shop: String? = nil, limit: Int = 100) async throws -> [QuarantinedEvent] {
        try await log.quarantined(shop: shop, limit: limit)
    }

    /// How many events are quarantined (for a shop, or all).
    public func quarantineCount(shop: String? = nil) async throws -> Int {
        try await log.quarantineCount(shop: shop)
    }

    /// Handles quarantined events again (after a fix); each that succeeds leaves the quarantine.
    /// Returns how many were released and the reasons of those that failed again.
    public func retryQuarantined(positions: [Int64]? = nil) async throws -> (released: Int, failed: [String]) {
        let chosen: [Int64]
        if let positions { chosen = positions } else { chosen = try await quarantined(limit: Int.max).map(\.position) }
        var released = 0
        var failed: [String] = []
        for position in chosen {
            do {
                try await log.retry(position: position) { event, state in try self.handle(event, state: state) }
                released += 1
            } catch {
                try await log.quarantine(position: position, reason: "retry failed: \(error)", at: clock.now())
                failed.append("\(position): \(error)")
            }
        }
        return (released, failed)
    }

    /// Deletes what outlived `server.retention` (docs/operations.md, "Limits and cost bound"); returns the rows deleted.
    @discardableResult
    public func purgeExpired() async throws -> Int {
        var total = 0
        while !Task.isCancelled {
            let deleted = try await log.purgeExpiredStep(now: clock.now(), retention: retention)
            total += deleted
            if deleted == 0 { break }
        }
        if total > 0 { logger.info("purged rows past their retention", metadata: ["rows": "\(total)"]) }
        return total
    }

    /// Hold mode: events of visitors never identified are deleted after the shop's hold window.
    func purgeHeld() async throws {
        let now = clock.now()
        let cutoffs = shops.filter { $0.braze.anonymous == .hold }.map { (shop: $0.domain, before: now - EpochMillis($0.braze.holdDays) * 86_400_000) }
        let purged = try await log.purgeHeld(cutoffs: cutoffs)
        if purged > 0 { logger.info("purged held events of unidentified visitors", metadata: ["events": "\(purged)"]) }
    }
}

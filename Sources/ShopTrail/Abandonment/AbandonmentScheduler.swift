import Logging
import ServiceLifecycle

/// Fires due abandonment timers: each one, in one transaction, either queues its Braze event and
/// becomes `fired`, or closes as `expired` (still anonymous) or `suppressed` (cool-down, minimum
/// value, kind disabled). Timers live in the store, so those due while the server was down fire
/// at start-up, once.
///
/// A timer fires only when it was due before the first event the processor has not handled yet
/// (by that event's time), so an order waiting in the log still cancels the timers it makes moot.
public final class AbandonmentScheduler: Service {
    private let database: any StateTransactions
    private let shops: [String: ShopConfig]
    private let clock: any WallClock
    private let logger: Logger
    private let tickMillis: Int64
    private let batchSize: Int

    public init(database: any StateTransactions, config: ShopTrailConfig, clock: any WallClock = SystemClock(), tickMillis: Int64 = 1000,
                batchSize: Int = 500, logger: Logger) {
        self.database = database
        self.shops = Dictionary(config.shops.map { ($0.domain, $0) }, uniquingKeysWith: { first, _ in first })
        self.clock = clock
        self.tickMillis = tickMillis
        self.batchSize = batchSize
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    let fired = try await self.fireDue()
                    if fired.total > 0 { self.logger.info("abandonment timers closed", metadata: fired.metadata) }
                } catch {
                    self.logger.error("abandonment scheduler failed; retrying", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: .milliseconds(self.tickMillis))
            }
        }
    }

    /// What one pass closed.
    public struct Pass: Sendable, Equatable {
        public var fired = 0
        public var expired = 0
        public var suppressed = 0
        public var cancelled = 0
        public var total: Int { fired + expired + suppressed + cancelled }
        var metadata: Logger.Metadata {
            ["fired": "\(fired)", "expired": "\(expired)", "suppressed": "\(suppressed)", "cancelled": "\(cancelled)"]
        }
    }

    /// Closes every timer due now (in batches, one transaction each).
    @discardableResult
    public func fireDue() async throws -> Pass {
        var pass = Pass()
        while true {
            let now = clock.now()
            let batch = try await database.write { state in try self.fireBatch(state, now: now) }
            pass.fired += batch.fired
            pass.expired += batch.expired
            pass.suppressed += batch.suppressed
            pass.cancelled += batch.cancelled
            if batch.total < batchSize { return pass }
        }
    }

    private func fireBatch(_ state: any ProcessorState, now: EpochMillis) throws -> Pass {
        // Activity the processor has not handled yet might cancel a timer: wait for it.
        let horizon = min(now, try state.firstUnprocessedTime() ?? now)
        let timers = state.timers
        var pass = Pass()
        for var timer in try timers.due(before: horizon, limit: batchSize) {
            let outcome = try decide(&timer, now: now, state: state)
            timer.state = outcome
            timer.closedAt = now
            try timers.save(timer)
            let counted: AbandonmentOutcome
            switch outcome {
            case .fired: pass.fired += 1; counted = .fired
            case .expired: pass.expired += 1; counted = .expired
            case .cancelled: pass.cancelled += 1; counted = .cancelled
            case .suppressed, .armed: pass.suppressed += 1; counted = .suppressed
            }
            try timers.count(shop: timer.shop, kind: timer.kind, counted, by: 1)
        }
        return pass
    }

    /// Decides a due timer's fate and, when it fires, queues the event.
    private func decide(_ timer: inout AbandonmentTimer, now: EpochMillis, state: any ProcessorState) throws -> AbandonmentTimerState {
        guard let shop = shops[timer.shop], shop.abandonment[timer.kind].enabled else {
            timer.reason = "kind disabled"
            return .suppressed
        }
        if try state.uninstalledAt(shop: shop.domain) != nil {
            timer.reason = "app uninstalled"
            return .cancelled
        }
        // Known before it was due: by the timer itself, or by the visitor's link.
        var customerId = timer.customerId
        if customerId == nil, let visitorId = timer.visitorId, let visitor = try state.visitor(shop: shop.domain, id: visitorId),
           let linked = visitor.customerId, (visitor.linkedAt ?? 0) <= timer.dueAt {
            customerId = linked
        }
        guard let customerId else {
            timer.reason = "visitor stayed anonymous"
            return .expired
        }
        timer.customerId = customerId
        let customer = try state.customer(shop: shop.domain, id: customerId) ?? Customer(shop: shop.domain, id: customerId)
        guard let externalId = ExternalId.of(customer, strategy: shop.braze.externalId) else {
            timer.reason = "no external id (\(shop.braze.externalId.rawValue)) for the customer"
            return .expired
        }
        let timers = state.timers
        let cooldownKey = "c:" + customerId
        if let last = try timers.lastFired(shop: shop.domain, kind: timer.kind, target: cooldownKey), now - last < shop.abandonment.cooldownMillis {
            timer.reason = "cool-down"
            return .suppressed
        }
        let event = AbandonmentEvent(shop: shop, timer: timer)
        if timer.kind != .browse, shop.abandonment.minimumCartValue > 0, (event.value() ?? 0) < shop.abandonment.minimumCartValue {
            timer.reason = "below minimum cart value"
            return .suppressed
        }
        guard let properties = event.properties() else {
            timer.reason = "nothing to send"
            return .suppressed
        }
        let payload = JSONValue.object(JSONObject(BrazeTarget.externalId(externalId).identifierMembers + [
            ("name", .string(shop.abandonment[timer.kind].eventName)), ("time", .string(Timestamp.format(timer.dueAt))),
            ("properties", .object(properties)),
        ]))
        // The visitor's ordering key: the event follows the identification it depends on.
        let userKey = timer.visitorId.map { "v:" + $0 } ?? "c:" + customerId
        try state.enqueue([BrazeOperation(id: "abandonment:\(timer.kind.rawValue):\(timer.subject):\(timer.generation)", shop: shop.domain,
                                          userKey: userKey, kind: .event, payload: payload.serialized, createdAt: now)])
        try timers.setLastFired(shop: shop.domain, kind: timer.kind, target: cooldownKey, at: now)
        timer.reason = nil
        return .fired
    }
}

import Logging
import ServiceLifecycle

/// The stages `serve` runs behind the HTTP application, assembled in one place so that a test runs
/// the pipeline as `serve` runs it: the processor, the abandonment scheduler and the forwarder.
public struct BackgroundStages: Sendable {
    public let processor: ProcessorService
    public let abandonment: AbandonmentScheduler
    public let forwarder: BrazeForwarder
    public let outbox: any Outbox

    /// `signals`: the console's and `/metrics`' counters (the same object the HTTP application shows).
    /// `senders`: each shop's Braze (its client, or a sandbox); `forwarder` settings default to each shop's packing limit.
    public init(config: ShopTrailConfig, store: any ShopTrailStore, senders: [String: any BrazeSending], forwarder settings: ForwarderSettings? = nil,
                processorIdlePollMillis: EpochMillis = 1_000, clock: any WallClock = SystemClock(), faultHook: ProcessorService.FaultHook? = nil,
                logger: Logger, signals: OperatorSignals? = nil) {
        outbox = store.outbox
        forwarder = BrazeForwarder(outbox: outbox, senders: senders, clock: clock, settings: settings ?? ForwarderSettings(shops: config.shops), logger: logger,
                                   signals: signals)
        processor = ProcessorService(log: store.processorLog, config: config, clock: clock, idlePollMillis: processorIdlePollMillis, faultHook: faultHook, logger: logger)
        abandonment = AbandonmentScheduler(database: store.state, config: config, clock: clock, logger: logger)
    }

    /// The services for a `ServiceGroup`, in start order: `first` (e.g. a Braze sandbox), the forwarder, the scheduler,
    /// the processor, then `app`. A group shuts down in reverse: it stops taking beacons, then processing, then forwarding.
    public func services(app: any Service, first: [any Service] = []) -> [any Service] {
        first + [forwarder, abandonment, processor, app]
    }
}

import Metrics
import Prometheus
import Synchronization

// Prometheus has its own Counter and Gauge: the handles here are swift-metrics' ones.
private typealias MetricCounter = CoreMetrics.Counter
private typealias MetricGauge = CoreMetrics.Gauge
private typealias MetricTimer = CoreMetrics.Timer

/// What the running process counts for the console and `/metrics`: beacons, refusals, events per
/// minute, Braze answers. Kept in memory and per instance (they restart at zero with the process);
/// ingest only increments them, it never waits on storage for them.
public final class OperatorSignals: Sendable {
    /// The registry `/metrics` renders; injected so that tests never bootstrap the process-global `MetricsSystem`.
    public let registry: PrometheusCollectorRegistry
    /// swift-metrics handles are made from this factory (it writes into `registry`).
    public let factory: PrometheusMetricsFactory
    /// The live events page's feed.
    public let live: LiveEvents
    private let state = Mutex(State())
    private let handles = Mutex([AcceptedKey: AcceptedHandles]())

    /// Per shop: what came in and what Braze said.
    public struct ShopCounters: Sendable {
        public var beaconsAccepted = 0
        public var eventsAccepted = 0
        public var refusals: [String: Int] = [:]
        /// Events accepted per minute (minute = epoch millis / 60,000), the last hour only.
        public var eventsPerMinute: [Int64: Int] = [:]
        /// Braze answers by status class (`2xx`, `4xx`, `429`, `5xx`, `none`).
        public var brazeByStatus: [String: Int] = [:]
        /// The latest error answer per endpoint.
        public var latestErrors: [String: (at: EpochMillis, status: Int?, text: String)] = [:]
        /// `X-RateLimit-Remaining` of each endpoint's latest answer.
        public var rateLimitRemaining: [String: Int] = [:]

        /// One accepted beacon of `events` events in `minute`; keeps the last hour of minutes.
        mutating func countAccepted(events: Int, minute: Int64) {
            beaconsAccepted += 1
            eventsAccepted += events
            eventsPerMinute[minute, default: 0] += events
            if eventsPerMinute.count > 61 { eventsPerMinute = eventsPerMinute.filter { $0.key > minute - 60 } }
        }
    }

    struct State {
        var shops: [String: ShopCounters] = [:]
        /// Refusals that name no known shop (a wrong write key), by reason.
        var unattributed: [String: Int] = [:]
    }

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(), live: LiveEvents = LiveEvents()) {
        self.registry = registry
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [.milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
                                                   .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
                                                   .milliseconds(2_500), .seconds(5), .seconds(10)]
        self.factory = factory
        self.live = live
    }

    /// A counters snapshot of `shop`.
    public func counters(shop: String) -> ShopCounters {
        state.withLock { $0.shops[shop] ?? ShopCounters() }
    }

    /// Refusals no shop could be named for, by reason.
    public func unattributedRefusals() -> [String: Int] {
        state.withLock { $0.unattributed }
    }

    // MARK: ingest

    /// A beacon committed: counts it and feeds the live page (without blocking: see `LiveEvents`).
    public func accepted(_ events: [NewEvent], shop: String, route: String, at now: EpochMillis, latency: Duration) {
        let minute = now / 60_000
        // In place (`default:` modifies the stored value): a copy of the counters would copy the
        // per-minute dictionary on every beacon.
        state.withLock { $0.shops[shop, default: ShopCounters()].countAccepted(events: events.count, minute: minute) }
        let handles = acceptedHandles(shop: shop, route: route)
        handles.beacons.increment()
        // A beacon's events almost always share one source: count runs, not a grouping per beacon.
        var index = events.startIndex
        while index < events.endIndex {
            let source = events[index].source
            let run = events[index...].prefix { $0.source == source }.count
            handles.events(source).increment(by: run)
            index += run
        }
        handles.duration.recordNanoseconds(latency.nanoseconds)
        live.publish(events)
    }

    /// The metric handles one shop's accepted beacons on one route update, made once: making them per
    /// beacon (a registry lookup under its lock for each of three) was a measurable share of ingest.
    /// Keyed by a configured shop (the beacon's write key matched it) and a route: a bounded set.
    private func acceptedHandles(shop: String, route: String) -> AcceptedHandles {
        let key = AcceptedKey(shop: shop, route: route)
        if let handles = handles.withLock({ $0[key] }) { return handles }
        let made = AcceptedHandles(shop: shop, route: route, factory: factory)
        return handles.withLock { $0[key, default: made] }
    }

    private struct AcceptedKey: Hashable {
        let shop: String
        let route: String
    }

    private struct AcceptedHandles: Sendable {
        let beacons: MetricCounter
        let duration: MetricTimer
        let storefront: MetricCounter
        let shop: String
        let factory: PrometheusMetricsFactory

        init(shop: String, route: String, factory: PrometheusMetricsFactory) {
            self.shop = shop
            self.factory = factory
            beacons = MetricCounter(label: "shoptrail_beacons_total", dimensions: [("shop", shop), ("route", route), ("outcome", "accepted")], factory: factory)
            duration = MetricTimer(label: "shoptrail_ingest_duration_seconds", dimensions: [("route", route)], factory: factory)
            storefront = Self.events(shop: shop, source: .storefront, factory: factory)
        }

        /// Storefront events (nearly every beacon) from the handle made once; other sources are rare.
        func events(_ source: EventSource) -> MetricCounter {
            source == .storefront ? storefront : Self.events(shop: shop, source: source, factory: factory)
        }

        static func events(shop: String, source: EventSource, factory: PrometheusMetricsFactory) -> MetricCounter {
            MetricCounter(label: "shoptrail_events_total", dimensions: [("shop", shop), ("source", source.rawValue)], factory: factory)
        }
    }

    /// A beacon refused with `reason` (the error code the client got); `shop` when the write key named one.
    public func refused(reason: String, shop: String?, route: String, latency: Duration) {
        state.withLock { state in
            if let shop {
                state.shops[shop, default: ShopCounters()].refusals[reason, default: 0] += 1
            } else {
                state.unattributed[reason, default: 0] += 1
            }
        }
        MetricCounter(label: "shoptrail_beacon_refusals_total", dimensions: [("route", route), ("reason", reason)], factory: factory).increment()
        MetricCounter(label: "shoptrail_beacons_total", dimensions: [("shop", shop ?? "unknown"), ("route", route), ("outcome", "refused")], factory: factory).increment()
        MetricTimer(label: "shoptrail_ingest_duration_seconds", dimensions: [("route", route)], factory: factory).recordNanoseconds(latency.nanoseconds)
    }

    /// Webhook events committed (they appear on the live page too).
    public func webhookAccepted(_ events: [NewEvent], shop: String) {
        MetricCounter(label: "shoptrail_events_total", dimensions: [("shop", shop), ("source", EventSource.webhook.rawValue)], factory: factory).increment(by: events.count)
        live.publish(events)
    }

    // MARK: Braze

    /// One Braze request answered (or not).
    public func brazeAnswered(shop: String, endpoint: String, answer: BrazeAnswer, latency: Duration, at now: EpochMillis) {
        let statusClass = Self.statusClass(answer.status)
        state.withLock { state in
            var counters = state.shops[shop] ?? ShopCounters()
            counters.brazeByStatus[statusClass, default: 0] += 1
            if statusClass != "2xx" {
                counters.latestErrors[endpoint] = (now, answer.status, answer.summary)
            } else if case .success(_, let minor) = answer.response, !minor.isEmpty {
                counters.latestErrors[endpoint] = (now, answer.status, answer.summary)
            }
            if let remaining = answer.rateLimit?.remaining { counters.rateLimitRemaining[endpoint] = remaining }
            state.shops[shop] = counters
        }
        MetricCounter(label: "shoptrail_braze_answers_total", dimensions: [("shop", shop), ("endpoint", endpoint), ("status", answer.status.map(String.init) ?? "none")],
                factory: factory).increment()
        MetricTimer(label: "shoptrail_braze_request_duration_seconds", dimensions: [("endpoint", endpoint)], factory: factory).recordNanoseconds(latency.nanoseconds)
        if let remaining = answer.rateLimit?.remaining {
            MetricGauge(label: "shoptrail_braze_ratelimit_remaining", dimensions: [("shop", shop), ("endpoint", endpoint)], factory: factory).record(remaining)
        }
    }

    static func statusClass(_ status: Int?) -> String {
        guard let status else { return "none" }
        switch status {
        case 429: return "429"
        case 200..<300: return "2xx"
        case 400..<500: return "4xx"
        case 500..<600: return "5xx"
        default: return "other"
        }
    }

    // MARK: scrape

    /// Sets the storage-side gauges, then renders every metric in the Prometheus text format.
    /// `shops`: the configured shops, whose gauges read 0 when storage has no row for them.
    public func render(_ gauges: OperatorGauges, shops: [String]) -> [UInt8] {
        for shop in shops {
            gauge("shoptrail_outbox_depth", [("shop", shop)], gauges.outboxDepth[shop] ?? 0)
            gauge("shoptrail_dead_letters", [("shop", shop)], gauges.deadLetters[shop] ?? 0)
            for kind in AbandonmentKind.allCases {
                gauge("shoptrail_abandonment_timers_armed", [("shop", shop), ("kind", kind.rawValue)], gauges.armedTimers[shop]?[kind.rawValue] ?? 0)
            }
        }
        gauge("shoptrail_processor_lag_events", [], Int(gauges.processorLag))
        return registry.emitToBuffer()
    }

    private func gauge(_ name: String, _ labels: [(String, String)], _ value: Int) {
        MetricGauge(label: name, dimensions: labels, factory: factory).record(value)
    }
}

extension Duration {
    /// Whole nanoseconds, saturating.
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (product, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? .max : product + attoseconds / 1_000_000_000
    }
}

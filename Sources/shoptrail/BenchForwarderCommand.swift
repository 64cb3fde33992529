import ArgumentParser
import AsyncHTTPClient
import Foundation
import Logging
import ServiceLifecycle
import ShopTrail

/// `shoptrail bench-forwarder`: drives the real forwarder against a Braze sandbox in another process
/// and prints delivery figures (Benchmarks/forwarder.sh starts both).
///
/// Load: operations are enqueued at `--rate` per second while the forwarder runs; then the backlog
/// figure: `--outage-seconds` of outage (the sandbox answers 503) while operations keep arriving,
/// and the time from the outage's end until the outbox is empty.
struct BenchForwarderCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench-forwarder", abstract: "Forwarder delivery benchmark for Benchmarks/forwarder.sh.", shouldDisplay: false)

    @Option(help: "Base URL of a running Braze sandbox.") var braze: String
    @Option var apiKey = "sandbox-api-key"
    @Option(help: "Events in the load phase.") var events = 100_000
    @Option(help: "Distinct users.") var users = 5_000
    @Option(help: "Events enqueued per second during the load phase and the outage.") var rate = 5_000
    @Option(help: "Outage length in seconds; 0 skips the outage phase.") var outageSeconds = 600.0
    @Option(help: "Events per second arriving during the outage.") var outageRate = 200
    @Option(help: "Folder for the scratch database.") var data: String
    @Option(help: "Operations per user cycle that are attribute updates (0: events only; 1: every other one).") var attributeEvery = 0
    @Option(help: "Objects per /users/track request, all arrays together (Braze: 75; 50 on the newer MAU packages).") var trackObjects = 75

    func run() async throws {
        var logger = Logger(label: "bench")
        logger.logLevel = .warning
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        let database = try SQLiteDatabase(path: (data as NSString).appendingPathComponent("bench.sqlite"), synchronous: .normal)
        let outbox = SQLiteOutbox(database: database)
        let httpClient = HTTPClient(eventLoopGroupProvider: .singleton)
        let shop = "bench-shop.myshopify.com"
        let client = BrazeClient(httpClient: httpClient, restEndpoint: braze, apiKey: Secret(apiKey))
        var settings = ForwarderSettings()
        settings.packer.maxTrackObjects = trackObjects
        let forwarder = BrazeForwarder(outbox: outbox, senders: [shop: client], settings: settings, logger: logger)
        let clock = SystemClock()
        let sandbox = SandboxProbe(httpClient: httpClient, base: braze)

        let running = Task { try await forwarder.run() }
        defer { running.cancel() }

        // Load phase.
        try await sandbox.post("/_sandbox/reset", "{}")
        let loadStart = clock.now()
        var sequence = 0
        try await Self.produce(outbox: outbox, shop: shop, users: users, count: events, perSecond: rate, attributeEvery: attributeEvery, from: &sequence, clock: clock)
        let produced = clock.now()
        try await Self.waitEmpty(outbox, shop: shop, clock: clock)
        let loadEnd = clock.now()
        let loadStats = try await sandbox.trackRequests()
        let seconds = Double(loadEnd - loadStart) / 1000
        print(String(format: "load: %d events for %d users enqueued at %d/s in %.1f s; delivered in %.1f s (%.1f s after the last enqueue)",
                     events, users, rate, Double(produced - loadStart) / 1000, seconds, Double(loadEnd - produced) / 1000))
        print(String(format: "load: /users/track requests %d (answered 201: %d, 429: %d, 400: %d) = %.2f requests per 1,000 operations; %.0f operations/s, %.0f requests/s",
                     loadStats.total, loadStats.ok, loadStats.limited, loadStats.refused, Double(loadStats.ok) * 1000 / Double(events), Double(events) / seconds, Double(loadStats.total) / seconds))

        // Throughput phase: a backlog enqueued at once, drained as fast as the forwarder and the limit allow.
        try await sandbox.post("/_sandbox/reset", "{}")
        try await Self.produce(outbox: outbox, shop: shop, users: users, count: events, perSecond: nil, attributeEvery: attributeEvery, from: &sequence, clock: clock)
        let drainStart = clock.now()
        try await Self.waitEmpty(outbox, shop: shop, clock: clock)
        let drainSeconds = Double(clock.now() - drainStart) / 1000
        let drainStats = try await sandbox.trackRequests()
        print(String(format: "backlog: %d operations drained in %.1f s = %.0f operations/s, %.0f requests/s (429 answers: %d, 400 answers: %d)",
                     events, drainSeconds, Double(events) / drainSeconds, Double(drainStats.total) / drainSeconds, drainStats.limited, drainStats.refused))
        let mix = attributeEvery > 0 ? "attributes and events mixed, 1 in \(attributeEvery + 1) an attribute update" : "events only"
        print(String(format: "backlog: %.1f objects per /users/track request", Double(events) / Double(max(1, drainStats.ok)))
              + " (limit \(trackObjects) in total; \(mix))")

        guard outageSeconds > 0 else { return }
        // Outage phase: the sandbox answers 503 while events keep arriving.
        try await sandbox.post("/_sandbox/reset", "{}")
        try await sandbox.post("/_sandbox/faults", #"{"outage_seconds": \#(outageSeconds), "status": 503}"#)
        let outageStart = clock.now()
        let outageEvents = Int(outageSeconds * Double(outageRate))
        try await Self.produce(outbox: outbox, shop: shop, users: users, count: outageEvents, perSecond: outageRate, attributeEvery: attributeEvery, from: &sequence, clock: clock)
        let outageEnd = outageStart + EpochMillis(outageSeconds * 1000)
        let backlog = try await outbox.status(shop: shop, now: clock.now()).pending
        try await Self.waitEmpty(outbox, shop: shop, clock: clock)
        let recovered = clock.now()
        let stats = try await sandbox.trackRequests()
        print(String(format: "outage: %.0f s of 503 with %d events/s arriving (%d events, backlog at the end %d); drained %.1f s after the outage ended; requests during it: %d (503: %d)",
                     outageSeconds, outageRate, outageEvents, backlog, Double(recovered - outageEnd) / 1000, stats.total, stats.failed))
        try await httpClient.shutdown()
    }

    /// Enqueues `count` operations round-robin over users, paced at `perSecond` (nil: all at once, in chunks);
    /// with `attributeEvery` n > 0, one in n + 1 is an attribute update instead of an event.
    static func produce(outbox: SQLiteOutbox, shop: String, users: Int, count: Int, perSecond: Int?, attributeEvery: Int, from sequence: inout Int, clock: SystemClock) async throws {
        let chunk = perSecond.map { max(1, $0 / 20) } ?? 2_000
        let start = clock.now()
        var done = 0
        while done < count {
            let n = min(chunk, count - done)
            let now = clock.now()
            let ops = (0..<n).map { i -> BrazeOperation in
                let k = sequence + i
                let user = "user\(k % users)"
                if attributeEvery > 0, k % (attributeEvery + 1) == 0 {
                    return BrazeOperation(id: "op-\(k)", shop: shop, userKey: user, kind: .attributes,
                                          payload: #"{"external_id":"\#(user)","shopify_order_count":"\#(k % 13)","home_city":"City \#(k % 31)"}"#,
                                          createdAt: now)
                }
                return BrazeOperation(id: "op-\(k)", shop: shop, userKey: user, kind: .event,
                                      payload: #"{"external_id":"\#(user)","name":"ecommerce.product_viewed","time":"2026-11-23T10:00:00Z","properties":{"product_id":"\#(k % 977)","product_name":"Product \#(k % 977)","variant_id":"\#(k % 977)1","price":19.9,"currency":"EUR","source":"https://bench-shop.myshopify.com"}}"#,
                                      createdAt: now)
            }
            try await outbox.enqueue(ops)
            sequence += n
            done += n
            if let perSecond {
                let due = start + EpochMillis(Double(done) * 1000 / Double(perSecond))
                let wait = due - clock.now()
                if wait > 0 { try await Task.sleep(for: .milliseconds(wait)) }
            }
        }
    }

    static func waitEmpty(_ outbox: SQLiteOutbox, shop: String, clock: SystemClock) async throws {
        while try await outbox.status(shop: shop, now: clock.now()).pending > 0 {
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}

/// Reads the sandbox's request log over HTTP.
struct SandboxProbe {
    let httpClient: HTTPClient
    let base: String

    func post(_ path: String, _ body: String) async throws {
        var request = HTTPClientRequest(url: base + path)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(Array(body.utf8))
        let response = try await httpClient.execute(request, timeout: .seconds(30))
        _ = try await response.body.collect(upTo: 1 << 20)
    }

    /// `/users/track` requests by answer since the last reset.
    func trackRequests() async throws -> (total: Int, ok: Int, limited: Int, failed: Int, refused: Int) {
        let response = try await httpClient.execute(HTTPClientRequest(url: base + "/_sandbox/stats"), timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 1 << 24)
        let json = try JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any] ?? [:]
        return Self.counts(json)
    }

    static func counts(_ stats: [String: Any]) -> (total: Int, ok: Int, limited: Int, failed: Int, refused: Int) {
        let byEndpoint = stats["requests"] as? [String: Any] ?? [:]
        let statuses = byEndpoint.first { $0.key.hasSuffix("users/track") }?.value as? [String: Int] ?? [:]
        let total = statuses.values.reduce(0, +)
        let failed = statuses.filter { $0.key.hasPrefix("5") }.values.reduce(0, +)
        return (total, statuses["201"] ?? 0, statuses["429"] ?? 0, failed, statuses["400"] ?? 0)
    }
}

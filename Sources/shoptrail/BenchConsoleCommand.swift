import ArgumentParser
import Synchronization
import AsyncHTTPClient
import Foundation
import Logging
import ServiceLifecycle
import ShopTrail

/// `shoptrail bench-console`: fills a store with a million events (in bulk, through Storage), serves the
/// console on it and prints each page's answer time over real HTTP (Benchmarks/console.sh runs it).
struct BenchConsoleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench-console", abstract: "Console page timings on a large store (Benchmarks/console.sh).", shouldDisplay: false)

    @Option(help: "Events in the store.") var events = 1_000_000
    @Option(help: "Requests per page; the median and the slowest are printed.") var repeats = 20
    @Option(help: "Folder for the scratch database (reused when it already holds the events).") var data: String
    @Option(help: "Answer time every page must stay under, in milliseconds.") var budgetMillis = 200.0

    func run() async throws {
        var logger = Logger(label: "bench")
        logger.logLevel = .warning
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        let shop = "bench-shop.myshopify.com"
        let path = (data as NSString).appendingPathComponent("bench.sqlite")
        let fresh = !FileManager.default.fileExists(atPath: path)
        let store = try SQLiteEventStore(path: path, synchronous: .normal)
        let now = SystemClock().now()
        let started = Date()
        let filled: SQLiteBenchmarkFill.Filled
        if fresh {
            filled = try SQLiteBenchmarkFill.fill(store.database, shop: shop, events: events, now: now)
            print(String(format: "filled %d events in %.1f s", events, Date().timeIntervalSince(started)))
        } else {
            filled = .init(events: try await store.eventCount(), aCustomer: "1000", aVisitor: "v_bench_0", anEmail: "bench1000@example.com")
            print("reusing \(path) (\(filled.events) events)")
        }
        let token = Secret("bench-console-token-0123456789")
        var config = ShopTrailConfig.demo(host: "127.0.0.1", port: 0)
        config.shops = [ShopConfig(domain: shop, writeKey: "pk_bench", allowedOrigins: [], snippetSecret: nil, shopify: ShopifyConfig(), braze: BrazeConfig())]
        let port = PortBox()
        let app = buildApplication(AppDependencies(config: config, store: store, logger: logger, adminToken: token), host: "127.0.0.1", port: 0) { bound in
            port.set(bound)
        }
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        let serving = Task { try await group.run() }
        let httpClient = HTTPClient(eventLoopGroupProvider: .singleton)
        defer { serving.cancel() }
        var bound = 0
        for _ in 0..<600 where bound == 0 {
            bound = port.get()
            if bound == 0 { try await Task.sleep(for: .milliseconds(50)) }
        }
        let base = "http://127.0.0.1:\(bound)"
        let pages = [
            ("overview", "/console?shop=\(shop)"),
            ("person by customer id", "/console/person?shop=\(shop)&q=\(filled.aCustomer)"),
            ("person by email", "/console/person?shop=\(shop)&q=\(filled.anEmail.replacingOccurrences(of: "@", with: "%40"))"),
            ("person by visitor id", "/console/person?shop=\(shop)&q=\(filled.aVisitor)"),
            ("person not found", "/console/person?shop=\(shop)&q=nobody"),
            ("dead letters", "/console/dead-letters?shop=\(shop)"),
            ("install check", "/console/install?shop=\(shop)"),
            ("live events (page)", "/console/live?shop=\(shop)"),
            ("metrics", "/metrics"),
        ]
        var over = 0
        print("page                      median ms   slowest ms   bytes")
        for (name, uri) in pages {
            var times: [Double] = []
            var bytes = 0
            for _ in 0..<(repeats + 1) {
                var request = HTTPClientRequest(url: base + uri)
                request.headers.add(name: "Authorization", value: "Bearer \(token.value)")
                let start = ContinuousClock.now
                let response = try await httpClient.execute(request, timeout: .seconds(60))
                let body = try await response.body.collect(upTo: 64 * 1024 * 1024)
                let elapsed = ContinuousClock.now - start
                guard response.status == .ok else { throw ValidationError("\(uri) answered \(response.status.code)") }
                bytes = body.readableBytes
                times.append(Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15)
            }
            times.removeFirst()  // the first request warms the page cache
            times.sort()
            let median = times[times.count / 2], slowest = times.last ?? 0
            if median > budgetMillis { over += 1 }
            let label = name.padding(toLength: 25, withPad: " ", startingAt: 0)
            print(label + String(format: " %9.1f %12.1f %8d", median, slowest, bytes) + (median > budgetMillis ? "  OVER BUDGET" : ""))
        }
        try await httpClient.shutdown()
        await group.triggerGracefulShutdown()
        _ = try? await serving.value
        print(over == 0 ? "every page's median is under \(Int(budgetMillis)) ms with \(filled.events) events" : "\(over) page(s) over \(Int(budgetMillis)) ms")
        if over > 0 { throw ExitCode(1) }
    }
}

/// The port the application bound, once it listens.
final class PortBox: Sendable {
    private let value = Mutex<Int>(0)
    func set(_ port: Int) { value.withLock { $0 = port } }
    func get() -> Int { value.withLock { $0 } }
}

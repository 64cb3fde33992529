import Foundation
import Logging

/// Arms and fires many cart timers through the real tracker, store and scheduler, for
/// `Benchmarks/abandonment.sh` (`shoptrail bench-abandonment`).
public enum AbandonmentBenchmark {
    /// What one run measured.
    public struct Result: Sendable {
        public var timers: Int
        public var armSeconds: Double
        public var fireSeconds: Double
        public var fired: Int
        public var rssBeforeKB: Int
        public var rssAfterArmKB: Int
        public var peakRSSKB: Int
        public var databaseBytes: Int64
    }

    /// Arms `timers` cart timers of known customers (1,000 per transaction, as the processor commits
    /// chunks), then moves the clock past their due time and lets the scheduler fire them all.
    public static func run(timers: Int, directory: String, logger: Logger) async throws -> Result {
        let path = (directory as NSString).appendingPathComponent("bench-abandonment.sqlite")
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        let database = try SQLiteDatabase(path: path, synchronous: .normal)
        var config = AbandonmentConfig()
        config.cart.enabled = true
        let shop = ShopConfig(domain: "bench.myshopify.com", writeKey: "pk_bench", allowedOrigins: [], snippetSecret: nil,
                              shopify: ShopifyConfig(), braze: BrazeConfig(), abandonment: config)
        let t0: EpochMillis = 1_800_000_000_000
        let tracker = AbandonmentTracker()
        let rssBefore = memory().rss
        let armStart = ContinuousClock.now
        let chunk = 1_000
        var armed = 0
        while armed < timers {
            let count = min(chunk, timers - armed)
            let first = armed
            try await database.write { state in
                for i in first..<(first + count) {
                    var visitor = Visitor(shop: shop.domain, id: "v_\(i)", firstSeen: t0)
                    visitor.customerId = String(7_000_000_000_000 + i)
                    let cart = JSONObject([
                        ("cart_token", .string("c1-\(i)")), ("currency", .string("EUR")), ("total_price", .number("4990")),
                        ("items", .array([.object(JSONObject([
                            ("product_id", .string("8012345678901")), ("variant_id", .string("44012345678901")), ("quantity", .number("1")),
                            ("product_title", .string("Linen shirt")), ("final_price", .number("4990")), ("url", .string("/products/linen-shirt")),
                            ("image", .string("//cdn.shopify.com/s/files/linen.jpg")),
                        ]))])),
                    ])
                    // Spread over an hour of arrivals, as real traffic would be.
                    try tracker.cartChanged(cart, token: "c1-\(i)", checkedOut: false, visitor: visitor, at: t0 + EpochMillis(i % 3_600_000),
                                            shop: shop, state: state)
                }
            }
            armed += count
        }
        let armSeconds = (ContinuousClock.now - armStart).inSeconds
        let rssAfterArm = memory().rss
        let clock = BenchClock(fixed: t0 + 10 * AbandonmentConfig.hour)
        let scheduler = AbandonmentScheduler(database: database, config: ShopTrailConfig(server: ServerConfig(publicURL: "http://127.0.0.1"), shops: [shop], origin: "bench"),
                                             clock: clock, logger: logger)
        let fireStart = ContinuousClock.now
        let pass = try await scheduler.fireDue()
        let fireSeconds = (ContinuousClock.now - fireStart).inSeconds
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int64) ?? 0
        return Result(timers: timers, armSeconds: armSeconds, fireSeconds: fireSeconds, fired: pass.fired, rssBeforeKB: rssBefore,
                      rssAfterArmKB: rssAfterArm, peakRSSKB: memory().peak, databaseBytes: size)
    }

    private struct BenchClock: WallClock {
        let fixed: EpochMillis
        func now() -> EpochMillis { fixed }
    }

    /// Resident and peak resident memory of this process, in KB (Linux `/proc/self/status`).
    static func memory() -> (rss: Int, peak: Int) {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return (0, 0) }
        func value(_ key: String) -> Int {
            guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(key) }) else { return 0 }
            return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "0") ?? 0
        }
        return (value("VmRSS:"), value("VmHWM:"))
    }
}

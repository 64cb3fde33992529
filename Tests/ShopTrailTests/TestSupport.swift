import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Synchronization
@testable import ShopTrail

/// A clock tests set by hand.
final class ManualClock: WallClock {
    private let current: Mutex<EpochMillis>
    init(_ start: EpochMillis = 1_795_428_000_000) { current = Mutex(start) }
    func now() -> EpochMillis { current.withLock { $0 } }
    func set(_ value: EpochMillis) { current.withLock { $0 = value } }
}

/// A store that is down: every call fails (for 503 paths).
struct UnavailableStore: EventStore {
    struct Down: Error {}
    func append(_ events: [NewEvent]) async throws -> AppendResult { throw Down() }
    func events(after position: Int64, limit: Int) async throws -> [LoggedEvent] { throw Down() }
    func eventCount() async throws -> Int { throw Down() }
    func checkHealth() async throws { throw Down() }
    func commitStats() -> CommitStats { CommitStats() }
}

/// A temporary folder holding a real SQLite store, removed at deinit.
final class TempStore: @unchecked Sendable {
    let dir: URL
    let store: SQLiteEventStore
    var path: String { dir.appendingPathComponent("shoptrail.sqlite").path }

    init() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("shoptrail-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        store = try SQLiteEventStore(path: dir.appendingPathComponent("shoptrail.sqlite").path)
    }

    deinit { try? FileManager.default.removeItem(at: dir) }
}

enum Fixtures {
    static let shopA = ShopConfig(
        domain: "a-shop.myshopify.com", writeKey: "pk_a_1",
        allowedOrigins: ["https://a-shop.myshopify.com", "https://www.a-shop.com"],
        snippetSecret: Secret("snippet-secret-a"), shopify: ShopifyConfig(apiSecret: Secret("api-secret-a")), braze: BrazeConfig()
    )
    static let shopB = ShopConfig(
        domain: "b-shop.myshopify.com", writeKey: "pk_b_1", allowedOrigins: ["https://b-shop.myshopify.com"],
        snippetSecret: nil, shopify: ShopifyConfig(), braze: BrazeConfig()
    )
    static let config = ShopTrailConfig(server: ServerConfig(publicURL: "http://127.0.0.1:8080"), shops: [shopA, shopB], origin: "tests")

    static func logger() -> Logger {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return logger
    }

    static func app(store: any ShopTrailStore, clock: any WallClock = ManualClock(), limits: CollectorLimits = .init()) -> some ApplicationProtocol {
        buildApplication(AppDependencies(config: config, store: store, clock: clock, limits: limits, logger: logger()), host: "127.0.0.1", port: 0)
    }

    /// The collector on a log that is down: no admin surface.
    static func app(collectorOnly store: any EventStore) -> some ApplicationProtocol {
        buildApplication(AppDependencies(config: config, collectorOnly: store, clock: ManualClock(), logger: logger()), host: "127.0.0.1", port: 0)
    }

    /// A valid batch body; `events` are (id, name) pairs.
    static func batch(
        writeKey: String = "pk_a_1", visitor: String = "v_0123456789", sentAt: String? = "2026-11-23T10:00:00.000Z",
        events: [(String, String)] = [("e1", "page_viewed")], time: String? = "2026-11-23T09:59:58.000Z"
    ) -> String {
        let items = events.map { (id, name) -> String in
            let timeField = time.map { #","time":"\#($0)""# } ?? ""
            return #"{"id":"\#(id)","name":"\#(name)"\#(timeField),"properties":{"url":"https://a-shop.myshopify.com/products/x","product_id":9007199254740993}}"#
        }.joined(separator: ",")
        let sent = sentAt.map { #","sent_at":"\#($0)""# } ?? ""
        return #"{"write_key":"\#(writeKey)","visitor_id":"\#(visitor)","session_id":"s_1"\#(sent),"context":{"page":{"type":"product"}},"events":[\#(items)]}"#
    }
}

extension TestClientProtocol {
    /// POSTs `body` to the collector and returns status and body text.
    func postBatch(_ body: String, contentType: String = "text/plain;charset=UTF-8", origin: String? = nil) async throws -> (HTTPResponse.Status, String, HTTPFields) {
        var headers: HTTPFields = [.contentType: contentType]
        if let origin { headers[.origin] = origin }
        return try await execute(uri: "/v1/batch", method: .post, headers: headers, body: ByteBuffer(string: body)) { response in
            (response.status, String(buffer: response.body), response.headers)
        }
    }
}

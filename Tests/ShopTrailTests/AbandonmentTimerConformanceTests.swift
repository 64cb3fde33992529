import Dispatch
import Foundation
import Testing
@testable import ShopTrail

/// One transaction over the timer store, on either engine (and a linked visitor, which the
/// cancellation by customer looks up).
protocol TimerTransactions: Sendable {
    func run<T: Sendable>(_ body: @escaping @Sendable (any AbandonmentTimerStore) throws -> T) async throws -> T
    func link(shop: String, visitorId: String, customerId: String) async throws
}

struct SQLiteTimerTransactions: TimerTransactions {
    let database: SQLiteDatabase
    func run<T: Sendable>(_ body: @escaping @Sendable (any AbandonmentTimerStore) throws -> T) async throws -> T {
        try await database.write { try body($0.timers) }
    }
    func link(shop: String, visitorId: String, customerId: String) async throws {
        try await database.write { state in
            var visitor = Visitor(shop: shop, id: visitorId, firstSeen: 1)
            visitor.customerId = customerId
            try state.save(visitor)
        }
    }
}

struct PostgresTimerTransactions: TimerTransactions {
    let database: PostgresDatabase
    func run<T: Sendable>(_ body: @escaping @Sendable (any AbandonmentTimerStore) throws -> T) async throws -> T {
        try await database.blockingTransaction { try body(PostgresAbandonmentTimers(connection: $0)) }
    }
    func link(shop: String, visitorId: String, customerId: String) async throws {
        try await database.blockingTransaction { connection in
            try connection.rows("""
                INSERT INTO visitors (shop, visitor_id, customer_id, first_seen, last_seen) VALUES (\(shop), \(visitorId), \(customerId), 1, 1)
                """)
        }
    }
}

extension StorageEngineUnderTest {
    func withTimers(_ body: @Sendable (any TimerTransactions) async throws -> Void) async throws {
        try await with(sqlite: { SQLiteTimerTransactions(database: $0.database) as any TimerTransactions },
                       postgres: { PostgresTimerTransactions(database: $0) }, body)
    }
}

/// The abandonment timer store's contract on every engine, and on PostgreSQL that two schedulers
/// asking for due timers at the same moment never get the same timer.
@Suite struct AbandonmentTimerConformanceTests {
    static let shop = "a-shop.myshopify.com"

    static func timer(_ kind: AbandonmentKind, _ subject: String, visitor: String? = nil, customer: String? = nil, due: EpochMillis) -> AbandonmentTimer {
        AbandonmentTimer(shop: shop, kind: kind, subject: subject, visitorId: visitor, customerId: customer, armedAt: due - 100, dueAt: due,
                         detail: #"{"products":[{"id":"1"}]}"#)
    }

    @Test(arguments: StorageEngineUnderTest.allCases)
    func timersAreSavedRearmedCancelledAndCounted(engine: StorageEngineUnderTest) async throws {
        try await engine.withTimers { timers async throws in
            try await timers.run { store in
                try store.save(Self.timer(.browse, "v1", visitor: "v1", due: 5_000))
                try store.save(Self.timer(.cart, "cart-1", visitor: "v1", due: 3_000))
                try store.save(Self.timer(.cart, "cart-2", visitor: "v2", due: 4_000))
                try store.save(Self.timer(.checkout, "ck-1", visitor: "v3", customer: "c9", due: 2_000))
            }
            let browse = try await timers.run { try $0.timer(shop: Self.shop, kind: .browse, subject: "v1") }
            #expect(browse == Self.timer(.browse, "v1", visitor: "v1", due: 5_000))
            // Re-armed in place: one row per (kind, subject).
            let rearmed = { var t = Self.timer(.browse, "v1", visitor: "v1", due: 9_000); t.generation = 2; return t }()
            try await timers.run { try $0.save(rearmed) }
            #expect(try await timers.run { try $0.timer(shop: Self.shop, kind: .browse, subject: "v1") } == rearmed)

            #expect(try await timers.run { try $0.due(before: 4_000, limit: 10).map(\.subject) } == ["ck-1", "cart-1", "cart-2"])
            #expect(try await timers.run { try $0.due(before: 4_000, limit: 2).map(\.subject) } == ["ck-1", "cart-1"])
            #expect(try await timers.run { try $0.hasArmed(shop: Self.shop, kinds: [.cart], visitorId: "v2", customerId: nil) })
            #expect(try await timers.run { try $0.hasArmed(shop: Self.shop, kinds: [.checkout], visitorId: "nobody", customerId: "c9") })
            #expect(try await !timers.run { try $0.hasArmed(shop: Self.shop, kinds: [.browse], visitorId: "v2", customerId: nil) })

            // v1 logs in as c1: its unowned timers become c1's; an order of c1 then cancels them, except the cart being ordered.
            try await timers.link(shop: Self.shop, visitorId: "v1", customerId: "c1")
            try await timers.run { try $0.assignUnowned(shop: Self.shop, kinds: [.browse, .cart], visitorId: "v1", customerId: "c1") }
            #expect(try await timers.run { try $0.timer(shop: Self.shop, kind: .cart, subject: "cart-1")?.customerId } == "c1")
            let cancelled = try await timers.run {
                try $0.cancelArmed(shop: Self.shop, kinds: [.browse, .cart], visitorIds: [], customerId: "c1", subjects: [], except: "cart-1",
                                   reason: "ordered", at: 6_000)
            }
            #expect(cancelled == [.browse])
            let closed = try #require(try await timers.run { try $0.timer(shop: Self.shop, kind: .browse, subject: "v1") })
            #expect(closed.state == .cancelled && closed.reason == "ordered" && closed.closedAt == 6_000)
            // By subject, and a closed timer is not cancelled twice.
            #expect(try await timers.run {
                try $0.cancelArmed(shop: Self.shop, kinds: [.cart, .browse], visitorIds: ["v1"], customerId: nil, subjects: ["cart-2"], except: nil,
                                   reason: "emptied", at: 7_000)
            }.sorted { $0.rawValue < $1.rawValue } == [.cart, .cart])

            try await timers.run { store in
                try store.setLastFired(shop: Self.shop, kind: .cart, target: "c1", at: 8_000)
                try store.count(shop: Self.shop, kind: .cart, .fired, by: 2)
                try store.count(shop: Self.shop, kind: .cart, .fired, by: 1)
                try store.count(shop: Self.shop, kind: .browse, .cancelled, by: 1)
            }
            #expect(try await timers.run { try $0.lastFired(shop: Self.shop, kind: .cart, target: "c1") } == 8_000)
            #expect(try await timers.run { try $0.lastFired(shop: Self.shop, kind: .cart, target: "c2") } == nil)
            #expect(try await timers.run { try $0.outcomes(shop: Self.shop) } == [.cart: [.fired: 3], .browse: [.cancelled: 1]])
            let armed = try await timers.run { try $0.armed(shop: Self.shop).mapValues { "\($0.count)@\($0.nextDueAt ?? -1)" } }
            #expect(armed == [.checkout: "1@2000"])
        }
    }

    @Test func twoSchedulersOnOnePostgresNeverTakeTheSameDueTimer() async throws {
        try await StorageEngineUnderTest.withFreshDatabase { database async throws in
            let timers = PostgresTimerTransactions(database: database)
            try await timers.run { store in
                for i in 0..<10 { try store.save(Self.timer(.cart, "cart-\(i)", visitor: "v\(i)", due: 1_000 + EpochMillis(i))) }
            }
            let firstHolds = DispatchSemaphore(value: 0), secondTook = DispatchSemaphore(value: 0)
            // The first scheduler's transaction stays open until the second has asked too.
            async let first = timers.run { store -> [String] in
                let due = try store.due(before: 5_000, limit: 6)
                firstHolds.signal()
                _ = secondTook.wait(timeout: .now() + 120)
                for var timer in due {
                    timer.state = .fired
                    try store.save(timer)
                }
                return due.map(\.subject)
            }
            async let second = timers.run { store -> [String] in
                _ = firstHolds.wait(timeout: .now() + 120)
                let due = try store.due(before: 5_000, limit: 6)
                secondTook.signal()
                for var timer in due {
                    timer.state = .fired
                    try store.save(timer)
                }
                return due.map(\.subject)
            }
            let (a, b) = try await (first, second)
            #expect(a.count == 6 && b.count == 4, "first \(a), second \(b)")
            #expect(Set(a).isDisjoint(with: b))
            #expect(Set(a + b) == Set((0..<10).map { "cart-\($0)" }))
            #expect(try await timers.run { try $0.due(before: 5_000, limit: 10) }.isEmpty)
        }
    }
}

import Foundation
import Synchronization
import Testing
@testable import ShopTrail

/// The event log's contract, on every engine: appends are durable and de-duplicated, a batch's
/// shared context reads back on each event, and a reader tailing the log while many writers append
/// sees every event exactly once (positions never appear out of order).
@Suite struct EventLogConformanceTests {
    static func event(_ id: String, shop: String = "a-shop.myshopify.com", context: String? = nil) -> NewEvent {
        NewEvent(shop: shop, source: .storefront, eventId: id, name: "page_viewed", visitorId: "v_0123456789", sessionId: "s_1",
                 clientTime: 1, time: 2, receivedAt: 3, context: context, properties: #"{"path":"/"}"#, verified: nil)
    }

    @Test(arguments: StorageEngineUnderTest.allCases)
    func appendsAreDeduplicatedAndReadBackInOrder(engine: StorageEngineUnderTest) async throws {
        try await engine.withEventStore { store async throws in
            #expect(try await store.append([Self.event("a"), Self.event("b")]) == AppendResult(inserted: 2, duplicates: 0))
            // A retried beacon: the same ids add nothing; another source or shop is another event.
            #expect(try await store.append([Self.event("a"), Self.event("c")]) == AppendResult(inserted: 1, duplicates: 1))
            var webhook = Self.event("a")
            webhook.source = .webhook
            #expect(try await store.append([webhook, Self.event("a", shop: "b-shop.myshopify.com")]) == AppendResult(inserted: 2, duplicates: 0))
            #expect(try await store.eventCount() == 5)
            let all = try await store.events(after: 0, limit: 100)
            #expect(all.map(\.event.eventId) == ["a", "b", "c", "a", "a"])
            #expect(zip(all, all.dropFirst()).allSatisfy { $0.position < $1.position })
            #expect(all.first?.event == Self.event("a"))
            let rest = try await store.events(after: all[1].position, limit: 2)
            #expect(rest.map(\.position) == [all[2].position, all[3].position])
            try await store.checkHealth()
        }
    }

    @Test(arguments: StorageEngineUnderTest.allCases)
    func aBatchsSharedContextReadsBackOnEachEvent(engine: StorageEngineUnderTest) async throws {
        try await engine.withEventStore { store async throws in
            let context = #"{"page":{"url":"https://a-shop.example/products/x"},"claim":"signed"}"#
            _ = try await store.append([Self.event("x1", context: context), Self.event("x2", context: context), Self.event("x3", context: context)])
            // A retry of part of the batch with one new event: the new one gets the context too.
            _ = try await store.append([Self.event("x3", context: context), Self.event("x4", context: context)])
            _ = try await store.append([Self.event("lone", context: #"{"own":true}"#)])
            let events = try await store.events(after: 0, limit: 10)
            #expect(events.map(\.event.eventId) == ["x1", "x2", "x3", "x4", "lone"])
            #expect(events.prefix(4).allSatisfy { $0.event.context == context })
            #expect(events.last?.event.context == #"{"own":true}"#)
        }
    }

    /// Concurrent appends share commits: a batch sent twice at once (a tracker retry racing its original) is
    /// stored once, each answer counts its own events, and every stored event keeps its batch's context.
    @Test(arguments: StorageEngineUnderTest.allCases)
    func concurrentRetriesOfOneBatchAreStoredOnceWithTheirContexts(engine: StorageEngineUnderTest) async throws {
        try await engine.withEventStore { store async throws in
            let batches = 40, copies = 3
            let results = try await withThrowingTaskGroup(of: AppendResult.self) { group in
                for b in 0..<batches {
                    for _ in 0..<copies {
                        group.addTask {
                            let context = #"{"batch":\#(b)}"#
                            // Even batches share one context (stored once); odd ones carry a context per event.
                            return try await store.append((0..<3).map { e in
                                Self.event("b\(b)-e\(e)", context: b % 2 == 0 ? context : #"{"batch":\#(b),"e":\#(e)}"#)
                            })
                        }
                    }
                }
                return try await group.reduce(into: [AppendResult]()) { $0.append($1) }
            }
            #expect(results.count == batches * copies)
            #expect(results.allSatisfy { $0.inserted + $0.duplicates == 3 })
            #expect(results.reduce(0) { $0 + $1.inserted } == batches * 3)
            let events = try await store.events(after: 0, limit: 1_000)
            #expect(events.count == batches * 3)
            for logged in events {
                let parts = logged.event.eventId.dropFirst().split(separator: "-e")
                guard parts.count == 2, let b = Int(parts[0]), let e = Int(parts[1]) else {
                    Issue.record("unexpected id \(logged.event.eventId)"); continue
                }
                #expect(logged.event.context == (b % 2 == 0 ? #"{"batch":\#(b)}"# : #"{"batch":\#(b),"e":\#(e)}"#))
            }
        }
    }

    @Test(arguments: StorageEngineUnderTest.allCases)
    func aReaderTailingConcurrentWritersSeesEveryEventExactlyOnce(engine: StorageEngineUnderTest) async throws {
        try await engine.withEventStore { store async throws in
            let writers = 8, batches = 60
            let writing = WritersLeft(writers)
            let seen = try await withThrowingTaskGroup(of: [String].self) { group in
                for w in 0..<writers {
                    group.addTask {
                        for b in 0..<batches {
                            _ = try await store.append([Self.event("w\(w)-b\(b)-1"), Self.event("w\(w)-b\(b)-2")])
                        }
                        writing.count.subtract(1, ordering: .sequentiallyConsistent)
                        return []
                    }
                }
                // The reader moves its cursor exactly as the processor does: past the last event it read.
                group.addTask {
                    var cursor: Int64 = 0
                    var ids: [String] = []
                    let deadline = ContinuousClock.now + .seconds(600)
                    while ContinuousClock.now < deadline {
                        let finished = writing.count.load(ordering: .sequentiallyConsistent) == 0
                        let page = try await store.events(after: cursor, limit: 37)
                        ids += page.map(\.event.eventId)
                        cursor = page.last?.position ?? cursor
                        if finished && page.isEmpty { break }
                        if page.isEmpty { try await Task.sleep(for: .milliseconds(2)) }
                    }
                    return ids
                }
                return try await group.reduce(into: [String]()) { $0 += $1 }
            }
            let expected = Set((0..<writers).flatMap { w in (0..<batches).flatMap { b in ["w\(w)-b\(b)-1", "w\(w)-b\(b)-2"] } })
            #expect(seen.count == expected.count, "the tailing reader saw \(seen.count) events of \(expected.count)")
            #expect(Set(seen) == expected)
        }
    }
}

/// How many writers are still appending (shared by the tasks of one test).
final class WritersLeft: Sendable {
    let count: Atomic<Int>
    init(_ count: Int) { self.count = Atomic(count) }
}

import Foundation
import ServiceLifecycle
import Testing
@testable import ShopTrail

/// The background stages as `serve` runs them (`BackgroundStages` in a `ServiceGroup`, each stage's own loop),
/// not driven round by round: a webhook in, its Braze profile out, then a graceful stop.
@Suite struct BackgroundStagesTests {
    @Test func theStagesRunAsServeRunsThemAndStopGracefully() async throws {
        try await WebhookTests.with { p in
            let group = ServiceGroup(configuration: .init(services: [p.forwarder, p.processor], gracefulShutdownSignals: [], logger: Fixtures.logger()))
            let running = Task { try await group.run() }
            #expect(try await WebhookTests.post(p, "customers/update", body: try ShopifySampleWebhookTests.sample("metadatas/2026-04/customers/update.json")).0 == .ok)
            #expect(try await WebhookTests.post(p, "orders/create").0 == .ok)
            // Generous deadline: the machine is shared; the stages poll and pace on their own clocks.
            let deadline = ContinuousClock.now + .seconds(120)
            var names: [String] = []
            while ContinuousClock.now < deadline {
                names = try await p.eventNames(WebhookTests.customer)
                if names.contains("ecommerce.order_placed"), try await p.user("706405506930370000") != nil { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(names.contains("ecommerce.order_placed"), "\(names)")
            #expect(try await p.user("706405506930370000") != nil)
            await group.triggerGracefulShutdown()
            try await running.value
            #expect(try await p.outbox.status(shop: WebhookTests.domain, now: SystemClock().now()).pending == 0)
        }
    }
}

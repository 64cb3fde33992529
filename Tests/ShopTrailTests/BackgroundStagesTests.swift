import AsyncHTTPClient
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

    /// Idle stages are woken by what they wait for, not by polling: with idle timeouts of ten minutes, a
    /// webhook still reaches Braze (the processor wakes on the log commit, the forwarder on the enqueue),
    /// and a graceful stop does not wait for the timeouts.
    @Test func idleStagesAreWokenByCommitsNotByPolling() async throws {
        try await WebhookTests.with { p in
            let httpClient = HTTPClient(eventLoopGroupProvider: .singleton)
            let client = BrazeClient(httpClient: httpClient, restEndpoint: "http://127.0.0.1:\(p.sandbox.port ?? 0)",
                                     apiKey: Secret(IdentityScenarioTests.brazeKey), timeout: .seconds(120))
            var settings = ForwarderSettings(shops: p.config.shops)
            settings.idlePollMillis = 600_000
            settings.lingerMillis = 0
            let stages = BackgroundStages(config: p.config, store: p.temp.store, senders: [WebhookTests.domain: client], forwarder: settings,
                                          processorIdlePollMillis: 600_000, logger: Fixtures.logger())
            let group = ServiceGroup(configuration: .init(services: [stages.forwarder, stages.processor], gracefulShutdownSignals: [], logger: Fixtures.logger()))
            let running = Task { try await group.run() }
            // Let both stages reach their idle wait first.
            try await Task.sleep(for: .milliseconds(500))
            #expect(try await WebhookTests.post(p, "customers/update", body: try ShopifySampleWebhookTests.sample("metadatas/2026-04/customers/update.json")).0 == .ok)
            let deadline = ContinuousClock.now + .seconds(120)
            while ContinuousClock.now < deadline, try await p.user("706405506930370000") == nil {
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(try await p.user("706405506930370000") != nil, "woken by the commit and the enqueue, well before the ten-minute timeouts")
            await group.triggerGracefulShutdown()
            try await running.value
            try await httpClient.shutdown()
        }
    }
}

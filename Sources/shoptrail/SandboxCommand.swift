import ArgumentParser
import BrazeSandbox
import Foundation
import Hummingbird

/// `shoptrail sandbox …`: the emulators ShopTrail is tested against, runnable for demos.
struct SandboxCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sandbox",
        abstract: "Run an emulator of an external service.",
        subcommands: [BrazeSandboxCommand.self, ShopifySandboxCommand.self]
    )
}

/// `shoptrail sandbox braze`: the Braze REST API emulator with its `/_sandbox/*` inspection routes.
struct BrazeSandboxCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "braze", abstract: "Run the Braze REST API sandbox.")

    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port to listen on; 0 picks a free one.") var port = 9090
    @Option(help: "Accepted REST API key (repeatable).") var apiKey: [String] = ["sandbox-api-key"]
    @Option(help: "Rate limit as REQUESTS/SECONDS applied to every endpoint group, e.g. 3000/3; by default each group has Braze's documented limit.")
    var rateLimit: String?
    @Flag(help: "No rate limits at all (and no X-RateLimit-* headers).") var noRateLimits = false
    @Option(help: "Objects allowed per /users/track request, attributes + events + purchases in total: 75 (Braze's current limit) or 50 (Monthly Active Users CY 24-25 accounts).")
    var trackObjects = 75
    @Flag(help: "Legacy accounts: 75 attributes, 75 events and 75 purchases per /users/track request, no combined cap.")
    var legacyPerArrayLimits = false

    func validate() throws {
        guard trackObjects > 0 else { throw ValidationError("--track-objects must be a positive number (75 or 50)") }
        if noRateLimits && rateLimit != nil { throw ValidationError("--no-rate-limits and --rate-limit exclude each other") }
    }

    func run() async throws {
        var configuration = BrazeSandboxConfiguration()
        configuration.apiKeys = apiKey.map { BrazeAPIKey($0) }
        configuration.limits.maxTrackObjects = trackObjects
        configuration.limits.legacyPerArrayLimits = legacyPerArrayLimits
        if noRateLimits { configuration.rateLimitDefaults = [:] }
        if let rateLimit {
            let parts = rateLimit.split(separator: "/")
            guard parts.count == 2, let requests = Int(parts[0]), let seconds = Double(parts[1]), requests > 0, seconds > 0, seconds.isFinite else {
                throw ValidationError("--rate-limit must look like 3000/3 (requests per seconds)")
            }
            configuration.rateLimit = BrazeRateLimit(requests: requests, windowSeconds: seconds)
        }
        let trackLimit = legacyPerArrayLimits ? "75 per array (legacy)" : "\(trackObjects) objects in total"
        let rateLimits = noRateLimits ? "none" : (rateLimit.map { "\($0) per group" } ?? "Braze's documented limits")
        let host = self.host
        let keyCount = configuration.apiKeys.count
        let app = buildBrazeSandboxApplication(configuration: configuration, host: host, port: port) { bound in
            let text = """
                BrazeSandbox is running on http://\(host):\(bound)
                  Braze endpoints: POST /users/track, /users/identify, /users/alias/new, /users/merge, /users/delete, …
                  inspect:         curl -s http://\(host):\(bound)/_sandbox/users
                  API key(s):      \(keyCount) configured
                  /users/track:    \(trackLimit) per request
                  rate limits:     \(rateLimits)

                """
            FileHandle.standardOutput.write(Data(text.utf8))
        }
        try await app.runService()
    }
}

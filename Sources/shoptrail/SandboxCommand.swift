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
    @Option(help: "Rate limit as REQUESTS/SECONDS, e.g. 3000/3; none by default.") var rateLimit: String?

    func run() async throws {
        var configuration = BrazeSandboxConfiguration()
        configuration.apiKeys = apiKey.map { BrazeAPIKey($0) }
        if let rateLimit {
            let parts = rateLimit.split(separator: "/")
            guard parts.count == 2, let requests = Int(parts[0]), let seconds = Double(parts[1]), requests > 0, seconds > 0 else {
                throw ValidationError("--rate-limit must look like 3000/3 (requests per seconds)")
            }
            configuration.rateLimit = BrazeRateLimit(requests: requests, windowSeconds: seconds)
        }
        let host = self.host
        let keyCount = configuration.apiKeys.count
        let app = buildBrazeSandboxApplication(configuration: configuration, host: host, port: port) { bound in
            let text = """
                BrazeSandbox is running on http://\(host):\(bound)
                  Braze endpoints: POST /users/track, /users/identify, /users/alias/new, /users/merge, /users/delete, …
                  inspect:         curl -s http://\(host):\(bound)/_sandbox/users
                  API key(s):      \(keyCount) configured

                """
            FileHandle.standardOutput.write(Data(text.utf8))
        }
        try await app.runService()
    }
}

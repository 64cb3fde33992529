import ArgumentParser
import AsyncHTTPClient
import Foundation
import ShopTrail

/// `shoptrail doctor [--shop D]`: checks the configuration against the live services (Braze, the public
/// URL, the data directory), one line per check with what to do when one fails; exits 1 if any fails.
struct DoctorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "doctor", abstract: "Check the installation against the live services, one line per check.")

    @OptionGroup var configOptions: ConfigOptions
    @Option(help: "Check this shop only (default: every configured shop).") var shop: String?

    func run() async throws {
        let config: ShopTrailConfig
        do {
            config = try configOptions.load()
        } catch {
            print("FAIL  config: \(error)\n      fix: correct the configuration file (shoptrail check-config shows what it holds)")
            throw ExitCode(1)
        }
        if let shop, config.shop(domain: shop) == nil {
            print("FAIL  config: unknown shop '\(shop)'; configured: \(config.shops.map(\.domain).joined(separator: ", "))")
            throw ExitCode(1)
        }
        let httpClient = HTTPClient(eventLoopGroupProvider: .singleton)
        let checks = await Doctor(config: config, httpClient: httpClient).run(shop: shop)
        try? await httpClient.shutdown()
        for check in checks { print(check.line) }
        let failed = checks.filter { !$0.ok }.count
        print(failed == 0 ? "all \(checks.count) checks passed" : "\(failed) of \(checks.count) checks failed")
        if failed > 0 { throw ExitCode(1) }
    }
}

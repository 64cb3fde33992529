import ArgumentParser
import Foundation
import Logging
import ShopTrail

/// Options shared by commands that read the configuration.
struct ConfigOptions: ParsableArguments {
    @Option(name: .long, help: "Config file (YAML). Default: ./shoptrail.yml if present, else the built-in demo shop.")
    var config: String?

    /// The config file in force, or the demo shop when there is none.
    func load(host: String = "127.0.0.1", port: Int = 8080) throws -> ShopTrailConfig {
        let path = config ?? (FileManager.default.fileExists(atPath: "shoptrail.yml") ? "shoptrail.yml" : nil)
        guard let path else { return .demo(host: host, port: port) }
        do {
            return try ConfigLoader.load(path: path)
        } catch let error as ConfigError {
            throw ValidationError("invalid configuration in \(path): \(error)")
        }
    }

    /// The configuration and one of its shops; an unknown domain names the configured ones.
    func load(shop domain: String) throws -> (ShopTrailConfig, ShopConfig) {
        let config = try load()
        guard let shop = config.shop(domain: domain) else {
            throw ValidationError("unknown shop '\(domain)'; configured: \(config.shops.map(\.domain).joined(separator: ", "))")
        }
        return (config, shop)
    }
}

/// Installs the logfmt handler once per process.
func bootstrapLogging(level: String?) -> Logger {
    let level = level.flatMap(Logger.Level.init(rawValue:))
        ?? ProcessInfo.processInfo.environment["LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:))
        ?? .info
    LoggingSystem.bootstrap { label in LogfmtLogHandler(label: label, level: level) }
    return Logger(label: "shoptrail")
}

import Foundation
import Testing
@testable import ShopTrail

/// `storage:` in the config, and what a wrong or unreachable PostgreSQL gives at start: an error
/// naming the key and saying why, never the password.
@Suite struct StorageConfigTests {
    static let shops = """
        shops:
          - domain: demo.myshopify.com
            write_key: pk_demo_1
            allowed_origins: ["https://demo.myshopify.com"]
        """

    func parse(_ storage: String, env: [String: String] = [:]) throws -> ShopTrailConfig {
        try ConfigLoader.parse(yaml: storage + "\n" + Self.shops, origin: "test.yml", environment: env)
    }

    func error(_ storage: String, env: [String: String] = [:]) -> String {
        do { _ = try parse(storage, env: env); return "no error" } catch { return "\(error)" }
    }

    @Test func sqliteIsTheDefaultAndPostgresTakesAURLOrAnEnvironmentVariable() throws {
        #expect(try parse("").storage == StorageConfig())
        let inline = try parse("storage: {engine: postgres, url: \"postgres://shop%40trail:p%3Ass@db.internal:6432/shoptrail?sslmode=require\"}")
        let url = try #require(inline.storage.postgres)
        #expect(inline.storage.engine == .postgres)
        #expect([url.host, url.user, url.database] == ["db.internal", "shop@trail", "shoptrail"])
        #expect(url.port == 6432 && url.tls == .require && url.password?.value == "p:ss")
        #expect("\(url)" == "postgres://shop@trail:<redacted>@db.internal:6432/shoptrail?sslmode=require")
        let fromEnv = try parse("storage: {engine: postgres, url_env: PG_URL}", env: ["PG_URL": "postgresql://u:pw@127.0.0.1/db"])
        #expect(fromEnv.storage.postgres?.port == 5432 && fromEnv.storage.postgres?.tls == .prefer)
    }

    @Test func aWrongURLIsRefusedNamingTheKeyAndNeverQuotingThePassword() {
        let cases: [(yaml: String, key: String, message: String)] = [
            ("storage: {engine: postgres}", "storage.url", "is required with engine: postgres"),
            ("storage: {engine: mysql}", "storage.engine", "'mysql' is not valid; use one of: sqlite | postgres"),
            ("storage: {engine: postgres, url: \"mysql://u:hunter2@h/db\"}", "storage.url", "must start with postgres://"),
            ("storage: {engine: postgres, url: \"postgres://u:hunter2@/db\"}", "storage.url", "names no host"),
            ("storage: {engine: postgres, url: \"postgres://u:hunter2@h:70000/db\"}", "storage.url", "port"),
            ("storage: {engine: postgres, url: \"postgres://u:hunter2@h/\"}", "storage.url", "names no database"),
            ("storage: {engine: postgres, url: \"postgres://:hunter2@h/db\"}", "storage.url", "names no user"),
            ("storage: {engine: postgres, url: \"postgres://u:hunter2@h/db?sslmode=maybe\"}", "storage.url", "has sslmode 'maybe'"),
            ("storage: {engine: postgres, url_env: NOPE}", "storage.url_env", "environment variable NOPE is not set or empty"),
            ("storage: {url: \"postgres://u:hunter2@h/db\"}", "storage.url", "is for engine: postgres"),
            ("storage: {engine: postgres, uri: x}", "storage.uri", "unknown key"),
        ]
        for (yaml, key, expected) in cases {
            let message = error(yaml)
            #expect(message.hasPrefix(key + " ") || message.hasPrefix(key + ":"), "\(yaml) -> \(message)")
            #expect(message.contains(expected), "\(yaml) -> \(message)")
            #expect(!message.contains("hunter2"), "the password leaked: \(message)")
        }
    }

    /// Opens `url` and returns the refusal, which must name `storage.url` and never the password.
    func refusal(opening url: PostgresURL) async throws -> String {
        do {
            try await PostgresDatabase(url: url).withRunning { try await $0.open(timeout: .seconds(600)) }
        } catch let error as StorageUnavailable {
            #expect(error.key == "storage.url")
            if let password = url.password?.value { #expect(!"\(error)".contains(password)) }
            return "\(error)"
        }
        Issue.record("opening \(url) succeeded")
        return ""
    }

    @Test func anUnreachableServerIsNamedWithinTheTimeout() async throws {
        // A loopback port nothing listens on: the connection is refused at once.
        let message = try await refusal(opening: PostgresURL.parse("postgres://shoptrail:hunter2@127.0.0.1:1/shoptrail?sslmode=disable").get())
        #expect(message.contains("127.0.0.1:1"), "\(message)")
    }

    @Test func aWrongPasswordIsReportedAsTheServersAnswer() async throws {
        var url = try StorageEngineUnderTest.serverURL()
        url.password = Secret("not-the-password")
        let message = try await refusal(opening: url)
        #expect(message.contains("password authentication failed"), "\(message)")
    }
}

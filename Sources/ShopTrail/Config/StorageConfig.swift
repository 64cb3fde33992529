import Foundation

/// Which engine keeps the event log and everything downstream of it (`storage.engine`).
public enum StorageEngine: String, Sendable, CaseIterable {
    /// One embedded SQLite file under `server.data_dir`: one instance, no server to run. The default.
    case sqlite
    /// A PostgreSQL server shared by several ShopTrail instances.
    case postgres
}

/// The `storage:` section.
public struct StorageConfig: Sendable, Equatable {
    public var engine: StorageEngine = .sqlite
    /// Where the PostgreSQL engine connects (`storage.url` or `storage.url_env`); nil for SQLite.
    public var postgres: PostgresURL?

    public init(engine: StorageEngine = .sqlite, postgres: PostgresURL? = nil) {
        self.engine = engine
        self.postgres = postgres
    }
}

/// A `postgres://user:password@host:port/database?sslmode=…` URL, checked when the config loads.
/// Its password is a `Secret`; `description` prints the URL without it.
public struct PostgresURL: Sendable, Equatable, CustomStringConvertible {
    /// `sslmode`: `disable`, `prefer` (the default: TLS when the server offers it) or `require`.
    public enum TLSMode: String, Sendable, CaseIterable { case disable, prefer, require }

    public var host: String
    public var port: Int
    public var user: String
    public var password: Secret?
    public var database: String
    public var tls: TLSMode

    public var description: String {
        "postgres://\(user)\(password == nil ? "" : ":<redacted>")@\(host):\(port)/\(database)?sslmode=\(tls.rawValue)"
    }

    /// Parses `text`, or says in words what is wrong with it (never quoting the password).
    public static func parse(_ text: String) -> Result<PostgresURL, PostgresURLError> {
        guard let components = URLComponents(string: text) else { return .failure(.init("is not a URL")) }
        guard let scheme = components.scheme?.lowercased(), scheme == "postgres" || scheme == "postgresql" else {
            return .failure(.init("must start with postgres:// or postgresql://"))
        }
        guard let host = components.host, !host.isEmpty else { return .failure(.init("names no host (postgres://user:password@host:5432/database)")) }
        let port = components.port ?? 5432
        guard (1...65535).contains(port) else { return .failure(.init("has a port outside 1-65535")) }
        guard let user = components.user.flatMap({ $0.removingPercentEncoding }), !user.isEmpty else {
            return .failure(.init("names no user (postgres://user:password@host:5432/database)"))
        }
        let password = components.password.flatMap { $0.removingPercentEncoding }.map(Secret.init)
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        let database = path.removingPercentEncoding ?? path
        guard !database.isEmpty, !database.contains("/") else { return .failure(.init("names no database (postgres://user:password@host:5432/database)")) }
        var tls = TLSMode.prefer
        for item in components.queryItems ?? [] {
            switch item.name {
            case "sslmode":
                guard let mode = item.value.flatMap(TLSMode.init(rawValue:)) else {
                    return .failure(.init("has sslmode '\(item.value ?? "")'; use disable, prefer or require"))
                }
                tls = mode
            default:
                return .failure(.init("has an unknown parameter '\(item.name)' (known: sslmode)"))
            }
        }
        return .success(PostgresURL(host: host, port: port, user: user, password: password, database: database, tls: tls))
    }
}

/// Why a PostgreSQL URL was refused.
public struct PostgresURLError: Error, Sendable, Equatable {
    public let reason: String
    init(_ reason: String) { self.reason = reason }
}

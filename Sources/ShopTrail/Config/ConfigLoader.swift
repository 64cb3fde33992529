import Foundation
import Yams

/// A config problem, naming the key (and line) so an operator can fix it without reading code.
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    public let key: String
    public let message: String
    public let line: Int?

    public var description: String {
        let place = line.map { " (line \($0))" } ?? ""
        return key.isEmpty ? "\(message)\(place)" : "\(key)\(place): \(message)"
    }
}

/// Reads `shoptrail.yml` strictly: unknown keys and invalid values fail with the key's name.
public enum ConfigLoader {
    public static func load(path: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> ShopTrailConfig {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigError(key: "", message: "cannot read config file \(path): \(error.localizedDescription)", line: nil)
        }
        return try parse(yaml: text, origin: path, environment: environment)
    }

    public static func parse(yaml: String, origin: String, environment: [String: String]) throws -> ShopTrailConfig {
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            throw ConfigError(key: "", message: "not valid YAML: \(error)", line: nil)
        }
        guard let root else { throw ConfigError(key: "", message: "the config file is empty", line: nil) }
        let top = try MappingReader(root, path: "", allowed: ["server", "shops", "storage"])
        let env = environment

        var server = ServerConfig(publicURL: "")
        if let node = top.node("server") {
            let s = try MappingReader(node, path: "server", allowed: [
                "public_url", "host", "port", "data_dir", "sqlite_synchronous", "admin_token", "admin_token_env", "limits", "retention",
                "metrics_listen",
            ])
            if let node = s.node("limits") { server.limits = try Self.limits(node) }
            if let node = s.node("retention") {
                let r = try MappingReader(node, path: "server.retention", allowed: ["days", "linked_visitor_days"])
                if let v = try r.int("days", in: 1...3650) { server.retention.days = v }
                if let v = try r.int("linked_visitor_days", in: 1...3650) { server.retention.linkedVisitorDays = v }
            }
            if let host = try s.string("host") { server.host = host }
            if let port = try s.int("port") {
                guard (0...65535).contains(port) else { throw s.error("port", "must be between 0 and 65535") }
                server.port = port
            }
            if let dir = try s.string("data_dir") { server.dataDir = dir }
            if let listen = try s.string("metrics_listen") {
                let parts = listen.split(separator: ":", omittingEmptySubsequences: false)
                guard parts.count == 2, !parts[0].isEmpty, let port = Int(parts[1]), (0...65535).contains(port) else {
                    throw s.error("metrics_listen", "must be HOST:PORT, e.g. 127.0.0.1:9464, got '\(listen)'")
                }
                server.metricsListen = MetricsListen(String(parts[0]), port)
            }
            if let sync: SQLiteSynchronous = try s.enumeration("sqlite_synchronous") { server.sqliteSynchronous = sync }
            server.adminToken = try s.secret("admin_token", env: env)
            if let token = server.adminToken, token.value.utf8.count < 16 {
                throw s.error(s.node("admin_token") != nil ? "admin_token" : "admin_token_env", "must be at least 16 characters (it guards the snippet secret)")
            }
            if let url = try s.string("public_url") {
                guard isHTTPURL(url) else { throw s.error("public_url", "must be an http:// or https:// URL, got '\(url)'") }
                server.publicURL = url.hasSuffix("/") ? String(url.dropLast()) : url
            }
        }
        if server.publicURL.isEmpty { server.publicURL = "http://\(server.host):\(server.port)" }

        guard let shopsNode = top.node("shops") else {
            throw ConfigError(key: "shops", message: "is required: list at least one shop", line: root.mark?.line)
        }
        guard let shopNodes = shopsNode.sequence, !shopNodes.isEmpty else {
            throw ConfigError(key: "shops", message: "must be a non-empty list of shops", line: shopsNode.mark?.line)
        }
        var shops: [ShopConfig] = []
        var explicitAliasLabels = Set<Int>()
        for (i, node) in shopNodes.enumerated() {
            let path = "shops[\(i)]"
            let m = try MappingReader(node, path: path, allowed: [
                "domain", "write_key", "allowed_origins", "snippet_secret", "snippet_secret_env", "shopify", "braze",
                "app_proxy", "inline_tracker", "abandonment",
            ])
            guard let domain = try m.string("domain") else { throw m.error("domain", "is required") }
            guard isShopDomain(domain) else {
                throw m.error("domain", "must be the shop's permanent *.myshopify.com domain in lower case, got '\(domain)'")
            }
            guard !shops.contains(where: { $0.domain == domain }) else { throw m.error("domain", "'\(domain)' is listed twice") }
            guard let writeKey = try m.string("write_key") else { throw m.error("write_key", "is required") }
            guard IncomingBatch.isIdentifier(writeKey, minLength: 4) else {
                throw m.error("write_key", "must be 4 to 64 characters of A-Z a-z 0-9 _ -")
            }
            guard !shops.contains(where: { $0.writeKey == writeKey }) else { throw m.error("write_key", "is used by two shops") }
            var origins = ["https://\(domain)"]
            if let list = try m.stringList("allowed_origins") {
                for origin in list where !isOrigin(origin) {
                    throw m.error("allowed_origins", "'\(origin)' is not an origin like https://shop.example.com (scheme and host, no path)")
                }
                origins = list
            }
            let snippetSecret = try m.secret("snippet_secret", env: env)

            var shopify = ShopifyConfig()
            if let node = m.node("shopify") {
                let s = try MappingReader(node, path: "\(path).shopify", allowed: [
                    "api_secret", "api_secret_env", "previous_api_secret", "previous_api_secret_env",
                    "admin_api_url", "admin_access_token", "admin_access_token_env", "api_version",
                ])
                shopify.apiSecret = try s.secret("api_secret", env: env)
                shopify.previousApiSecret = try s.secret("previous_api_secret", env: env)
                shopify.adminAccessToken = try s.secret("admin_access_token", env: env)
                if let url = try s.string("admin_api_url") {
                    guard isHTTPURL(url) else { throw s.error("admin_api_url", "must be an http:// or https:// URL, got '\(url)'") }
                    shopify.adminAPIURL = url.hasSuffix("/") ? String(url.dropLast()) : url
                }
                if let version = try s.string("api_version") {
                    guard version.wholeMatch(of: /20[0-9]{2}-(01|04|07|10)/) != nil else {
                        throw s.error("api_version", "must be a Shopify API version like 2025-10, got '\(version)'")
                    }
                    shopify.apiVersion = version
                }
            }

            var braze = BrazeConfig()
            if let node = m.node("braze") {
                let b = try MappingReader(node, path: "\(path).braze", allowed: [
                    "rest_endpoint", "api_key", "api_key_env", "external_id", "anonymous", "events", "hold_days", "browsing_events",
                    "email_subscription_group_id", "sms_subscription_group_id", "catalog", "track_objects_per_request",
                    "customer_id_alias_label", "web_sdk",
                ])
                if let endpoint = try b.string("rest_endpoint") {
                    guard isHTTPURL(endpoint) else { throw b.error("rest_endpoint", "must be an https:// URL like https://rest.fra-02.braze.eu, got '\(endpoint)'") }
                    braze.restEndpoint = endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint
                }
                braze.apiKey = try b.secret("api_key", env: env)
                if braze.apiKey != nil, braze.restEndpoint == nil {
                    throw b.error("rest_endpoint", "is required when api_key is set")
                }
                if let v: ExternalIdStrategy = try b.enumeration("external_id") { braze.externalId = v }
                if let v: AnonymousMode = try b.enumeration("anonymous") { braze.anonymous = v }
                if let v: EventNaming = try b.enumeration("events") { braze.events = v }
                if let days = try b.int("hold_days") {
                    guard (1...365).contains(days) else { throw b.error("hold_days", "must be from 1 to 365, got \(days)") }
                    braze.holdDays = days
                }
                if let v = try b.bool("browsing_events") { braze.browsingEvents = v }
                if let n = try b.int("track_objects_per_request") {
                    guard (1...75).contains(n) else {
                        throw b.error("track_objects_per_request", "must be from 1 to 75 (Braze takes 75 objects in total per request, 50 on the newer MAU packages), got \(n)")
                    }
                    braze.trackObjectsPerRequest = n
                }
                if let label = try b.string("customer_id_alias_label") {
                    guard (1...255).contains(label.utf8.count) else { throw b.error("customer_id_alias_label", "must be 1 to 255 characters") }
                    braze.customerIdAliasLabel = label
                    explicitAliasLabels.insert(i)
                }
                if let node = b.node("web_sdk") { braze.webSDK = try webSDKConfig(node, path: "\(path).braze.web_sdk", env: env) }
                braze.emailSubscriptionGroupId = try b.string("email_subscription_group_id")
                braze.smsSubscriptionGroupId = try b.string("sms_subscription_group_id")
                if let node = b.node("catalog") {
                    let c = try MappingReader(node, path: "\(path).braze.catalog", allowed: ["enabled", "name", "item_id"])
                    if let v = try c.bool("enabled") { braze.catalog.enabled = v }
                    if let name = try c.string("name") {
                        guard (1...250).contains(name.utf8.count), name.utf8.allSatisfy(isCatalogCharacter) else {
                            throw c.error("name", "must be 1 to 250 of A-Z a-z 0-9 _ -, got '\(name)'")
                        }
                        braze.catalog.name = name
                    }
                    if let v: CatalogItemId = try c.enumeration("item_id") { braze.catalog.itemId = v }
                }
            }
            let abandonment = try m.node("abandonment").map { try abandonmentConfig($0, path: "\(path).abandonment", naming: braze.events) }
                ?? AbandonmentConfig.defaults(naming: braze.events)
            var appProxy: AppProxyConfig?
            if let node = m.node("app_proxy") {
                let a = try MappingReader(node, path: "\(path).app_proxy", allowed: ["subpath_prefix", "subpath"])
                var proxy = AppProxyConfig()
                if let prefix = try a.string("subpath_prefix") {
                    guard AppProxyConfig.prefixes.contains(prefix) else {
                        throw a.error("subpath_prefix", "'\(prefix)' is not valid; use one of: \(AppProxyConfig.prefixes.joined(separator: " | "))")
                    }
                    proxy.subpathPrefix = prefix
                }
                if let subpath = try a.string("subpath") {
                    guard isProxySubpath(subpath) else {
                        throw a.error("subpath", "must be 1 to 30 of a-z 0-9 - _ and not admin, services, password or login, got '\(subpath)'")
                    }
                    proxy.subpath = subpath
                }
                // Shopify signs what it forwards with the app's API secret; without it nothing can be verified.
                guard shopify.apiSecret != nil else {
                    throw m.error("app_proxy", "needs shopify.api_secret (or api_secret_env) to verify the App Proxy signature")
                }
                appProxy = proxy
            }
            let inlineTracker = try m.bool("inline_tracker") ?? false
            shops.append(ShopConfig(
                domain: domain, writeKey: writeKey, allowedOrigins: origins, snippetSecret: snippetSecret, shopify: shopify, braze: braze,
                appProxy: appProxy, inlineTracker: inlineTracker, abandonment: abandonment
            ))
        }
        // Braze's connector labels the customer-id alias per store once a workspace has several stores.
        if shops.count > 1 {
            for i in shops.indices where !explicitAliasLabels.contains(i) {
                shops[i].braze.customerIdAliasLabel = "shopify_customer_id_" + shops[i].storeName
            }
        }
        var config = ShopTrailConfig(server: server, shops: shops, origin: origin)
        if let node = top.node("storage") { config.storage = try Self.storage(node, env: env) }
        return config
    }

    static func abandonmentConfig(_ node: Node, path: String, naming: EventNaming) throws -> AbandonmentConfig {
        let a = try MappingReader(node, path: path, allowed: ["browse", "cart", "checkout", "cooldown", "minimum_cart_value", "browse_products", "allow_short_windows"])
        var config = AbandonmentConfig.defaults(naming: naming)
        let allowShort = try a.bool("allow_short_windows") ?? false
        for kind in AbandonmentKind.allCases {
            guard let kindNode = a.node(kind.rawValue) else { continue }
            let k = try MappingReader(kindNode, path: "\(path).\(kind.rawValue)", allowed: ["enabled", "window", "event_name"])
            // Listing a kind means wanting it, unless it says otherwise.
            config[kind].enabled = try k.bool("enabled") ?? true
            if let window = try k.duration("window") {
                let range: ClosedRange<EpochMillis> = kind == .cart ? AbandonmentConfig.cartWindowRange : 60_000...7 * 86_400_000
                guard allowShort || range.contains(window) else {
                    let allowed = kind == .cart ? "5m to 24h" : "1m to 7d"
                    throw k.error("window", "must be from \(allowed) (allow_short_windows: true is for tests and demos)")
                }
                guard window > 0 else { throw k.error("window", "must be positive") }
                config[kind].windowMillis = window
            }
            if let name = try k.string("event_name") {
                guard !name.isEmpty, name.utf8.count <= 255, !name.hasPrefix("$") else {
                    throw k.error("event_name", "must be 1 to 255 characters and not start with $")
                }
                config[kind].eventName = name
            }
        }
        if let cooldown = try a.duration("cooldown") {
            guard cooldown >= 0, cooldown <= 90 * 86_400_000 else { throw a.error("cooldown", "must be from 0 to 90d") }
            config.cooldownMillis = cooldown
        }
        if let value = try a.string("minimum_cart_value") {
            guard let number = Double(value), number >= 0, number.isFinite else { throw a.error("minimum_cart_value", "must be a number ≥ 0, got '\(value)'") }
            config.minimumCartValue = number
        }
        if let limit = try a.int("browse_products") {
            guard (1...50).contains(limit) else { throw a.error("browse_products", "must be from 1 to 50") }
            config.browseProductLimit = limit
        }
        return config
    }

    /// Braze's rule for catalog names and item ids.
    static func isCatalogCharacter(_ c: UInt8) -> Bool {
        (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c == UInt8(ascii: "_") || c == UInt8(ascii: "-")
    }

    static func isShopDomain(_ s: String) -> Bool {
        guard s.hasSuffix(".myshopify.com") else { return false }
        let name = s.dropLast(".myshopify.com".count)
        guard let first = name.utf8.first, first != UInt8(ascii: "-") else { return false }
        return name.utf8.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == UInt8(ascii: "-") }
    }

    /// Shopify's rules for an App Proxy subpath, in the lower case the tracker's URL uses.
    static func isProxySubpath(_ s: String) -> Bool {
        guard (1...30).contains(s.utf8.count), !["admin", "services", "password", "login"].contains(s) else { return false }
        return s.utf8.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") }
    }

    /// `server.limits`: every value checked against a range a real deployment could want.
    static func limits(_ node: Node) throws -> ServerLimits {
        let r = try MappingReader(node, path: "server.limits", allowed: [
            "max_connections", "idle_timeout", "request_timeout", "events_per_ip_per_minute", "events_per_write_key_per_minute", "trust_forwarded_for",
        ])
        var limits = ServerLimits()
        if let v = try r.int("max_connections", in: 16...1_000_000) { limits.maxConnections = v }
        if let v = try r.duration("idle_timeout") {
            guard (1_000...3_600_000).contains(v) else { throw r.error("idle_timeout", "must be between 1s and 1h") }
            limits.idleTimeoutMillis = v
        }
        if let v = try r.duration("request_timeout") {
            guard (1_000...600_000).contains(v) else { throw r.error("request_timeout", "must be between 1s and 10m") }
            limits.requestTimeoutMillis = v
        }
        // 0 turns a rate limit off.
        if let v = try r.int("events_per_ip_per_minute", in: 0...10_000_000) { limits.eventsPerIPPerMinute = v }
        if let v = try r.int("events_per_write_key_per_minute", in: 0...100_000_000) { limits.eventsPerWriteKeyPerMinute = v }
        if let v = try r.bool("trust_forwarded_for") { limits.trustForwardedFor = v }
        return limits
    }

    static func isHTTPURL(_ s: String) -> Bool {
        guard let url = URL(string: s), let scheme = url.scheme, scheme == "http" || scheme == "https",
              let host = url.host, !host.isEmpty
        else { return false }
        return true
    }

    /// `scheme://host[:port]` exactly, as browsers send in the `Origin` header.
    static func isOrigin(_ s: String) -> Bool {
        guard isHTTPURL(s), let url = URL(string: s) else { return false }
        return url.path.isEmpty && url.query == nil && url.fragment == nil && !s.hasSuffix("/") && url.user == nil
    }
}

extension ConfigLoader {
    /// `storage: {engine: sqlite | postgres, url | url_env}`; the URL is checked here, so a wrong one
    /// stops the start with the key named, before anything listens.
    static func storage(_ node: Node, env: [String: String]) throws -> StorageConfig {
        let s = try MappingReader(node, path: "storage", allowed: ["engine", "url", "url_env"])
        var storage = StorageConfig()
        if let engine: StorageEngine = try s.enumeration("engine") { storage.engine = engine }
        let url = try s.secret("url", env: env)
        let key = s.node("url") != nil ? "url" : "url_env"
        switch (storage.engine, url) {
        case (.sqlite, .some):
            throw s.error(key, "is for engine: postgres (the SQLite engine keeps its file under server.data_dir)")
        case (.sqlite, nil):
            break
        case (.postgres, nil):
            throw s.error("url", "is required with engine: postgres (postgres://user:password@host:5432/database, or url_env: NAME)")
        case (.postgres, .some(let url)):
            switch PostgresURL.parse(url.value) {
            case .success(let parsed): storage.postgres = parsed
            case .failure(let error): throw s.error(key, error.reason)
            }
        }
        return storage
    }
}

/// A YAML mapping read with its key path, refusing keys it does not know.
struct MappingReader {
    let mapping: Node.Mapping
    let path: String
    let line: Int?

    init(_ node: Node, path: String, allowed: Set<String>) throws {
        guard let mapping = node.mapping else {
            throw ConfigError(key: path.isEmpty ? "(top level)" : path, message: "must be a mapping of keys to values", line: node.mark?.line)
        }
        self.mapping = mapping
        self.path = path
        self.line = node.mark?.line
        for (key, _) in mapping {
            let name = key.string ?? "?"
            if !allowed.contains(name) {
                let known = allowed.sorted().joined(separator: ", ")
                throw ConfigError(key: qualified(name), message: "unknown key (known here: \(known))", line: key.mark?.line)
            }
        }
    }

    func qualified(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func error(_ key: String, _ message: String) -> ConfigError {
        ConfigError(key: qualified(key), message: message, line: node(key)?.mark?.line ?? line)
    }

    func node(_ key: String) -> Node? {
        for (k, v) in mapping where k.string == key {
            if v.null != nil { return nil }
            return v
        }
        return nil
    }

    func string(_ key: String) throws -> String? {
        guard let node = node(key) else { return nil }
        guard let scalar = node.scalar else { throw error(key, "must be a single value, not a list or mapping") }
        return scalar.string
    }

    func int(_ key: String) throws -> Int? {
        guard let node = node(key) else { return nil }
        guard let value = node.int else { throw error(key, "must be an integer, got '\(node.string ?? "?")'") }
        return value
    }

    /// An integer that must lie in `range`.
    func int(_ key: String, in range: ClosedRange<Int>) throws -> Int? {
        guard let value = try int(key) else { return nil }
        guard range.contains(value) else { throw error(key, "must be between \(range.lowerBound) and \(range.upperBound), got \(value)") }
        return value
    }

    func bool(_ key: String) throws -> Bool? {
        guard let node = node(key) else { return nil }
        guard let value = node.scalar.flatMap({ Bool.construct(from: $0) }) else {
            throw error(key, "must be true or false, got '\(node.string ?? "?")'")
        }
        return value
    }

    /// A duration like `500ms`, `90s`, `5m`, `1h` or `1d`, in milliseconds.
    func duration(_ key: String) throws -> EpochMillis? {
        guard let text = try string(key) else { return nil }
        guard let millis = Self.parseDuration(text) else {
            throw error(key, "must be a duration like 30m, 1h, 24h or 500ms, got '\(text)'")
        }
        return millis
    }

    static func parseDuration(_ text: String) -> EpochMillis? {
        let units: [(String, EpochMillis)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000)]
        for (suffix, factor) in units where text.hasSuffix(suffix) {
            let number = text.dropLast(suffix.count)
            guard !number.isEmpty, number.allSatisfy(\.isNumber), let value = EpochMillis(number),
                  value <= EpochMillis.max / factor else { return nil }
            return value * factor
        }
        return nil
    }

    func stringList(_ key: String) throws -> [String]? {
        guard let node = node(key) else { return nil }
        guard let sequence = node.sequence else { throw error(key, "must be a list") }
        return try sequence.map { item in
            guard let s = item.scalar?.string else { throw error(key, "must be a list of strings") }
            return s
        }
    }

    func enumeration<T: RawRepresentable & CaseIterable>(_ key: String) throws -> T? where T.RawValue == String {
        guard let text = try string(key) else { return nil }
        guard let value = T(rawValue: text) else {
            let allowed = T.allCases.map(\.rawValue).joined(separator: " | ")
            throw error(key, "'\(text)' is not valid; use one of: \(allowed)")
        }
        return value
    }

    /// `key` inline or `key_env` naming an environment variable; never both.
    func secret(_ key: String, env: [String: String]) throws -> Secret? {
        let inline = try string(key)
        let envName = try string(key + "_env")
        switch (inline, envName) {
        case (.some, .some):
            throw error(key, "set either \(key) or \(key)_env, not both")
        case (.some(let value), nil):
            guard !value.isEmpty else { throw error(key, "must not be empty") }
            return Secret(value)
        case (nil, .some(let name)):
            guard let value = env[name], !value.isEmpty else {
                throw error(key + "_env", "environment variable \(name) is not set or empty")
            }
            return Secret(value)
        case (nil, nil):
            return nil
        }
    }
}

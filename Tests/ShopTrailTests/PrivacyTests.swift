import Foundation
import GRDB
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
@testable import ShopTrail

/// Issue 13, parts 4 and 5, each written as the attack that must fail: a redacted customer's data
/// found anywhere in the database file, an export missing the customer's orders, another local user
/// reading the admin token, the data directory or the database, an admin page framed or sniffed.
@Suite struct PrivacyTests {
    // The redacted customer's contact details, distinctive enough to search raw bytes for.
    static let email = "Zelphira.Quarnstrom@Privacy-Test.example"
    static let phone = "+4915199887766"
    static let street = "Redactweg 4711"
    static let lastName = "Quarnstrom"
    static var needles: [String] { [email, email.lowercased(), phone, street, lastName] }

    // Another customer of the same shop, who must keep everything.
    static let controlCustomer = "7364562091234500001"
    static let controlOrder = "9007199254740777"
    static let controlEmail = "Keepme.Retained@Control.example"

    /// A fixture with the redacted customer's details.
    static func personal(_ topic: String) throws -> String {
        try WebhookTests.fixture(topic)
            .replacingOccurrences(of: "Jane.Doe@Example.com", with: email)
            .replacingOccurrences(of: "Jane", with: "Zelphira").replacingOccurrences(of: "Doe", with: lastName)
            .replacingOccurrences(of: "+4915112345678", with: phone)
            .replacingOccurrences(of: "Torstraße 109", with: street)
    }

    /// The same fixture as another customer's order, with its own cart and checkout.
    static func control(_ topic: String) throws -> String {
        try WebhookTests.fixture(topic)
            .replacingOccurrences(of: WebhookTests.order, with: controlOrder)
            .replacingOccurrences(of: WebhookTests.customer, with: controlCustomer)
            .replacingOccurrences(of: "Jane.Doe@Example.com", with: controlEmail)
            .replacingOccurrences(of: "Jane", with: "Keepme").replacingOccurrences(of: "Doe", with: "Retained")
            .replacingOccurrences(of: "+4915112345678", with: "+4915100000001")
            .replacingOccurrences(of: "Torstraße 109", with: "Keepweg 1")
            .replacingOccurrences(of: WebhookTests.cartToken, with: "c1-control-cart-token")
            .replacingOccurrences(of: "d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9", with: "control-checkout-token")
    }

    static let customerTopics = [
        "customers/create", "customers/update", "customers_email_marketing_consent/update", "checkouts/create", "checkouts/update",
        "orders/create", "orders/updated", "orders/paid", "orders/fulfilled", "refunds/create",
    ]

    /// Every text or blob value of every table that contains one of `needles` (case-insensitively), as `table.column`.
    static func leaks(_ database: SQLiteDatabase, _ needles: [String]) async throws -> [String] {
        try await database.pool.read { db in
            var found: [String] = []
            for table in try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table'") {
                for row in try Row.fetchAll(db, sql: "SELECT * FROM \"\(table)\"") {
                    for (column, value) in row {
                        let text: String? = switch value.storage {
                        case .string(let s): s
                        case .blob(let data): String(decoding: data, as: UTF8.self)
                        default: nil
                        }
                        guard let text = text?.lowercased() else { continue }
                        if needles.contains(where: { text.contains($0.lowercased()) }) { found.append("\(table).\(column)") }
                    }
                }
            }
            return found
        }
    }

    /// The needles found in the raw bytes of the database file, its WAL and its shared-memory index.
    static func bytesLeaks(_ path: String, _ needles: [String]) -> [String] {
        var found: [String] = []
        for file in [path, path + "-wal", path + "-shm"] {
            guard let data = FileManager.default.contents(atPath: file) else { continue }
            for needle in needles where data.range(of: Data(needle.utf8)) != nil { found.append("\((file as NSString).lastPathComponent): \(needle)") }
        }
        return found
    }

    // MARK: 4. redact means gone

    @Test func redactLeavesNoCopyInAnyTableNorInTheDatabaseFilesBytes() async throws {
        try await WebhookTests.with { p in
            let visitor = "v_zelphira_00001"
            try await p.send(visitor, [("r1", "product_viewed", 1, IdentityScenarioTests.product(1)),
                                       ("r2", "cart_updated", 2, IdentityScenarioTests.cart(WebhookTests.cartToken, lines: [(1, 1)]))],
                             customer: IdentityScenarioTests.signedCustomer(WebhookTests.customer, email: Self.email))
            // A visitor never linked to the customer, whose page URL carried the email (a newsletter link).
            try await p.send("v_stranger_00001", [("r3", "page_viewed", 3, #"{"url":"https://fixture-shop.myshopify.com/?email=\#(Self.email)"}"#)])
            for topic in Self.customerTopics {
                let (status, text) = try await WebhookTests.post(p, topic, body: try Self.personal(topic))
                #expect(status == .ok, "\(topic): \(text)")
            }
            try await WebhookTests.post(p, "orders/create", body: try Self.control("orders/create"))
            try await WebhookTests.post(p, "customers/data_request", body: try Self.personal("customers/data_request"))
            // Processed but not forwarded: the customer's Braze operations wait in the outbox.
            try await p.processor.drain()
            let database = p.temp.store.database
            try await database.pool.write { db in
                try db.execute(sql: """
                    INSERT INTO outbox_dead (op_id, shop, user_key, kind, payload, created_at, attempts, reason, died_at)
                    VALUES ('old-op', ?, 'c:other', 'attributes', ?, 0, 9, 'HTTP 400', 0)
                    """, arguments: [WebhookTests.domain, #"{"external_id":"\#(WebhookTests.customer)","email":"\#(Self.email)"}"#])
                try db.execute(sql: "INSERT INTO backfill_staging (shop, kind, id, seq, body) VALUES (?, 'customer', ?, 1, ?)",
                               arguments: [WebhookTests.domain, "gid://shopify/Customer/\(WebhookTests.customer)", #"{"defaultEmailAddress":{"emailAddress":"\#(Self.email)"}}"#])
            }
            let exports = p.temp.dir.appendingPathComponent("exports").path
            #expect(try FileManager.default.contentsOfDirectory(atPath: exports).count == 1)
            #expect(!(try await Self.leaks(database, Self.needles)).isEmpty, "the attack finds the data before the redact")
            #expect(!Self.bytesLeaks(p.temp.path, Self.needles).isEmpty)

            try await WebhookTests.post(p, "customers/redact", body: try Self.personal("customers/redact"))
            try await p.processor.drain()

            let leaks = try await Self.leaks(database, Self.needles)
            #expect(leaks.isEmpty, "personal data left in \(leaks)")
            let (outbox, audit, control) = try await database.pool.read { db in
                (try String.fetchAll(db, sql: "SELECT kind || ' ' || user_key FROM outbox ORDER BY seq"),
                 try String.fetchOne(db, sql: "SELECT detail FROM audit_log WHERE action = 'customers/redact'") ?? "",
                 try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM shopify_resources WHERE kind = 'order' AND id = ?", arguments: [Self.controlOrder]) ?? 0)
            }
            #expect(outbox.filter { $0.hasSuffix("c:\(WebhookTests.customer)") } == ["delete c:\(WebhookTests.customer)"], "\(outbox)")
            #expect(control == 1, "another customer's order is kept")
            #expect(try await Self.leaks(database, [Self.controlEmail]).count >= 2, "another customer's deliveries and order are kept")
            #expect(audit.hasPrefix("deleted: 1 customer, 1 visitor, 3 events, 11 webhook deliveries, 3 resources,"), "\(audit)")
            for part in ["unsent outbox op", "1 dead letter", "1 backfill staging row", "1 export file", "Braze deletion queued: true"] {
                #expect(audit.contains(part), "\(audit)")
            }
            #expect(!audit.contains(" 0 unsent outbox ops"), "\(audit)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: exports).isEmpty, "the earlier export is deleted")
            let redactRow = try await database.pool.read { db in
                try String.fetchOne(db, sql: "SELECT properties FROM events WHERE name = 'customers/redact'")
            }
            #expect(redactRow?.contains(WebhookTests.customer) == true && redactRow?.contains("scrubbed") == true, "\(redactRow ?? "")")

            try await p.flush()
            #expect(try await p.user(WebhookTests.customer) == nil, "Braze was asked to delete the user")

            // secure_delete zeroed the rows; the checkpoint the redact triggers empties the WAL of their older
            // page images. No VACUUM: what is searched is the file as the server leaves it.
            var bytes = Self.bytesLeaks(p.temp.path, Self.needles)
            for _ in 0..<100 where !bytes.isEmpty {
                try await Task.sleep(for: .milliseconds(100))
                bytes = Self.bytesLeaks(p.temp.path, Self.needles)
            }
            #expect(bytes.isEmpty, "found in the file's bytes: \(bytes)")
            #expect(SQLiteCheckpoint.truncate(path: p.temp.path))
            #expect((try FileManager.default.attributesOfItem(atPath: p.temp.path + "-wal")[.size] as? Int) == 0, "the WAL is truncated")
            #expect(Self.bytesLeaks(p.temp.path, Self.needles).isEmpty)
            #expect(!Self.bytesLeaks(p.temp.path, [Self.controlEmail]).isEmpty, "the search would find what is there")
        }
    }

    @Test func dataRequestExportsEveryStoredOrderDeliveryAndEventOfTheCustomer() async throws {
        try await WebhookTests.with { p in
            let visitor = "v_zelphira_00002"
            try await p.send(visitor, [("d1", "product_viewed", 1, IdentityScenarioTests.product(1)),
                                       ("d2", "cart_updated", 2, IdentityScenarioTests.cart(WebhookTests.cartToken, lines: [(1, 1)]))],
                             customer: IdentityScenarioTests.signedCustomer(WebhookTests.customer, email: Self.email))
            for topic in ["checkouts/create", "orders/create", "orders/paid", "refunds/create"] {
                try await WebhookTests.post(p, topic, body: try Self.personal(topic))
            }
            try await WebhookTests.post(p, "orders/create", body: try Self.control("orders/create"))
            try await WebhookTests.post(p, "customers/data_request", body: try Self.personal("customers/data_request"))
            try await p.processor.drain()

            let folder = p.temp.dir.appendingPathComponent("exports").path
            let names = try FileManager.default.contentsOfDirectory(atPath: folder)
            #expect(names == ["\(WebhookTests.domain)-data-request-9007199254750001.json"], "\(names)")
            let path = (folder as NSString).appendingPathComponent(names.first ?? "")
            #expect(PrivateFiles.mode(folder) == 0o700)
            #expect(PrivateFiles.mode(path) == 0o600)
            let text = try String(contentsOfFile: path, encoding: .utf8)
            let export = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
            #expect(export["customer_id"] as? String == WebhookTests.customer)
            let events = export["events"] as? [[String: Any]] ?? []
            #expect(events.compactMap { $0["event_id"] as? String }.sorted() == ["d1", "d2"], "\(events)")
            let deliveries = export["webhook_deliveries"] as? [[String: Any]] ?? []
            let topics = Set(deliveries.compactMap { $0["topic"] as? String })
            for topic in ["checkouts/create", "orders/create", "orders/paid", "refunds/create"] {
                #expect(topics.contains(topic), "\(topic) missing from \(topics)")
            }
            let orders = export["orders"] as? [[String: Any]] ?? []
            #expect(orders.map { "\($0["id"] ?? "")" } == [WebhookTests.order], "\(orders)")
            #expect(text.contains(Self.street) && text.contains(Self.phone), "the order's addresses are exported")
            #expect(!text.contains(Self.controlEmail) && !text.contains(Self.controlOrder), "nothing of another customer")
            // The request's own delivery keeps ids only.
            let logged = try await p.temp.store.database.pool.read { db in
                try String.fetchOne(db, sql: "SELECT properties FROM events WHERE name = 'customers/data_request'") ?? ""
            }
            #expect(!logged.contains(Self.email) && !logged.contains(Self.phone) && logged.contains(WebhookTests.customer), "\(logged)")
        }
    }

    // MARK: 5. local files

    /// Every entry under `base` that group or others may read, with its mode.
    static func exposed(under base: String) -> [String] {
        var found: [String] = []
        guard let names = FileManager.default.subpaths(atPath: base) else { return found }
        for name in names {
            let path = (base as NSString).appendingPathComponent(name)
            if let mode = PrivateFiles.mode(path), mode & 0o077 != 0 { found.append("\(name) \(String(mode, radix: 8))") }
        }
        return found
    }

    @Test func anotherLocalUserWatchingTheFolderNeverSeesAReadableTokenOrDataDirectory() async throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("shoptrail-privacy-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: base) }
        // The watcher stats every entry as fast as it can while tokens are created.
        let watcher = Task.detached { () -> [String] in
            var seen = Set<String>()
            while !Task.isCancelled { seen.formUnion(Self.exposed(under: base)) }
            return seen.sorted()
        }
        for index in 0..<30 {
            let dir = (base as NSString).appendingPathComponent("data\(index)/nested")
            let (token, origin) = try AdminToken.loadOrCreate(server: ServerConfig(publicURL: "http://127.0.0.1", dataDir: dir))
            #expect(origin == .file(path: (dir as NSString).appendingPathComponent("admin_token"), created: true))
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["admin_token"], "no temporary file is left")
            let again = try AdminToken.loadOrCreate(server: ServerConfig(publicURL: "http://127.0.0.1", dataDir: dir))
            #expect(again.token.value == token.value && again.origin == .file(path: (dir as NSString).appendingPathComponent("admin_token"), created: false))
        }
        watcher.cancel()
        let seen = await watcher.value
        #expect(seen.isEmpty, "readable by others at some moment: \(seen)")
        #expect(PrivateFiles.mode((base as NSString).appendingPathComponent("data0/nested/admin_token")) == 0o600)
        #expect(PrivateFiles.mode((base as NSString).appendingPathComponent("data0/nested")) == 0o700)
        #expect(PrivateFiles.mode((base as NSString).appendingPathComponent("data0")) == 0o700)
    }

    @Test func aTokenFileAndDataDirectoryLeftReadableByAnOlderVersionAreTightened() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("shoptrail-privacy-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: base) }
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        let path = (base as NSString).appendingPathComponent("admin_token")
        #expect(FileManager.default.createFile(atPath: path, contents: Data("st_admin_0123456789abcdef\n".utf8), attributes: [.posixPermissions: 0o644]))
        let (token, _) = try AdminToken.loadOrCreate(server: ServerConfig(publicURL: "http://127.0.0.1", dataDir: base))
        #expect(token.value == "st_admin_0123456789abcdef")
        #expect(PrivateFiles.mode(path) == 0o600)
        #expect(PrivateFiles.mode(base) == 0o700)
    }

    @Test func theDatabaseFilesAreNeverReadableByOtherUsers() async throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("shoptrail-privacy-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: base) }
        try PrivateFiles.directory(base)
        let path = (base as NSString).appendingPathComponent("shoptrail.sqlite")
        let store = try SQLiteEventStore(path: path)
        _ = try await store.append([NewEvent(shop: "a", source: .storefront, eventId: "e1", name: "page_viewed", visitorId: "v_1", sessionId: nil,
                                             clientTime: nil, time: 1, receivedAt: 1, context: nil, properties: "{}")])
        for file in [path, path + "-wal", path + "-shm"] {
            let mode = try #require(PrivateFiles.mode(file), "\(file) exists")
            #expect(mode & 0o077 == 0, "\(file) has mode \(String(mode, radix: 8))")
        }
        #expect(PrivateFiles.mode(base) == 0o700)
        // A database file an older version created 0644 is tightened when opened.
        let old = (base as NSString).appendingPathComponent("old.sqlite")
        #expect(FileManager.default.createFile(atPath: old, contents: nil, attributes: [.posixPermissions: 0o644]))
        _ = try SQLiteDatabase(path: old)
        #expect(PrivateFiles.mode(old) == 0o600)
        let secureDelete = try await store.database.pool.read { db in try Int.fetchOne(db, sql: "PRAGMA secure_delete") }
        #expect(secureDelete == 1)
    }

    // MARK: 5. admin pages

    @Test func adminAnswersCannotBeFramedSniffedCachedOrLeakAReferrerEvenWhenRefused() async throws {
        let temp = try TempStore()
        let token = Secret("privacy-admin-token-0123456789")
        let app = buildApplication(AppDependencies(config: Fixtures.config, store: temp.store, logger: Fixtures.logger(), adminToken: token), host: "127.0.0.1", port: 0)
        let basic = "Basic " + Data("admin:\(token.value)".utf8).base64EncodedString()
        let bearer = "Bearer \(token.value)"
        let requests: [(uri: String, auth: String?, status: HTTPResponse.Status)] = [
            ("/dashboard", nil, .unauthorized), ("/dashboard", basic, .ok),
            ("/v1/admin/status", nil, .unauthorized), ("/v1/admin/status", bearer, .ok),
            ("/v1/admin/backfill/a-shop.myshopify.com", nil, .unauthorized), ("/v1/admin/backfill/a-shop.myshopify.com", bearer, .ok),
            ("/v1/admin/backfill/nope.myshopify.com", bearer, .notFound), ("/v1/admin/nothing-here", bearer, .notFound),
            ("/v1/shops/a-shop.myshopify.com/snippet.liquid", nil, .unauthorized), ("/v1/shops/a-shop.myshopify.com/snippet.liquid", bearer, .ok),
            ("/v1/shops/a-shop.myshopify.com/pixel.js", nil, .unauthorized), ("/v1/shops/a-shop.myshopify.com/pixel.js", bearer, .ok),
        ]
        try await app.test(.router) { client in
            for request in requests {
                var headers: HTTPFields = [:]
                if let auth = request.auth { headers[.authorization] = auth }
                try await client.execute(uri: request.uri, method: .get, headers: headers) { response in
                    let label = "\(request.uri) \(request.auth == nil ? "anonymous" : "authorized")"
                    #expect(response.status == request.status, "\(label)")
                    #expect(response.headers[HTTPField.Name("X-Frame-Options")!] == "DENY", "\(label)")
                    #expect(response.headers[.xContentTypeOptions] == "nosniff", "\(label)")
                    #expect(response.headers[HTTPField.Name("Referrer-Policy")!] == "no-referrer", "\(label)")
                    #expect(response.headers[.cacheControl] == "no-store", "\(label)")
                    let policy = response.headers[.contentSecurityPolicy] ?? ""
                    #expect(policy.contains("default-src 'none'") && policy.contains("frame-ancestors 'none'"), "\(label): \(policy)")
                    #expect(!policy.contains("unsafe") && !policy.contains("script-src"), "\(label): \(policy)")
                    if request.uri == "/dashboard", response.status == .ok {
                        // The page's one inline style is exactly the one the policy allows.
                        let html = String(buffer: response.body)
                        #expect(html.contains("<style>\(DashboardController.style)</style>") && !html.contains("<script"))
                        #expect(policy == AdminSecurityHeaders.policy(inlineStyle: DashboardController.style))
                    }
                }
            }
            // The public endpoints keep their own caching and framing rules.
            try await client.execute(uri: "/healthz", method: .get) { response in
                #expect(response.headers[HTTPField.Name("X-Frame-Options")!] == nil)
            }
        }
    }
}

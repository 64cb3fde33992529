import Foundation
import Testing
@testable import ShopTrail

// Property-based fuzzing of the pure parts that read outside input: the JSON parser, batch
// validation, the App Proxy, webhook and Liquid signature checks, the timestamp parser and the
// mappers. A seeded generator builds hostile inputs (and byte mutations of valid ones); each
// property says what must hold for every input. Normal runs try a few thousand inputs per property;
// `scripts/fuzz SECONDS SEED` sets SHOPTRAIL_FUZZ_SECONDS / SHOPTRAIL_FUZZ_SEED for longer runs.
// Findings of those runs are kept as named regression tests at the end of the suite.

/// SplitMix64: tiny, fast, and the same sequence on every platform for a given seed.
struct FuzzRNG: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func int(_ range: Range<Int>) -> Int { Int.random(in: range, using: &self) }
    mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &self) }
    /// True with probability `p`.
    mutating func chance(_ p: Double) -> Bool { Double(next() >> 11) / Double(1 << 53) < p }
    mutating func pick<T>(_ items: [T]) -> T { items[int(0..<items.count)] }
}

/// How long and from where each property runs.
enum Fuzz {
    static let environment = ProcessInfo.processInfo.environment
    static let seed: UInt64 = environment["SHOPTRAIL_FUZZ_SEED"].flatMap { UInt64($0) } ?? 1413
    /// The whole suite's time budget; each property gets an equal share (the suite runs serialized).
    static let seconds: Double? = environment["SHOPTRAIL_FUZZ_SECONDS"].flatMap { Double($0) }
    static let propertyCount = 10
    /// Failures recorded per property before it stops (each names its input).
    static let maxFailures = 5

    /// FNV-1a: a name hash that is the same in every process (Swift's `Hasher` is seeded per process).
    static func stableHash(_ s: String) -> UInt64 {
        s.utf8.reduce(0xcbf2_9ce4_8422_2325) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
    }

    /// Runs `check` on input after input until `iterations` (or, with SHOPTRAIL_FUZZ_SECONDS, this
    /// property's share of that time) is used up. `check` returns nil when the property holds, else
    /// what went wrong with which input. Each input has its own generator, seeded from (seed, name,
    /// index), so a failure reproduces from its index alone.
    static func run(_ name: String, iterations: Int, _ check: (inout FuzzRNG) -> String?) {
        let start = Date()
        let deadline = seconds.map { start.addingTimeInterval($0 / Double(propertyCount)) }
        let base = seed ^ stableHash(name)
        var tried = 0
        var failures = 0
        while deadline.map({ Date() < $0 || tried < iterations }) ?? (tried < iterations) {
            var rng = FuzzRNG(seed: base &+ UInt64(tried) &* 0xD1B5_4A32_D192_ED03)
            if let problem = check(&rng) {
                failures += 1
                Issue.record("fuzz \(name) (seed \(seed), input \(tried)): \(problem)")
                if failures >= maxFailures { break }
            }
            tried += 1
        }
        let elapsed = Date().timeIntervalSince(start)
        print("fuzz-result name=\(name) inputs=\(tried) seconds=\(String(format: "%.1f", elapsed)) failures=\(failures) seed=\(seed)")
    }

    /// An input as a Swift literal for a regression test (bytes when it is not UTF-8), cut when long.
    static func show(_ bytes: [UInt8]) -> String {
        let text = String(validating: bytes, as: UTF8.self).map { String(reflecting: $0) }
            ?? "bytes \(bytes.map { String($0) }.joined(separator: ","))"
        return text.count > 3000 ? String(text.prefix(3000)) + "… (\(bytes.count) bytes)" : text
    }

    static func show(_ value: JSONValue) -> String { show(Array(value.serialized.utf8)) }
}

/// Hostile JSON: values chosen to break conversions, shapes chosen to reach the mappers' fields.
enum HostileJSON {
    static let numbers = [
        "0", "-0", "1", "-1", "2", "12", "0.5", "-0.5", "2.5", "0.001", "1e400", "-1e400", "1e-400", "1e19", "-1e19", "1E+2", "1e15", "1e16",
        "-1e15", "4.9e-324", "1.7976931348623157e308", "9007199254740993", "9223372036854775807", "9223372036854775808",
        "-9223372036854775808", "-9223372036854775809", "18446744073709551616", "123456789012345678901234567890", "1000000",
        "1000001", "999999999999999.99", "3.14159", "7001234567890", "44012345678901",
    ]
    static let longString = String(repeating: "x", count: 10_240)
    static let strings = [
        "", "12", "0", "-1", "1e400", "-1e400", "1e19", "inf", "-inf", "nan", "NaN", "Infinity", "-Infinity", "0x10", " 12 ", "+5", "12abc",
        "1_000", "-0", "0.5", "1,5", "USD", "EUR", "gid://shopify/ProductVariant/123", "gid://", "gid:///", "gid://shopify/Product/?x",
        "//cdn.example.com/a.png", "/products/x", "https://demo.myshopify.com/", "é", "e\u{301}", "😀", "<script>", "a\u{0}b", "\u{2028}",
        "-9223372036854775808", "9223372036854775807", "2026-11-23T10:00:00.000Z", "9999-12-31T23:59:60.999999999+23:59",
        "0000-01-01T00:00:00Z", "2026-02-30T00:00:00Z", "c1-abc?key=def", "a,b,,c", "$x", "refund", "subscribed", "demo.myshopify.com",
        "a-shop.myshopify.com", "v_fuzz_visitor_1", "product_viewed", "cart_updated", "checkout_completed", "%", "%zz", "%ff", "'\"\\",
    ]
    /// Every member name the mappers, claims and batch validation read, plus a few they do not.
    static let keys = [
        "product_id", "id", "product_name", "title", "price", "variant_id", "currency", "image_url", "image", "product_url", "url", "sku",
        "vendor", "type", "cart_token", "items", "quantity", "product_title", "final_price", "total_price", "line_items", "lineItems",
        "variant", "product", "amount", "src", "variant_title", "checkout", "totalPrice", "order_number", "tags", "discount_codes", "code",
        "order_status_url", "referring_site", "payment_gateway_names", "confirmed", "cancelled_at", "total_discounts",
        "fulfillment_status", "fulfillments", "status", "tracking_company", "tracking_numbers", "tracking_urls", "cancel_reason",
        "refund_line_items", "line_item", "transactions", "kind", "subtotal", "note", "order_id", "token", "presentment_currency",
        "abandoned_checkout_url", "checkout_token", "handle", "product_type", "published_scope", "images", "options", "name", "option1",
        "option2", "option3", "image_id", "compare_at_price", "inventory_quantity", "inventory_item_id", "updated_at", "featuredImage",
        "variants", "nodes", "edges", "node", "selectedOptions", "value", "compareAtPrice", "inventoryQuantity", "inventoryItem",
        "productType", "updatedAt", "customer", "email", "ts", "sig", "logged_in_customer_id", "app_proxy", "financial_status",
        "x", "$x", "é", "",
    ]
    static let arrayKeys: Set<String> = [
        "items", "line_items", "lineItems", "variants", "nodes", "edges", "images", "options", "fulfillments", "refund_line_items",
        "transactions", "discount_codes", "selectedOptions", "payment_gateway_names", "tracking_numbers",
    ]
    static let objectKeys: Set<String> = [
        "variant", "product", "checkout", "customer", "line_item", "featuredImage", "image", "inventoryItem", "node", "app_proxy",
        "totalPrice", "total_price", "price", "variants",
    ]

    static func number(_ r: inout FuzzRNG) -> String {
        switch r.int(0..<4) {
        case 0: return String(r.int(-1_000_000...1_000_000_000))
        case 1: return "\(r.int(0...99_999)).\(r.int(0...99))"
        case 2: return "\(r.int(1...9))e\(r.int(-400...400))"
        default: return r.pick(numbers)
        }
    }

    static func string(_ r: inout FuzzRNG) -> String {
        switch r.int(0..<12) {
        case 0: return r.chance(0.2) ? longString : String(repeating: "y", count: r.int(65...300))
        case 1: return String((0..<r.int(1...12)).map { _ in Character(Unicode.Scalar(UInt8(r.int(0x20...0x7E)))) })
        case 2: return String((0..<r.int(1...6)).compactMap { _ in Unicode.Scalar(UInt32(r.int(0...0x10FFFF))).map(Character.init) })
        default: return r.pick(strings)
        }
    }

    static func value(_ r: inout FuzzRNG, depth: Int, key: String? = nil) -> JSONValue {
        if let key, depth < 3 {
            if arrayKeys.contains(key), r.chance(0.75) {
                return .array((0..<r.int(0...4)).map { _ in r.chance(0.85) ? .object(object(&r, depth: depth + 1)) : value(&r, depth: depth + 1) })
            }
            if objectKeys.contains(key), r.chance(0.4) { return .object(object(&r, depth: depth + 1)) }
        }
        switch r.int(0..<(depth >= 3 ? 4 : 7)) {
        case 0: return .null
        case 1: return .bool(r.chance(0.5))
        case 2: return .number(number(&r))
        case 3: return .string(string(&r))
        case 4: return .array((0..<r.int(0...3)).map { _ in value(&r, depth: depth + 1) })
        default: return .object(object(&r, depth: depth + 1))
        }
    }

    /// An object whose names are distinct (as Swift compares them: the parser's own reading).
    static func object(_ r: inout FuzzRNG, depth: Int, names: [String] = keys, density: Double = 0.15) -> JSONObject {
        var members: [(key: String, value: JSONValue)] = []
        var seen = Set<String>()
        // Nested objects get fewer members, so a document stays a few KB rather than growing exponentially.
        let density = depth <= 1 ? density : min(density, 0.05)
        for name in names where r.chance(density) && seen.insert(name).inserted {
            members.append((name, value(&r, depth: depth, key: name)))
        }
        if r.chance(0.1) {
            let extra = string(&r)
            if !extra.utf8.contains(0), seen.insert(extra).inserted { members.append((extra, value(&r, depth: depth))) }
        }
        return JSONObject(members)
    }

    /// Dictionary for mutations: JSON syntax fragments, escapes, invalid UTF-8, hostile numbers.
    static let tokens: [[UInt8]] = [
        "{", "}", "[", "]", ",", ":", "\"", "\\", "\\u", "\\ud800", "\\udc00", "\\ud83d\\ude00", "\\u0000", "\\u0024", "1e400", "-", ".",
        "e", "null", "tru", "fals", " ", "\t", "\"a\":1,", "\"\\u0061\":1,", "[[[[[[[[[[[[", "]]]]]]", "{\"$x\":1}", "\"\\u0024x\":1,",
    ].map { Array($0.utf8) } + [[0xFF, 0xFE], [0xC0, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0x80], [0xE2, 0x82], [0x00], [0x1F]]

    /// One to four random edits: truncation, bit flips, inserted tokens or invalid UTF-8, deleted or
    /// repeated slices (repeats make duplicate member names), and wrapping in deep nesting.
    static func mutate(_ input: [UInt8], _ r: inout FuzzRNG) -> [UInt8] {
        var b = input
        for _ in 0..<r.int(1...4) {
            let at = r.int(0...b.count)
            switch r.int(0..<9) {
            case 0: b = Array(b.prefix(at))
            case 1: if at < b.count { b[at] ^= UInt8(1 << r.int(0..<8)) }
            case 2, 3: b.insert(contentsOf: r.pick(tokens), at: at)
            case 4: b.removeSubrange(at..<min(b.count, at + r.int(1...16)))
            case 5:
                let from = r.int(0...b.count)
                b.insert(contentsOf: b[from..<min(b.count, from + r.int(1...40))], at: at)
            case 6: if at < b.count { b[at] = UInt8(r.int(0...255)) }
            case 7:
                let n = r.chance(0.9) ? r.int(1...20) : r.int(1...10_000)
                b = Array(repeating: UInt8(ascii: "["), count: n) + b + Array(repeating: UInt8(ascii: "]"), count: n)
            default: b.insert(UInt8(r.int(0..<0x20)), at: at)
            }
        }
        return b
    }
}

/// Checks on what the mappers emit.
enum FuzzCheck {
    /// Whether `text` is a JSON number exactly (what Braze must receive for a `.number`).
    static func isJSONNumber(_ text: String) -> Bool {
        guard case .number(let parsed)? = try? JSONParser.parse(Array(text.utf8), maxDepth: 1) else { return false }
        return parsed == text
    }

    /// The first `.number` whose text is not a JSON number, with its path.
    static func badNumber(in value: JSONValue, path: String = "$") -> String? {
        switch value {
        case .number(let n): return isJSONNumber(n) ? nil : "\(path) = .number(\(String(reflecting: n)))"
        case .array(let items):
            for (i, item) in items.enumerated() { if let bad = badNumber(in: item, path: "\(path)[\(i)]") { return bad } }
            return nil
        case .object(let object):
            for m in object.members { if let bad = badNumber(in: m.value, path: "\(path).\(m.key)") { return bad } }
            return nil
        default: return nil
        }
    }

    /// What a mapper emitted must be JSON the parser reads back (numbers valid, names distinct, no NUL).
    static func emitted(_ value: JSONValue, _ what: String) -> String? {
        if let bad = badNumber(in: value) { return "\(what) emitted an invalid number: \(bad)" }
        do { _ = try JSONParser.parse(Array(value.serialized.utf8), maxDepth: 64) } catch {
            return "\(what) emitted JSON that does not parse: \(error.message)"
        }
        return nil
    }

    /// `.rawObject` members replaced by their parsed trees, to compare the two parser readings.
    static func expand(_ value: JSONValue) -> JSONValue? {
        switch value {
        case .rawObject(let text): return try? JSONParser.parse(Array(text.utf8), maxDepth: 64)
        case .array(let items):
            var out: [JSONValue] = []
            for item in items { guard let e = expand(item) else { return nil }; out.append(e) }
            return .array(out)
        case .object(let object):
            var out: [(key: String, value: JSONValue)] = []
            for m in object.members { guard let e = expand(m.value) else { return nil }; out.append((m.key, e)) }
            return .object(JSONObject(out))
        default: return value
        }
    }
}

@Suite(.serialized) struct FuzzTests {
    /// Inputs per property in a normal run (SHOPTRAIL_FUZZ_ITERATIONS overrides, e.g. to profile one).
    static var iterations: Int { Fuzz.environment["SHOPTRAIL_FUZZ_ITERATIONS"].flatMap { Int($0) } ?? 2_000 }

    // MARK: JSON parser

    @Test func parserReadsBackWhatItWrites() {
        Fuzz.run("parser-roundtrip", iterations: Self.iterations) { r in
            let value = HostileJSON.value(&r, depth: 0)
            let text = Array(value.serialized.utf8)
            guard let parsed = try? JSONParser.parse(text, maxDepth: 16) else { return "refused its own output \(Fuzz.show(text))" }
            return parsed == value ? nil : "read back differently: \(Fuzz.show(text))"
        }
    }

    @Test func parserSurvivesMutationsAndBothReadingsAgree() {
        Fuzz.run("parser-mutations", iterations: Self.iterations) { r in
            let seed = JSONValue.object(HostileJSON.object(&r, depth: 1, names: ["properties", "context", "a", "b"] + HostileJSON.keys, density: 0.2))
            let bytes = HostileJSON.mutate(Array(seed.serialized.utf8), &r)
            let depth = r.int(1...64)
            let tree = try? JSONParser.parse(bytes, maxDepth: depth)
            let raw = try? JSONParser.parse(bytes, maxDepth: depth, rawKeys: ["properties", "context", "a", "b"])
            guard (tree == nil) == (raw == nil) else {
                return "tree reading \(tree == nil ? "refused" : "accepted"), raw reading did not (depth \(depth)): \(Fuzz.show(bytes))"
            }
            guard let tree, let raw else { return nil }
            guard FuzzCheck.expand(raw) == tree else { return "raw members read differently from the tree: \(Fuzz.show(bytes))" }
            guard let again = try? JSONParser.parse(Array(tree.serialized.utf8), maxDepth: depth), again == tree else {
                return "serialized value does not read back: \(Fuzz.show(bytes))"
            }
            return nil
        }
    }

    // MARK: Batch validation

    static func hostileBatch(_ r: inout FuzzRNG) -> [UInt8] {
        func field(_ valid: JSONValue, key: String) -> JSONValue? {
            if r.chance(0.05) { return nil }
            return r.chance(0.8) ? valid : HostileJSON.value(&r, depth: 2, key: key)
        }
        var events: [JSONValue] = []
        let count = r.chance(0.02) ? 101 : r.int(0...4)
        for i in 0..<count {
            var members: [(key: String, value: JSONValue)] = []
            if let v = field(.string(r.chance(0.9) ? "e\(i)" : HostileJSON.string(&r)), key: "id") { members.append(("id", v)) }
            if let v = field(.string(r.pick(StorefrontEventName.allCases).rawValue), key: "name") { members.append(("name", v)) }
            if let v = field(.string(Timestamp.format(1_790_000_000_000 + Int64(r.int(0...1_000_000)))), key: "time") { members.append(("time", v)) }
            if let v = field(.object(HostileJSON.object(&r, depth: 2)), key: "properties") { members.append(("properties", v)) }
            if r.chance(0.05) { members.append(("extra", .null)) }
            events.append(r.chance(0.95) ? .object(JSONObject(members)) : HostileJSON.value(&r, depth: 1))
        }
        var envelope: [(key: String, value: JSONValue)] = []
        if let v = field(.string("pk_demo_1"), key: "write_key") { envelope.append(("write_key", v)) }
        if let v = field(.string(r.chance(0.9) ? "v_fuzz_visitor_1" : HostileJSON.string(&r)), key: "visitor_id") { envelope.append(("visitor_id", v)) }
        if let v = field(.string("s_1"), key: "session_id") { envelope.append(("session_id", v)) }
        if let v = field(.string("2026-11-23T10:00:00.000Z"), key: "sent_at") { envelope.append(("sent_at", v)) }
        if let v = field(.object(HostileJSON.object(&r, depth: 2, names: ["page", "customer", "$x", "cart_token", "locale"] + HostileJSON.keys)), key: "context") {
            envelope.append(("context", v))
        }
        if let v = field(.array(events), key: "events") { envelope.append(("events", v)) }
        if r.chance(0.03) { envelope.append(("unknown", .bool(true))) }
        let bytes = Array(JSONValue.object(JSONObject(envelope)).serialized.utf8)
        return r.chance(0.4) ? HostileJSON.mutate(bytes, &r) : bytes
    }

    @Test func batchValidationRefusesWithA4xxOrAcceptsAValidBatch() {
        let limits = CollectorLimits()
        Fuzz.run("batch", iterations: Self.iterations) { r in
            let body = Self.hostileBatch(&r)
            let batch: IncomingBatch
            do throws(APIError) {
                batch = try IncomingBatch.parse(body, limits: limits)
            } catch {
                return (400..<500).contains(error.status.code) ? nil : "refused with \(error.status.code) \(error.code): \(Fuzz.show(body))"
            }
            guard (1...limits.maxEventsPerBatch).contains(batch.events.count), IncomingBatch.isIdentifier(batch.visitorId, minLength: 8) else {
                return "accepted a batch outside the limits: \(Fuzz.show(body))"
            }
            for event in batch.events {
                guard IncomingBatch.isEventId(event.id), event.propertiesJSON.utf8.count <= limits.maxPropertiesBytes,
                      case .object? = try? JSONParser.parse(Array(event.propertiesJSON.utf8), maxDepth: 64) else {
                    return "accepted an invalid event \(event.id): \(Fuzz.show(body))"
                }
            }
            if let context = batch.contextJSON {
                guard context.utf8.count <= limits.maxContextBytes, case .object(let object)? = try? JSONParser.parse(Array(context.utf8), maxDepth: 64),
                      !object.keys.contains(where: { $0.hasPrefix("$") }) else {
                    return "accepted a context that is too large, not an object or reserved: \(Fuzz.show(body))"
                }
            }
            return nil
        }
    }

    // MARK: Signatures

    static let proxySecret = Secret("api-secret-fuzz")

    static func encode(_ params: [(name: String, value: String)]) -> String {
        params.map { "\($0.name.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")=\($0.value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")" }
            .joined(separator: "&")
    }

    @Test func appProxySignatureNeverCrashesAndOnlyVerifiesWhatWasSigned() {
        let now: Int64 = 1_790_000_000
        let names = ["shop", "signature", "timestamp", "logged_in_customer_id", "path_prefix", "extra", "a", "SHOP", "shop ", "", "%73hop"]
        let timestamps = ["\(now)", "\(now - 300)", "\(now + 300)", "\(now - 301)", "-9223372036854775808", "9223372036854775807", "-0", "+\(now)",
                          " \(now)", "1e9", "", "abc", "99999999999999999999"]
        Fuzz.run("app-proxy", iterations: Self.iterations) { r in
            var params: [(name: String, value: String)] = [("shop", "a-shop.myshopify.com"), ("logged_in_customer_id", r.chance(0.5) ? "" : HostileJSON.string(&r)),
                                                           ("path_prefix", "/apps/shoptrail"), ("timestamp", r.chance(0.5) ? "\(now + Int64(r.int(-400...400)))" : r.pick(timestamps))]
            for _ in 0..<r.int(0...3) { params.insert((r.pick(names), HostileJSON.string(&r)), at: r.int(0...params.count)) }
            if r.chance(0.1) {
                let dropped = r.pick(["shop", "timestamp", "logged_in_customer_id"])
                params.removeAll { $0.name == dropped }
            }
            let signed = r.chance(0.6)
            var query = Self.encode(params)
            if signed { query += "&signature=" + AppProxySignature.sign(params, secret: Self.proxySecret) }
            else if r.chance(0.7) { query += "&signature=" + (r.chance(0.5) ? String(repeating: "0", count: 64) : HostileJSON.string(&r)) }
            let mutated = r.chance(0.3)
            if mutated { query = String(decoding: HostileJSON.mutate(Array(query.utf8), &r), as: UTF8.self) }
            // Signed, untouched, each identity parameter once, fresh: Shopify's own forward, which must verify.
            let singles = ["shop", "timestamp", "logged_in_customer_id", "path_prefix", "signature"]
            let genuine = signed && !mutated && singles.allSatisfy { name in params.filter { $0.name == name }.count <= (name == "signature" ? 0 : 1) }
                && params.contains { $0.name == "shop" } && params.first { $0.name == "timestamp" }.flatMap { Int64($0.value) }.map { abs(Double($0) - Double(now)) <= 300 } == true
            let identity: AppProxyIdentity
            do throws(APIError) {
                identity = try AppProxySignature.verify(query: query, secrets: [Self.proxySecret], now: now)
            } catch {
                if genuine { return "refused a genuine forward (\(error.code)): \(query)" }
                return error.status.code == 401 ? nil : "refused with \(error.status.code): \(query)"
            }
            // Accepted: the query must carry our signature over exactly the parameters it names.
            let parsed = AppProxySignature.parse(query)
            let expected = AppProxySignature.sign(parsed.filter { $0.name != "signature" }, secret: Self.proxySecret)
            guard parsed.first(where: { $0.name == "signature" })?.value.lowercased() == expected,
                  identity.shop == parsed.first(where: { $0.name == "shop" })?.value,
                  abs(Double(identity.timestamp) - Double(now)) <= 300 else {
                return "verified a query it should not have: \(query)"
            }
            return nil
        }
    }

    @Test func webhookSignatureVerifiesOnlyTheSignedBody() {
        let secrets = [Secret("api-secret-fuzz"), Secret("previous-secret")]
        Fuzz.run("webhook-signature", iterations: Self.iterations) { r in
            let body = r.chance(0.5) ? Array(JSONValue.object(HostileJSON.object(&r, depth: 1)).serialized.utf8) : HostileJSON.mutate(Array("{}".utf8), &r)
            let signer = r.chance(0.8) ? r.pick(secrets) : Secret(HostileJSON.string(&r))
            var header = WebhookSignature.sign(body, secret: signer)
            var mutatedBody = body
            switch r.int(0..<5) {
            case 0: header = HostileJSON.string(&r)
            case 1: header = String(decoding: HostileJSON.mutate(Array(header.utf8), &r), as: UTF8.self)
            case 2: mutatedBody = HostileJSON.mutate(body, &r)
            case 3: header = " \(header) "
            default: break
            }
            let verified = WebhookSignature.verify(mutatedBody, header: header, secrets: secrets)
            let expected = secrets.contains { WebhookSignature.sign(mutatedBody, secret: $0) == header.trimmingCharacters(in: .whitespaces) }
            return verified == expected ? nil : "verify said \(verified) for header \(String(reflecting: header)) over \(Fuzz.show(mutatedBody))"
        }
    }

    @Test func customerClaimsAreOnlyWhatIsSignedAndFresh() {
        let secret = Secret("snippet-secret-fuzz")
        let shop = "a-shop.myshopify.com"
        Fuzz.run("customer-claims", iterations: Self.iterations) { r in
            let receivedAt: EpochMillis = r.chance(0.05) ? r.pick([Int64.min, Int64.max, 0, -1]) : 1_790_000_000_000 + Int64(r.int(0...1_000_000))
            var customer = HostileJSON.object(&r, depth: 2, names: ["id", "email", "ts", "sig"], density: 0.8)
            if r.chance(0.5), let id = customer["id"]?.idString, let ts = customer["ts"]?.idString {
                let email = customer["email"]?.stringValue ?? ""
                let fresh = String(receivedAt / 1000 - Int64(r.int(-400...200_000)))
                let stamp = r.chance(0.5) ? ts : fresh
                customer.members.removeAll { $0.key == "sig" || $0.key == "ts" }
                customer.members.append(("ts", .string(stamp)))
                customer.members.append(("sig", .string(CustomerClaims.signature(shop: r.chance(0.9) ? shop : "b-shop.myshopify.com", customerId: id, email: email, timestamp: stamp, secret: secret))))
            }
            let context = r.chance(0.9) ? JSONObject([("customer", .object(customer))]) : HostileJSON.object(&r, depth: 1)
            let verified = r.chance(0.2) ? HostileJSON.object(&r, depth: 1, names: ["app_proxy", "x"], density: 0.7) : nil
            // Through the parser, as the processor reads them.
            guard case .object(let ctx)? = try? JSONParser.parse(Array(JSONValue.object(context).serialized.utf8), maxDepth: 64) else {
                return "context does not read back"
            }
            let result = CustomerClaims.read(verified: verified, context: ctx, receivedAt: receivedAt, shop: shop, snippetSecret: r.chance(0.9) ? secret : nil)
            guard let claim = result.claim else { return nil }
            switch claim.evidence {
            case .appProxy:
                return verified?["app_proxy"]?.objectValue?["logged_in_customer_id"]?.idString == claim.customerId ? nil : "app_proxy claim from nowhere"
            case .signedCustomer:
                guard let c = ctx["customer"]?.objectValue, let ts = c["ts"]?.idString, let seconds = Int64(ts),
                      c["sig"]?.stringValue?.lowercased() == CustomerClaims.signature(shop: shop, customerId: claim.customerId, email: c["email"]?.stringValue ?? "", timestamp: ts, secret: secret) else {
                    return "accepted a customer without a valid signature: \(Fuzz.show(.object(ctx)))"
                }
                let age = Double(receivedAt) - Double(seconds) * 1000
                return age <= 48 * 3_600_000 + 1000 && age >= -300_000 - 1000 ? nil : "accepted a stale signature (age \(age) ms): \(Fuzz.show(.object(ctx)))"
            case .cartToken, .pixelCheckout:
                return "a beacon claim with \(claim.evidence.rawValue) evidence"
            }
        }
    }

    @Test func timestampsParseTotallyAndRoundTrip() {
        Fuzz.run("timestamp", iterations: Self.iterations) { r in
            var text = Array(Timestamp.format(Int64(r.int(-62_000_000_000_000...253_000_000_000_000))).utf8)
            if r.chance(0.7) { text = HostileJSON.mutate(text, &r) }
            let string = String(decoding: text, as: UTF8.self)
            guard let millis = Timestamp.parse(string) else { return nil }
            // Whatever parses formats and parses again to the same instant.
            return Timestamp.parse(Timestamp.format(millis)) == millis ? nil : "\(String(reflecting: string)) does not round-trip"
        }
    }

    // MARK: Mappers

    /// A mapper input as the processor gets it: generated, serialized, then read by the parser.
    static func mapperInput(_ r: inout FuzzRNG, names: [String] = HostileJSON.keys) -> JSONObject? {
        let object = HostileJSON.object(&r, depth: 0, names: names, density: 0.35)
        guard case .object(let parsed)? = try? JSONParser.parse(Array(JSONValue.object(object).serialized.utf8), maxDepth: 64) else { return nil }
        return parsed
    }

    /// The mappers cost more per input (large generated orders); fewer in a normal run.
    static var mapperIterations: Int { Fuzz.environment["SHOPTRAIL_FUZZ_ITERATIONS"].flatMap { Int($0) } ?? 150 }

    @Test func ecommerceMapperEmitsOnlyValidNumbers() {
        Fuzz.run("ecommerce-mapper", iterations: Self.mapperIterations) { r in
            guard let p = Self.mapperInput(&r) else { return "generated input does not parse" }
            let mapper = EcommerceMapper(naming: r.chance(0.5) ? .ecommerce : .legacy, source: "https://demo.myshopify.com", shopDomain: "demo.myshopify.com")
            var out: [JSONValue] = []
            if let viewed = mapper.productViewed(p) { out.append(.object(viewed.properties)) }
            if let cart = mapper.cartUpdated(p) { out.append(.object(cart.properties)) }
            out.append(.array(EcommerceMapper.checkoutLines(p["checkout"]?.objectValue ?? p, fallback: p).map(JSONValue.object)))
            if let total = EcommerceMapper.checkoutTotal(p), !total.isFinite { return "checkout total \(total)" }
            for value in out { if let problem = FuzzCheck.emitted(value, "EcommerceMapper") { return "\(problem) from \(Fuzz.show(.object(p)))" } }
            return nil
        }
    }

    @Test func orderMapperEmitsOnlyValidNumbers() {
        Fuzz.run("order-mapper", iterations: Self.mapperIterations) { r in
            guard let order = Self.mapperInput(&r) else { return "generated input does not parse" }
            let mapper = OrderMapper(naming: r.chance(0.5) ? .ecommerce : .legacy, shopDomain: "demo.myshopify.com")
            var out: [JSONValue] = mapper.placed(order).map { .object($0.1) }
            out += mapper.purchases(order).map(JSONValue.object)
            out.append(OrderMapper.products(order["line_items"]))
            out.append(.object(mapper.orderStatus(order)))
            out.append(.object(mapper.cancelled(order).1))
            out.append(.object(mapper.refunded(order, order: r.chance(0.5) ? order : nil).1))
            if let started = mapper.checkoutStarted(order) { out.append(.object(started)) }
            for value in out { if let problem = FuzzCheck.emitted(value, "OrderMapper") { return "\(problem) from \(Fuzz.show(.object(order)))" } }
            return nil
        }
    }

    @Test func catalogItemMapperEmitsOnlyValidNumbers() {
        Fuzz.run("catalog-mapper", iterations: Self.mapperIterations) { r in
            guard let product = Self.mapperInput(&r) else { return "generated input does not parse" }
            let mapper = CatalogItemMapper(shopDomain: "demo.myshopify.com", itemIdMode: r.chance(0.5) ? .variantId : .sku)
            let extra = (0..<r.int(0...2)).map { _ in JSONValue.object(HostileJSON.object(&r, depth: 1)) }
            for mapped in [mapper.fromWebhook(product), mapper.fromGraphQL(product, extraVariants: extra)].compactMap({ $0 }) {
                for item in mapped.items {
                    if let problem = FuzzCheck.emitted(.object(item.fields), "CatalogItemMapper") { return "\(problem) from \(Fuzz.show(.object(product)))" }
                }
            }
            return nil
        }
    }

    // MARK: Fixed cases (deep nesting, names) and the fuzzer's findings

    @Test func deepNestingIsRefusedWithoutExhaustingTheStack() {
        for n in [65, 10_000, 200_000] {
            let text = Array(repeating: UInt8(ascii: "["), count: n) + Array(repeating: UInt8(ascii: "]"), count: n)
            #expect(throws: JSONParseError.self) { try JSONParser.parse(text, maxDepth: 64) }
            let objects = Array((String(repeating: #"{"a":"#, count: n) + "1" + String(repeating: "}", count: n)).utf8)
            #expect(throws: JSONParseError.self) { try JSONParser.parse(objects, maxDepth: 64, rawKeys: ["a"]) }
        }
        let eleven = Array(repeating: UInt8(ascii: "["), count: 11) + Array(repeating: UInt8(ascii: "]"), count: 11)
        #expect(throws: JSONParseError.self) { try JSONParser.parse(eleven, maxDepth: 10) }
        #expect((try? JSONParser.parse(eleven, maxDepth: 11)) != nil)
    }

    @Test func duplicateAndNULNamesAreRefusedHoweverEscaped() {
        for text in [#"{"a":1,"a":2}"#, #"{"a":1,"\u0061":2}"#, #"{"é":1,"\u00e9":2}"#, #"{"a\u0000b":1}"#, #"{"p":{"x":1,"\u0078":2}}"#] {
            #expect(throws: JSONParseError.self) { try JSONParser.parse(Array(text.utf8)) }
            #expect(throws: JSONParseError.self) { try JSONParser.parse(Array(text.utf8), rawKeys: ["p"]) }
        }
    }

    /// Found by scripts/fuzz (seed 1413, order-mapper inputs 63, 64, 106, 185): a string `order_number`
    /// was emitted as a JSON number (`"order_number": subscribed`), invalid JSON for Braze's whole request.
    @Test func orderNumberThatIsNotANumberIsLeftOut() throws {
        let mapper = OrderMapper(naming: .ecommerce, shopDomain: "demo.myshopify.com")
        for text in [#""subscribed""#, #""1,5""#, #""gid://""#, #""inf""#, #""""#, "1.5", "1e400", "true"] {
            guard case .object(let order) = try JSONParser.parse(Array(#"{"id":1,"order_number":\#(text),"line_items":[{"product_id":1,"quantity":1}]}"#.utf8)) else { return }
            for properties in [mapper.placed(order)[0].1, mapper.cancelled(order).1, mapper.refunded(JSONObject([("order_id", .number("1"))]), order: order).1] {
                #expect(FuzzCheck.emitted(.object(properties), "OrderMapper") == nil, "order_number \(text)")
                #expect(properties["metadata"]?.objectValue?["order_number"] == nil, "order_number \(text)")
            }
        }
        guard case .object(let order) = try JSONParser.parse(Array(#"{"id":1,"order_number":"1001"}"#.utf8)) else { return }
        #expect(mapper.placed(order)[0].1["metadata"]?.objectValue?["order_number"] == .number("1001"))
    }
}

import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Synchronization
import Testing
@testable import BrazeSandbox

/// Runs the shared conformance corpus (`fixtures/braze-requests/*.json`: request bodies third parties send to Braze,
/// each with the answer real Braze gives or documents) against an in-process sandbox with its default configuration.
/// The fixtures are read where they live, never copied into this repository; see that folder's README.md.
@Suite struct ConformanceCorpusTests {
    static let files = ["braze-docs.json", "docs-rules.json", "limits.json", "rudderstack.json"]

    /// `$SHOPTRAIL_SHARED_FIXTURES` (the `fixtures` folder), else the first `<dir>/../shared/fixtures` walking up from
    /// the package root; the corpus is its `braze-requests` subfolder.
    static func corpusFolder(filePath: String = #filePath) -> URL? {
        let fileManager = FileManager.default
        if let override = ProcessInfo.processInfo.environment["SHOPTRAIL_SHARED_FIXTURES"], !override.isEmpty {
            let folder = URL(fileURLWithPath: override).appendingPathComponent("braze-requests")
            return fileManager.fileExists(atPath: folder.path) ? folder : nil
        }
        // #filePath = <package>/Tests/BrazeSandboxTests/ConformanceCorpusTests.swift
        var directory = URL(fileURLWithPath: filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        while true {
            let candidate = directory.appendingPathComponent("../shared/fixtures/braze-requests").standardized
            if fileManager.fileExists(atPath: candidate.path) { return candidate }
            let parent = directory.deletingLastPathComponent()
            if parent.path == directory.path { return nil }
            directory = parent
        }
    }

    /// One fixture, as read from the corpus.
    struct Fixture: Sendable {
        var file: String
        var id: String
        var json: JSONValue
    }

    static func loadFixtures(from folder: URL) throws -> [Fixture] {
        var fixtures: [Fixture] = []
        for file in files {
            let url = folder.appendingPathComponent(file)
            let data = try Data(contentsOf: url)
            guard let items = JSONValue.parse(data)?.arrayValue else {
                throw CorpusError("\(url.path) is not a JSON array of fixtures")
            }
            for item in items {
                fixtures.append(Fixture(file: file, id: item["id"]?.stringValue ?? "(no id)", json: item))
            }
        }
        return fixtures
    }

    /// Fixtures that disagree, collected from inside the sandbox's test closure.
    final class Disagreements: Sendable {
        let list = Mutex<[(Fixture, [String])]>([])
    }

    /// A corpus that cannot be read.
    struct CorpusError: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    /// Expands the corpus's synthetic payload markers: `{"$repeat": {"count": n, "item": x}}` → n copies of x,
    /// `{"$pad": {"char": c, "length": n}}` → c repeated n times. Other `$` keys (Braze's own `$add`, …) are left alone.
    static func expand(_ value: JSONValue) -> JSONValue {
        switch value {
        case .object(let object):
            if object.count == 1, let spec = object["$repeat"], let count = spec["count"]?.intValue, let item = spec["item"],
               (0...1_000_000).contains(count) {
                return .array(Array(repeating: expand(item), count: Int(count)))
            }
            if object.count == 1, let spec = object["$pad"], let char = spec["char"]?.stringValue, let length = spec["length"]?.intValue,
               (0...100_000_000).contains(length) {
                return .string(String(repeating: char, count: Int(length)))
            }
            return .object(object.mapValues(expand))
        case .array(let items):
            return .array(items.map(expand))
        default:
            return value
        }
    }

    /// Sends one fixture's request; returns what disagrees with its `expect` (empty = agrees).
    static func run(_ fixture: Fixture, client: any TestClientProtocol) async throws -> [String] {
        guard let request = fixture.json["request"], let expect = fixture.json["expect"] else { return ["fixture has no request/expect"] }
        let path = request["path"]?.stringValue ?? "/"
        let method = HTTPRequest.Method(request["method"]?.stringValue ?? "POST") ?? .post
        let body: String = if let raw = request["raw"]?.stringValue { raw } else { expand(request["body"] ?? .null).jsonString }
        let key: String? = switch request["auth"]?.stringValue ?? "key" {
        case "none": nil
        case "wrong": "not-a-key-of-this-sandbox"
        default: testKey
        }
        let answer = try await client.braze(path, body, method: method, key: key)
        var problems: [String] = []
        let outcome = expect["outcome"]?.stringValue ?? "accepted"
        let success = (200..<300).contains(answer.status)
        let described = "got \(answer.status) \(answer.body.jsonString.prefix(300))"
        switch outcome {
        case "accepted":
            if !success || !answer.errors.isEmpty { problems.append("expected accepted, \(described)") }
        case "partial":
            if !success || answer.message != "success" || answer.errors.isEmpty { problems.append("expected partial, \(described)") }
        case "refused":
            if !(400..<500).contains(answer.status) { problems.append("expected refused (4xx), \(described)") }
        default:
            problems.append("unknown outcome '\(outcome)'")
        }
        if let status = expect["status"]?.intValue, Int64(answer.status) != status {
            problems.append("expected status \(status), \(described)")
        }
        if let expected = expect["errors"]?.arrayValue {
            let wanted = Set(expected.map { "\($0["input_array"]?.stringValue ?? "?")[\($0["index"]?.intValue.map(String.init) ?? "?")]" })
            let got = Set(answer.errors.map { "\($0["input_array"]?.stringValue ?? "?")[\($0["index"]?.intValue.map(String.init) ?? "?")]" })
            if wanted != got { problems.append("expected errors \(wanted.sorted()), got \(got.sorted()): \(answer.body.jsonString.prefix(400))") }
        }
        for (field, value) in expect["body"]?.objectValue ?? [:] where answer.body[field] != value {
            problems.append("expected body.\(field) = \(value.jsonString), got \(answer.body[field]?.jsonString ?? "nothing")")
        }
        for header in expect["headers"]?.arrayValue?.compactMap(\.stringValue) ?? [] where answer.header(header) == nil {
            problems.append("expected header \(header)")
        }
        return problems
    }

    @Test func everyFixtureOfTheSharedCorpusAgreesWithTheSandbox() async throws {
        guard let folder = Self.corpusFolder() else {
            Issue.record("""
                conformance corpus not found: set SHOPTRAIL_SHARED_FIXTURES to the shared 'fixtures' folder \
                (holding braze-requests/), or place it at <an ancestor of the package>/../shared/fixtures
                """)
            return
        }
        let fixtures = try Self.loadFixtures(from: folder)
        #expect(!fixtures.isEmpty, "no fixtures in \(folder.path)")
        let found = Disagreements()
        try await withRouterSandbox { client in
            for fixture in fixtures {
                // Each fixture meets a fresh workspace.
                _ = try await client.sandbox("/_sandbox/reset", method: .post)
                let problems = try await Self.run(fixture, client: client)
                if !problems.isEmpty { found.list.withLock { $0.append((fixture, problems)) } }
            }
        }
        let disagreements = found.list.withLock { $0 }
        print("conformance: \(fixtures.count - disagreements.count) of \(fixtures.count) fixtures agree (\(folder.path))")
        for (fixture, problems) in disagreements {
            print("  disagrees: \(fixture.file) \(fixture.id): \(problems.joined(separator: "; "))")
        }
        #expect(disagreements.isEmpty, "\(disagreements.count) fixture(s) disagree: \(disagreements.map(\.0.id).joined(separator: ", "))")
    }

    @Test func corpusMarkersExpand() {
        let expanded = Self.expand(["a": ["$repeat": ["count": 3, "item": ["x": ["$pad": ["char": "y", "length": 4]]]]], "b": ["$add": [1]]])
        #expect(expanded == ["a": [["x": "yyyy"], ["x": "yyyy"], ["x": "yyyy"]], "b": ["$add": [1]]])
    }
}

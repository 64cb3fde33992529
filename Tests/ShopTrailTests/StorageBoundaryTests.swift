import Foundation
import Testing

/// `Storage/` alone speaks SQL (issue 16): no GRDB or PostgresNIO import, database pool, SQL text or SQLite state object
/// anywhere else in `Sources/`. A second path to the database is where the next locking or ordering bug hides.
@Suite struct StorageBoundaryTests {
    static let forbidden: [(pattern: String, what: String)] = [
        (#"import\s+GRDB"#, "a GRDB import"),
        (#"import\s+PostgresNIO"#, "a PostgresNIO import"),
        (#"\.pool\b"#, "the database pool"),
        (#"\bsql:"#, "an SQL argument"),
        (#"\bSQLiteProcessorState\("#, "a SQLite state object"),
        (#"\b(SELECT|INSERT\s+INTO|DELETE\s+FROM|UPDATE\s+\w+\s+SET|CREATE\s+(TABLE|INDEX)|PRAGMA)\b"#, "SQL text"),
    ]

    @Test func noSQLOutsideStorage() throws {
        let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources")
        let storage = sources.appendingPathComponent("ShopTrail/Storage").standardizedFileURL.path + "/"
        let enumerator = try #require(FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil))
        var checked = 0
        var found: [String] = []
        for case let url as URL in enumerator where url.pathExtension == "swift" {
            let path = url.standardizedFileURL.path
            guard !path.hasPrefix(storage) else { continue }
            checked += 1
            let text = try String(contentsOf: url, encoding: .utf8)
            for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                for rule in Self.forbidden where line.range(of: rule.pattern, options: .regularExpression) != nil {
                    found.append("\(path.dropFirst(sources.path.count + 1)):\(number + 1): \(rule.what): \(line.trimmingCharacters(in: .whitespaces))")
                }
            }
        }
        #expect(checked > 100, "the scan found the sources")
        #expect(found.isEmpty, "SQL outside Storage/:\n\(found.joined(separator: "\n"))")
    }

    /// One owner of SQLite's write lock (issue 16): inside `Storage/`, only the write scheduler opens a write
    /// transaction on the pool, so no write can jump the ingest lane or skip its budget.
    @Test func everySQLiteWriteGoesThroughTheWriteScheduler() throws {
        let storage = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources/ShopTrail/Storage")
        let direct = #"\bpool\s*\.\s*(write|writeWithoutTransaction|barrierWriteWithoutTransaction|asyncWrite|asyncWriteWithoutTransaction|unsafeReentrantWrite|inDatabase)\b"#
        let files = try FileManager.default.contentsOfDirectory(at: storage, includingPropertiesForKeys: nil).filter { $0.pathExtension == "swift" }
        #expect(files.count > 10, "the scan found Storage/")
        var found: [String] = []
        for url in files where url.lastPathComponent != "GroupCommitter.swift" {
            let text = try String(contentsOf: url, encoding: .utf8)
            for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
            where line.range(of: direct, options: .regularExpression) != nil {
                found.append("\(url.lastPathComponent):\(number + 1): \(line.trimmingCharacters(in: .whitespaces))")
            }
        }
        #expect(found.isEmpty, "writes around the scheduler:\n\(found.joined(separator: "\n"))")
    }
}

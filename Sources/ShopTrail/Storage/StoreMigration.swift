import Foundation
import GRDB
import PostgresNIO

/// `shoptrail migrate --to postgres`: copies a SQLite store into an empty PostgreSQL database, then
/// checks every table's row count on both sides.
///
/// The copy follows PostgreSQL's schema (the target is migrated first), table by table and column by
/// column, so a table a later version adds on both engines is copied without a change here. It runs
/// in one PostgreSQL transaction: a copy that fails leaves the target empty, ready for another try.
/// The server must be stopped: the source's row counts are taken before and after, and a store that
/// changed meanwhile fails the copy.
public struct StoreMigration: Sendable {
    /// What one table's copy found.
    public struct TableReport: Sendable, Equatable {
        public var table: String
        public var sourceRows: Int
        public var targetRows: Int
    }

    /// Why a copy was refused or failed, in words an operator can act on.
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var description: String
        init(_ description: String) { self.description = description }
    }

    /// SQLite tables that have no PostgreSQL counterpart on purpose, with the reason (shown in the report).
    static let leftBehind: [String: String] = [
        "security_events": "legacy per-event security log, replaced by security_counts (v16); past rows are kept in the SQLite file",
        "visitor_events": "SQLite's record of each visitor's events (its log has no visitor index); PostgreSQL indexes the log itself (events_visitor)",
    ]
    /// Bookkeeping of each engine, never copied.
    static let ownTables: Set<String> = ["shoptrail_migrations", "grdb_migrations", "sqlite_sequence", "processor_leases"]
    /// The SQLite log has one cursor and one run record for all shops; PostgreSQL keeps one per shop.
    static let perShopTables: Set<String> = ["processor_position", "processor_run"]

    let source: SQLiteDatabase
    let target: PostgresDatabase
    /// Shops that get a cursor even when they have no event yet (the configured ones).
    let shops: [String]

    public init(source: SQLiteDatabase, target: PostgresDatabase, shops: [String]) {
        self.source = source
        self.target = target
        self.shops = shops
    }

    struct Column {
        var name: String
        var type: String
        var required: Bool
        var identity: Bool
    }

    /// Copies everything; `progress` gets a line per table. Returns one report per copied table.
    public func run(progress: @escaping @Sendable (String) -> Void = { _ in }) async throws -> (tables: [TableReport], notes: [String]) {
        let targetTables = try await targetSchema()
        let sourceTables = try await source.pool.read { db in
            try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        }
        var notes: [String] = []
        for table in sourceTables where targetTables[table] == nil && !Self.ownTables.contains(table) {
            let rows = try await count(sourceTable: table)
            if let reason = Self.leftBehind[table] {
                if rows > 0 { notes.append("\(table): \(rows) rows not copied: \(reason)") }
            } else if rows > 0 {
                throw Failure("SQLite table \(table) (\(rows) rows) has no PostgreSQL counterpart in this version; nothing was copied")
            }
        }
        let before = try await sourceCounts(sourceTables)
        let copied = try await target.transaction { connection -> [TableReport] in
            for table in targetTables.keys.sorted() where !Self.ownTables.contains(table) {
                let rows = try await connection.query(PostgresQuery(unsafeSQL: "SELECT count(*) FROM \(table)"), logger: target.logger).decode(Int64.self)
                for try await n in rows where n > 0 {
                    throw Failure("the PostgreSQL database is not empty (\(table) has \(n) rows): migrate copies into an empty database only")
                }
            }
            var reports: [TableReport] = []
            for table in targetTables.keys.sorted() where sourceTables.contains(table) && !Self.ownTables.contains(table) && !Self.perShopTables.contains(table) {
                let report = try await copy(table: table, columns: targetTables[table] ?? [], into: connection)
                progress("\(table): \(report.sourceRows) rows")
                reports.append(report)
            }
            reports += try await copyCursors(into: connection)
            return reports
        }
        let after = try await sourceCounts(sourceTables)
        guard before == after else {
            throw Failure("the SQLite store changed while it was copied (is `shoptrail serve` still running on it?): stop the server and run migrate again on an empty database")
        }
        let wrong = copied.filter { $0.sourceRows != $0.targetRows }
        guard wrong.isEmpty else {
            throw Failure("row counts differ after the copy: " + wrong.map { "\($0.table) \($0.sourceRows) → \($0.targetRows)" }.joined(separator: ", "))
        }
        return (copied, notes)
    }

    /// PostgreSQL's tables and columns, in column order.
    private func targetSchema() async throws -> [String: [Column]] {
        let rows = try await target.rows("""
            SELECT table_name::text, column_name::text, data_type::text, (is_nullable = 'NO' AND column_default IS NULL AND is_identity = 'NO'),
                   (is_identity = 'YES')
            FROM information_schema.columns WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position
            """)
        var tables: [String: [Column]] = [:]
        for row in rows {
            let (table, name, type, required, identity) = try row.decode((String, String, String, Bool, Bool).self)
            tables[table, default: []].append(Column(name: name, type: type, required: required, identity: identity))
        }
        return tables
    }

    private func count(sourceTable table: String) async throws -> Int {
        try await source.pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM \(table)") ?? 0 }
    }

    private func sourceCounts(_ tables: [String]) async throws -> [String: Int] {
        var counts: [String: Int] = [:]
        for table in tables { counts[table] = try await count(sourceTable: table) }
        return counts
    }

    /// One table, in pages of its SQLite key (the rowid, or the primary key of a WITHOUT ROWID table).
    private func copy(table: String, columns: [Column], into connection: PostgresConnection) async throws -> TableReport {
        let info = try await source.pool.read { db in try Row.fetchAll(db, sql: "PRAGMA table_info(\(table))") }
        let sourceColumns = Set(info.compactMap { $0["name"] as String? })
        let copied = columns.filter { sourceColumns.contains($0.name) }
        if let missing = columns.first(where: { $0.required && !sourceColumns.contains($0.name) }) {
            throw Failure("\(table).\(missing.name) is required in PostgreSQL and missing in the SQLite store")
        }
        let lost = sourceColumns.subtracting(columns.map(\.name))
        let sourceRows = try await count(sourceTable: table)
        if !lost.isEmpty, sourceRows > 0 {
            throw Failure("SQLite column(s) \(lost.sorted().map { "\(table).\($0)" }.joined(separator: ", ")) have no PostgreSQL counterpart; nothing was copied")
        }
        let withoutRowid = try await source.pool.read { db in
            try String.fetchOne(db, sql: "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", arguments: [table])?.uppercased().contains("WITHOUT ROWID") ?? false
        }
        let keys = withoutRowid
            ? info.filter { ($0["pk"] as Int? ?? 0) > 0 }.sorted { ($0["pk"] as Int? ?? 0) < ($1["pk"] as Int? ?? 0) }.compactMap { $0["name"] as String? }
            : ["rowid"]
        let names = copied.map(\.name).joined(separator: ", ")
        let keyList = keys.joined(separator: ", ")
        let page = max(1, min(1_000, 60_000 / max(1, copied.count)))
        var after: [DatabaseValue]?
        while true {
            let bound = after
            let rows = try await source.pool.read { db -> [Row] in
                let condition = bound.map { "WHERE (\(keyList)) > (\(Array(repeating: "?", count: $0.count).joined(separator: ", ")))" } ?? ""
                return try Row.fetchAll(db, sql: "SELECT \(keyList), \(names) FROM \(table) \(condition) ORDER BY \(keyList) LIMIT \(page)",
                                        arguments: StatementArguments(bound ?? []))
            }
            guard let last = rows.last else { break }
            after = (0..<keys.count).map { last[$0] as DatabaseValue }
            var binds = PostgresBindings(capacity: rows.count * copied.count)
            var tuples: [String] = []
            var index = 0
            for row in rows {
                var placeholders: [String] = []
                for (offset, column) in copied.enumerated() {
                    index += 1
                    placeholders.append("$\(index)" + (column.type == "jsonb" || column.type == "json" ? "::\(column.type)" : ""))
                    try Self.bind(row[keys.count + offset] as DatabaseValue, as: column, table: table, into: &binds)
                }
                tuples.append("(" + placeholders.joined(separator: ", ") + ")")
            }
            let overriding = copied.contains(where: \.identity) ? " OVERRIDING SYSTEM VALUE" : ""
            try await connection.query(PostgresQuery(unsafeSQL: "INSERT INTO \(table) (\(names))\(overriding) VALUES \(tuples.joined(separator: ", "))", binds: binds),
                                       logger: target.logger)
        }
        // Identity columns continue after the copied values.
        for column in copied where column.identity {
            try await connection.query(PostgresQuery(unsafeSQL: """
                SELECT setval(pg_get_serial_sequence('\(table)', '\(column.name)'), COALESCE((SELECT MAX(\(column.name)) FROM \(table)), 0) + 1, false)
                """), logger: target.logger)
        }
        return TableReport(table: table, sourceRows: sourceRows, targetRows: try await targetCount(table, connection))
    }

    private func targetCount(_ table: String, _ connection: PostgresConnection) async throws -> Int {
        var total = 0
        for try await n in try await connection.query(PostgresQuery(unsafeSQL: "SELECT count(*) FROM \(table)"), logger: target.logger).decode(Int64.self) {
            total = Int(clamping: n)
        }
        return total
    }

    /// A SQLite value as the PostgreSQL column's type; a value that does not fit fails the copy with its place.
    static func bind(_ value: DatabaseValue, as column: Column, table: String, into binds: inout PostgresBindings) throws {
        switch (value.storage, column.type) {
        case (.null, _): binds.appendNull()
        case (.int64(let n), "bigint"), (.int64(let n), "integer"), (.int64(let n), "smallint"): binds.append(n)
        case (.int64(let n), "boolean"): binds.append(n != 0)
        case (.int64(let n), "double precision"), (.int64(let n), "real"), (.int64(let n), "numeric"): binds.append(Double(n))
        case (.double(let d), "double precision"), (.double(let d), "real"), (.double(let d), "numeric"): binds.append(d)
        case (.string(let s), "text"), (.string(let s), "jsonb"), (.string(let s), "json"): binds.append(s)
        // SQLite's type affinity can keep a number in a TEXT column; its text is what the engine would read back.
        case (.int64(let n), "text"): binds.append(String(n))
        case (.double(let d), "text"): binds.append(String(d))
        case (.blob(let data), "bytea"): binds.append(ByteBuffer(bytes: data))
        default:
            throw Failure("\(table).\(column.name): a SQLite \(value.storage) value does not fit PostgreSQL's \(column.type)")
        }
    }

    /// The SQLite log's single cursor and run record, as one per shop: every shop was processed up to the same position.
    private func copyCursors(into connection: PostgresConnection) async throws -> [TableReport] {
        let (positions, runs, eventShops) = try await source.pool.read { db in
            (try Row.fetchAll(db, sql: "SELECT name, position FROM processor_position").map { ($0["name"] as String, $0["position"] as Int64) },
             try Row.fetchAll(db, sql: "SELECT name, running, attempting, started_at FROM processor_run")
                .map { ($0["name"] as String, ($0["running"] as Int64? ?? 0) != 0, $0["attempting"] as Int64?, $0["started_at"] as Int64? ?? 0) },
             try String.fetchAll(db, sql: "SELECT DISTINCT shop FROM events"))
        }
        let allShops = Array(Set(shops + eventShops)).sorted()
        for (name, position) in positions {
            for shop in allShops {
                try await connection.query("INSERT INTO processor_position (shop, name, position) VALUES (\(shop), \(name), \(position))", logger: target.logger)
            }
        }
        for (name, running, attempting, startedAt) in runs {
            // The event being attempted alone belongs to one shop; only that shop's run carries it.
            let attemptShop = try await attempting.asyncMap { position in
                try await source.pool.read { db in try String.fetchOne(db, sql: "SELECT shop FROM events WHERE position = ?", arguments: [position]) }
            } ?? nil
            for shop in allShops {
                let mine = shop == attemptShop ? attempting : nil
                try await connection.query("""
                    INSERT INTO processor_run (shop, name, running, attempting, started_at) VALUES (\(shop), \(name), \(running), \(mine), \(startedAt))
                    """, logger: target.logger)
            }
        }
        return [
            TableReport(table: "processor_position", sourceRows: positions.count * allShops.count, targetRows: try await targetCount("processor_position", connection)),
            TableReport(table: "processor_run", sourceRows: runs.count * allShops.count, targetRows: try await targetCount("processor_run", connection)),
        ]
    }
}

extension Optional {
    /// `map` with an async transform.
    func asyncMap<U>(_ transform: (Wrapped) async throws -> U) async rethrows -> U? {
        guard let value = self else { return nil }
        return try await transform(value)
    }
}

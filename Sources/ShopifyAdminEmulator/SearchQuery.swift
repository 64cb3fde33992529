import Foundation

/// Shopify's search syntax, the subset the emulator understands: `field:value`, `field:>=value` (also `>`, `<`, `<=`),
/// values bare or in single/double quotes, terms joined by spaces or `AND`, alternatives by `OR`, negation by `-` or `NOT`,
/// free words matched against a resource's default text. No parentheses.
struct SearchQuery: Sendable {
    enum Comparator: String, Sendable {
        case equal = ":"
        case greater = ":>"
        case greaterOrEqual = ":>="
        case less = ":<"
        case lessOrEqual = ":<="
    }

    struct Term: Sendable {
        var field: String?
        var comparator: Comparator
        var value: String
        var negated: Bool
        /// The term as written, for warnings.
        var text: String
    }

    /// OR of AND-groups.
    var groups: [[Term]]
    var source: String

    static func parse(_ text: String) -> SearchQuery {
        var groups: [[Term]] = [[]]
        var negateNext = false
        for token in tokens(text) {
            switch token {
            case "AND": continue
            case "OR":
                if groups[groups.count - 1].isEmpty == false { groups.append([]) }
                continue
            case "NOT":
                negateNext = true
                continue
            default: break
            }
            var body = Substring(token)
            var negated = negateNext
            negateNext = false
            if body.hasPrefix("-"), body.count > 1 {
                negated.toggle()
                body = body.dropFirst()
            }
            guard let colon = body.firstIndex(of: ":"), colon != body.startIndex else {
                groups[groups.count - 1].append(Term(field: nil, comparator: .equal, value: unquote(body), negated: negated, text: token))
                continue
            }
            let field = body[..<colon].lowercased()
            var rest = body[body.index(after: colon)...]
            var comparator = Comparator.equal
            if rest.hasPrefix(">=") { comparator = .greaterOrEqual; rest = rest.dropFirst(2) }
            else if rest.hasPrefix("<=") { comparator = .lessOrEqual; rest = rest.dropFirst(2) }
            else if rest.hasPrefix(">") { comparator = .greater; rest = rest.dropFirst() }
            else if rest.hasPrefix("<") { comparator = .less; rest = rest.dropFirst() }
            groups[groups.count - 1].append(Term(field: field, comparator: comparator, value: unquote(rest), negated: negated, text: token))
        }
        return SearchQuery(groups: groups.filter { !$0.isEmpty }, source: text)
    }

    /// Splits on whitespace outside quotes; quotes stay in the token (removed per value).
    private static func tokens(_ text: String) -> [String] {
        var tokens: [String] = []
        var current = ""
        var quote: Character? = nil
        for char in text {
            if let open = quote {
                current.append(char)
                if char == open { quote = nil }
            } else if char == "'" || char == "\"" {
                quote = char
                current.append(char)
            } else if char.isWhitespace || char == "(" || char == ")" {
                if !current.isEmpty { tokens.append(current); current = "" }
            } else {
                current.append(char)
            }
        }
        if !current.isEmpty { tokens.append(current) }
        return tokens
    }

    private static func unquote(_ value: Substring) -> String {
        var text = value
        if let first = text.first, first == "'" || first == "\"" {
            text = text.dropFirst()
            if text.last == first { text = text.dropLast() }
        }
        return String(text)
    }
}

/// How a searchable field of a resource is read and compared.
enum SearchField: Sendable {
    /// Whole seconds since 1970; a bare date is UTC midnight, and `field:2026-01-01` (no comparator) means that whole day.
    case date(@Sendable (Int) -> Int64?)
    /// Numeric comparison; accepts plain numbers or gids.
    case id(@Sendable (Int) -> Int64?)
    /// Case-insensitive equality against any of the values; a trailing `*` is a prefix match.
    case text(@Sendable (Int) -> [String])
    case bool(@Sendable (Int) -> Bool)
}

/// A compiled search: a predicate over record positions plus Shopify-style warnings for what was ignored.
struct SearchFilter: Sendable {
    var matches: @Sendable (Int) -> Bool
    var warnings: [ShopifyJSON]
    /// Inclusive bounds (whole seconds) that every match satisfies, per date field, when the query is a single AND
    /// group: lets a connection sorted by that field binary-search its range instead of scanning.
    var dateBounds: [String: ClosedRange<Int64>] = [:]

    static let all = SearchFilter(matches: { _ in true }, warnings: [])

    /// Compiles `query` against a resource's fields. Unknown fields are ignored with a warning, like Shopify does.
    static func compile(_ query: String?, fields: [String: SearchField], defaultText: @escaping @Sendable (Int) -> [String]) -> SearchFilter {
        guard let query, !query.trimmingCharacters(in: .whitespaces).isEmpty else { return .all }
        let parsed = SearchQuery.parse(query)
        var warnings: [ShopifyJSON] = []
        var groups: [[@Sendable (Int) -> Bool]] = []
        for group in parsed.groups {
            var predicates: [@Sendable (Int) -> Bool] = []
            for term in group {
                guard let predicate = compile(term, fields: fields, defaultText: defaultText, warnings: &warnings) else { continue }
                if term.negated {
                    predicates.append { @Sendable position in !predicate(position) }
                } else {
                    predicates.append(predicate)
                }
            }
            groups.append(predicates)
        }
        let compiled = groups
        var bounds: [String: ClosedRange<Int64>] = [:]
        if parsed.groups.count == 1, let group = parsed.groups.first {
            for term in group where !term.negated {
                guard let name = term.field, case .date? = fields[name], let (start, end) = dateRange(term.value) else { continue }
                let current = bounds[name] ?? Int64.min...Int64.max
                var low = current.lowerBound, high = current.upperBound
                switch term.comparator {
                case .equal: low = max(low, start); high = min(high, end - 1)
                case .greater: low = max(low, start + 1)
                case .greaterOrEqual: low = max(low, start)
                case .less: high = min(high, start - 1)
                case .lessOrEqual: high = min(high, start)
                }
                // Contradictory bounds (`>= b AND < a`): nothing can match.
                guard low <= high else { return SearchFilter(matches: { _ in false }, warnings: warnings) }
                bounds[name] = low...high
            }
        }
        return SearchFilter(matches: { position in
            if compiled.isEmpty { return true }
            for group in compiled {
                var all = true
                for predicate in group where !predicate(position) {
                    all = false
                    break
                }
                if all { return true }
            }
            return false
        }, warnings: warnings, dateBounds: bounds)
    }

    private static func compile(_ term: SearchQuery.Term, fields: [String: SearchField], defaultText: @escaping @Sendable (Int) -> [String],
                                warnings: inout [ShopifyJSON]) -> (@Sendable (Int) -> Bool)? {
        guard let name = term.field else {
            let needle = term.value.lowercased()
            guard !needle.isEmpty else { return nil }
            return { position in defaultText(position).contains { $0.lowercased().contains(needle) } }
        }
        guard let field = fields[name] else {
            warnings.append(["field": .string(name), "message": "Invalid search field for this query."])
            return nil
        }
        let comparator = term.comparator
        switch field {
        case .date(let read):
            guard let (start, end) = dateRange(term.value) else {
                warnings.append(["field": .string(name), "message": .string("Invalid date: \(term.value)")])
                return nil
            }
            return { position in
                guard let seconds = read(position) else { return false }
                switch comparator {
                case .equal: return seconds >= start && seconds < end
                case .greater: return seconds > start
                case .greaterOrEqual: return seconds >= start
                case .less: return seconds < start
                case .lessOrEqual: return seconds <= start
                }
            }
        case .id(let read):
            guard let value = Int64(term.value.split(separator: "/").last.map(String.init) ?? term.value) else {
                warnings.append(["field": .string(name), "message": .string("Invalid id: \(term.value)")])
                return nil
            }
            return { position in
                guard let id = read(position) else { return false }
                switch comparator {
                case .equal: return id == value
                case .greater: return id > value
                case .greaterOrEqual: return id >= value
                case .less: return id < value
                case .lessOrEqual: return id <= value
                }
            }
        case .text(let read):
            let needle = term.value.lowercased()
            if needle.hasSuffix("*") {
                let prefix = String(needle.dropLast())
                return { position in read(position).contains { $0.lowercased().hasPrefix(prefix) } }
            }
            return { position in read(position).contains { $0.lowercased() == needle } }
        case .bool(let read):
            guard let value = Bool(term.value.lowercased()) else {
                warnings.append(["field": .string(name), "message": .string("Invalid boolean: \(term.value)")])
                return nil
            }
            return { position in read(position) == value }
        }
    }

    /// The instant (whole seconds, UTC midnight for a bare date) and, for equality, the end of the matched span:
    /// a whole day for a date, one second for a date-time.
    static func dateRange(_ text: String) -> (Int64, Int64)? {
        guard let date = ShopifyTime.parse(text) else { return nil }
        let start = ShopifyTime.epochSeconds(date)
        let dateOnly = !text.contains("T") && !text.contains("t") && !text.contains(" ")
        return (start, start + (dateOnly ? 86_400 : 1))
    }
}

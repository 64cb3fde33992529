/// A lexical token of a GraphQL document.
struct GraphQLToken: Sendable, Equatable {
    enum Kind: Sendable, Equatable {
        case punctuator(String)  // ! $ & ( ) ... : = @ [ ] { | }
        case name(String)
        case int(String)
        case float(String)
        case string(String)
        case endOfFile
    }

    var kind: Kind
    var location: SourceLocation

    /// graphql-ruby's token names, for "Parse error on … (KIND)" messages.
    var describedForError: String {
        switch kind {
        case .punctuator(let text):
            let names = ["{": "LCURLY", "}": "RCURLY", "(": "LPAREN", ")": "RPAREN", "[": "LBRACKET", "]": "RBRACKET",
                         ":": "COLON", "$": "VAR_SIGN", "!": "BANG", "=": "EQUALS", "@": "DIR_SIGN", "...": "ELLIPSIS",
                         "&": "AMP", "|": "PIPE"]
            return "\"\(text)\" (\(names[text] ?? "PUNCTUATOR"))"
        case .name(let text): return "\"\(text)\" (IDENTIFIER)"
        case .int(let text): return "\"\(text)\" (INT)"
        case .float(let text): return "\"\(text)\" (FLOAT)"
        case .string(let text): return "\(ShopifyJSON.string(text).jsonString) (STRING)"
        case .endOfFile: return "end of file"
        }
    }
}

/// A syntax error with its location; becomes `{"message": "...", "locations": [...]}`.
struct GraphQLSyntaxError: Error, Sendable {
    var message: String
    var location: SourceLocation
}

/// Splits query text into tokens. Commas and `#` comments are ignored, as the spec says.
struct GraphQLLexer {
    private let bytes: [UInt8]
    private var index = 0
    private var line = 1
    private var lineStart = 0

    init(_ text: String) { bytes = Array(text.utf8) }

    private var location: SourceLocation { SourceLocation(line: line, column: index - lineStart + 1) }

    mutating func tokenize() throws(GraphQLSyntaxError) -> [GraphQLToken] {
        var tokens: [GraphQLToken] = []
        while true {
            let token = try next()
            tokens.append(token)
            if token.kind == .endOfFile { return tokens }
        }
    }

    private mutating func newline() {
        line += 1
        lineStart = index
    }

    private mutating func skipIgnored() {
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: ","):
                index += 1
            case 0xEF where index + 2 < bytes.count && bytes[index + 1] == 0xBB && bytes[index + 2] == 0xBF:
                index += 3  // byte order mark
            case UInt8(ascii: "\n"):
                index += 1
                newline()
            case UInt8(ascii: "\r"):
                index += 1
                if index < bytes.count, bytes[index] == UInt8(ascii: "\n") { index += 1 }
                newline()
            case UInt8(ascii: "#"):
                while index < bytes.count, bytes[index] != UInt8(ascii: "\n"), bytes[index] != UInt8(ascii: "\r") { index += 1 }
            default:
                return
            }
        }
    }

    private mutating func next() throws(GraphQLSyntaxError) -> GraphQLToken {
        skipIgnored()
        let start = location
        guard index < bytes.count else { return GraphQLToken(kind: .endOfFile, location: start) }
        let byte = bytes[index]
        switch byte {
        case UInt8(ascii: "!"), UInt8(ascii: "$"), UInt8(ascii: "&"), UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: ":"),
             UInt8(ascii: "="), UInt8(ascii: "@"), UInt8(ascii: "["), UInt8(ascii: "]"), UInt8(ascii: "{"), UInt8(ascii: "|"),
             UInt8(ascii: "}"):
            index += 1
            return GraphQLToken(kind: .punctuator(String(UnicodeScalar(byte))), location: start)
        case UInt8(ascii: "."):
            guard index + 2 < bytes.count, bytes[index + 1] == UInt8(ascii: "."), bytes[index + 2] == UInt8(ascii: ".") else {
                throw GraphQLSyntaxError(message: "Parse error on \".\" (error) at [\(start.line), \(start.column)]", location: start)
            }
            index += 3
            return GraphQLToken(kind: .punctuator("..."), location: start)
        case UInt8(ascii: "\""):
            if index + 2 < bytes.count, bytes[index + 1] == UInt8(ascii: "\""), bytes[index + 2] == UInt8(ascii: "\"") {
                return GraphQLToken(kind: .string(try blockString(start)), location: start)
            }
            return GraphQLToken(kind: .string(try string(start)), location: start)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return try number(start)
        case UInt8(ascii: "_"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"):
            let begin = index
            while index < bytes.count, Self.isNameContinue(bytes[index]) { index += 1 }
            return GraphQLToken(kind: .name(String(decoding: bytes[begin..<index], as: UTF8.self)), location: start)
        default:
            let scalarEnd = Self.scalarEnd(bytes, from: index)
            let text = String(decoding: bytes[index..<scalarEnd], as: UTF8.self)
            throw GraphQLSyntaxError(message: "Parse error on \(ShopifyJSON.string(text).jsonString) (error) at [\(start.line), \(start.column)]", location: start)
        }
    }

    private static func isNameContinue(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "_"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): return true
        default: return false
        }
    }

    private static func scalarEnd(_ bytes: [UInt8], from start: Int) -> Int {
        var end = start + 1
        while end < bytes.count, bytes[end] & 0xC0 == 0x80 { end += 1 }
        return end
    }

    private mutating func number(_ start: SourceLocation) throws(GraphQLSyntaxError) -> GraphQLToken {
        let begin = index
        var isFloat = false
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        func digits() -> Int {
            let from = index
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
            return index - from
        }
        let intDigits = digits()
        let bad = GraphQLSyntaxError(message: "Parse error on \"\(String(decoding: bytes[begin..<min(index + 1, bytes.count)], as: UTF8.self))\" (error) at [\(start.line), \(start.column)]", location: start)
        guard intDigits > 0 else { throw bad }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            isFloat = true
            guard digits() > 0 else { throw bad }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            isFloat = true
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard digits() > 0 else { throw bad }
        }
        // A number must not run straight into a name ("123abc").
        if index < bytes.count, Self.isNameContinue(bytes[index]) || bytes[index] == UInt8(ascii: ".") { throw bad }
        let text = String(decoding: bytes[begin..<index], as: UTF8.self)
        return GraphQLToken(kind: isFloat ? .float(text) : .int(text), location: start)
    }

    private mutating func string(_ start: SourceLocation) throws(GraphQLSyntaxError) -> String {
        index += 1
        var out: [UInt8] = []
        let unterminated = GraphQLSyntaxError(message: "Parse error on unterminated string at [\(start.line), \(start.column)]", location: start)
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                index += 1
                return String(decoding: out, as: UTF8.self)
            case UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                throw unterminated
            case UInt8(ascii: "\\"):
                index += 1
                guard index < bytes.count else { throw unterminated }
                let escape = bytes[index]
                index += 1
                switch escape {
                case UInt8(ascii: "\""): out.append(UInt8(ascii: "\""))
                case UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\"))
                case UInt8(ascii: "/"): out.append(UInt8(ascii: "/"))
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    guard var scalar = hex4() else { throw badEscape(start) }
                    if (0xD800...0xDBFF).contains(scalar), index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") {
                        index += 2
                        guard let low = hex4(), (0xDC00...0xDFFF).contains(low) else { throw badEscape(start) }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let unicode = Unicode.Scalar(scalar) else { throw badEscape(start) }
                    out.append(contentsOf: Array(String(Character(unicode)).utf8))
                default:
                    throw badEscape(start)
                }
            default:
                out.append(byte)
                index += 1
            }
        }
        throw unterminated
    }

    private func badEscape(_ start: SourceLocation) -> GraphQLSyntaxError {
        GraphQLSyntaxError(message: "Parse error on bad Unicode escape sequence at [\(start.line), \(start.column)]", location: start)
    }

    private mutating func hex4() -> UInt32? {
        guard index + 4 <= bytes.count else { return nil }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default: return nil
            }
            value = value << 4 | digit
            index += 1
        }
        return value
    }

    /// `"""…"""`: raw text (only `\"""` is an escape), then the spec's common-indentation removal.
    private mutating func blockString(_ start: SourceLocation) throws(GraphQLSyntaxError) -> String {
        index += 3
        var raw: [UInt8] = []
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "\""), index + 2 < bytes.count, bytes[index + 1] == UInt8(ascii: "\""), bytes[index + 2] == UInt8(ascii: "\"") {
                index += 3
                return Self.blockStringValue(String(decoding: raw, as: UTF8.self))
            }
            if bytes[index] == UInt8(ascii: "\\"), index + 3 < bytes.count, bytes[index + 1] == UInt8(ascii: "\""),
               bytes[index + 2] == UInt8(ascii: "\""), bytes[index + 3] == UInt8(ascii: "\"") {
                raw.append(contentsOf: Array("\"\"\"".utf8))
                index += 4
                continue
            }
            if bytes[index] == UInt8(ascii: "\n") {
                raw.append(bytes[index])
                index += 1
                newline()
                continue
            }
            if bytes[index] == UInt8(ascii: "\r") {
                raw.append(UInt8(ascii: "\n"))
                index += 1
                if index < bytes.count, bytes[index] == UInt8(ascii: "\n") { index += 1 }
                newline()
                continue
            }
            raw.append(bytes[index])
            index += 1
        }
        throw GraphQLSyntaxError(message: "Parse error on unterminated string at [\(start.line), \(start.column)]", location: start)
    }

    static func blockStringValue(_ raw: String) -> String {
        var lines = raw.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        func indent(_ line: String) -> Int { line.prefix(while: { $0 == " " || $0 == "\t" }).count }
        var common: Int? = nil
        for line in lines.dropFirst() {
            let width = indent(line)
            if width < line.count { common = min(common ?? width, width) }
        }
        if let common, common > 0 {
            for i in lines.indices.dropFirst() { lines[i] = String(lines[i].dropFirst(min(common, indent(lines[i])))) }
        }
        func isBlank(_ line: String) -> Bool { line.allSatisfy { $0 == " " || $0 == "\t" } }
        while let first = lines.first, isBlank(first) { lines.removeFirst() }
        while let last = lines.last, isBlank(last) { lines.removeLast() }
        return lines.joined(separator: "\n")
    }
}

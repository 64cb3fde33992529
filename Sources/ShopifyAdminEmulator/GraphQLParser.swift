/// Recursive-descent parser for executable GraphQL documents (operations and fragments; no type system definitions).
struct GraphQLParser {
    private var tokens: [GraphQLToken]
    private var position = 0
    /// Guards the recursion against hostile nesting.
    private var depth = 0
    private static let maxDepth = 64

    /// Parses `text`; throws the first syntax error.
    static func parse(_ text: String) throws(GraphQLSyntaxError) -> GraphQLDocument {
        var lexer = GraphQLLexer(text)
        var parser = GraphQLParser(tokens: try lexer.tokenize())
        return try parser.document()
    }

    private init(tokens: [GraphQLToken]) { self.tokens = tokens }

    private var current: GraphQLToken { tokens[position] }

    private mutating func advance() -> GraphQLToken {
        let token = tokens[position]
        if position < tokens.count - 1 { position += 1 }
        return token
    }

    private func unexpected() -> GraphQLSyntaxError {
        let token = current
        if token.kind == .endOfFile {
            return GraphQLSyntaxError(message: "Unexpected end of document", location: token.location)
        }
        return GraphQLSyntaxError(message: "Parse error on \(token.describedForError) at [\(token.location.line), \(token.location.column)]",
                                  location: token.location)
    }

    private func isPunctuator(_ text: String) -> Bool { current.kind == .punctuator(text) }

    private mutating func skip(_ text: String) -> Bool {
        guard isPunctuator(text) else { return false }
        _ = advance()
        return true
    }

    private mutating func expect(_ text: String) throws(GraphQLSyntaxError) {
        guard skip(text) else { throw unexpected() }
    }

    private mutating func name() throws(GraphQLSyntaxError) -> String {
        guard case .name(let value) = current.kind else { throw unexpected() }
        _ = advance()
        return value
    }

    private func isName(_ word: String) -> Bool { current.kind == .name(word) }

    // MARK: Definitions

    private mutating func document() throws(GraphQLSyntaxError) -> GraphQLDocument {
        var operations: [GraphQLOperation] = []
        var fragments: [GraphQLFragment] = []
        if current.kind == .endOfFile { throw unexpected() }
        while current.kind != .endOfFile {
            if isPunctuator("{") {
                let location = current.location
                operations.append(GraphQLOperation(kind: .query, name: nil, variables: [], directives: [],
                                                   selections: try selectionSet(), location: location))
            } else if isName("fragment") {
                fragments.append(try fragment())
            } else if case .name(let word) = current.kind, let kind = GraphQLOperationKind(rawValue: word) {
                operations.append(try operation(kind))
            } else {
                throw unexpected()
            }
        }
        return GraphQLDocument(operations: operations, fragments: fragments)
    }

    private mutating func operation(_ kind: GraphQLOperationKind) throws(GraphQLSyntaxError) -> GraphQLOperation {
        let location = advance().location
        var operationName: String? = nil
        if case .name = current.kind { operationName = try name() }
        var variables: [GraphQLVariableDefinition] = []
        if skip("(") {
            repeat {
                let variableLocation = current.location
                try expect("$")
                let variableName = try name()
                try expect(":")
                let type = try typeReference()
                var defaultValue: GraphQLValue? = nil
                if skip("=") { defaultValue = try value(constant: true) }
                _ = try directives()
                variables.append(GraphQLVariableDefinition(name: variableName, type: type, defaultValue: defaultValue, location: variableLocation))
            } while !skip(")")
        }
        let directives = try directives()
        return GraphQLOperation(kind: kind, name: operationName, variables: variables, directives: directives,
                                selections: try selectionSet(), location: location)
    }

    private mutating func fragment() throws(GraphQLSyntaxError) -> GraphQLFragment {
        let location = advance().location
        let fragmentName = try name()
        guard fragmentName != "on" else { throw unexpected() }
        guard isName("on") else { throw unexpected() }
        _ = advance()
        let typeCondition = try name()
        _ = try directives()
        return GraphQLFragment(name: fragmentName, typeCondition: typeCondition, selections: try selectionSet(), location: location)
    }

    private mutating func typeReference() throws(GraphQLSyntaxError) -> GraphQLTypeReference {
        var type: GraphQLTypeReference
        if skip("[") {
            type = .list(try typeReference())
            try expect("]")
        } else {
            type = .named(try name())
        }
        if skip("!") { type = .nonNull(type) }
        return type
    }

    // MARK: Selections

    private mutating func selectionSet() throws(GraphQLSyntaxError) -> [GraphQLSelection] {
        depth += 1
        defer { depth -= 1 }
        guard depth <= Self.maxDepth else {
            throw GraphQLSyntaxError(message: "Query is nested too deeply", location: current.location)
        }
        try expect("{")
        var selections: [GraphQLSelection] = []
        repeat {
            selections.append(try selection())
        } while !skip("}")
        return selections
    }

    private mutating func selection() throws(GraphQLSyntaxError) -> GraphQLSelection {
        let location = current.location
        if skip("...") {
            if isName("on") {
                _ = advance()
                let typeCondition = try name()
                let directives = try directives()
                return .inlineFragment(typeCondition: typeCondition, directives: directives, selections: try selectionSet(), location: location)
            }
            if case .name = current.kind {
                let fragmentName = try name()
                return .fragmentSpread(name: fragmentName, directives: try directives(), location: location)
            }
            let directives = try directives()
            return .inlineFragment(typeCondition: nil, directives: directives, selections: try selectionSet(), location: location)
        }
        var alias: String? = nil
        var fieldName = try name()
        if skip(":") {
            alias = fieldName
            fieldName = try name()
        }
        let arguments = try arguments(constant: false)
        let directives = try directives()
        let selections = isPunctuator("{") ? try selectionSet() : []
        return .field(GraphQLField(alias: alias, name: fieldName, arguments: arguments, directives: directives,
                                   selections: selections, location: location))
    }

    private mutating func arguments(constant: Bool) throws(GraphQLSyntaxError) -> [GraphQLArgument] {
        guard skip("(") else { return [] }
        var arguments: [GraphQLArgument] = []
        repeat {
            let location = current.location
            let argumentName = try name()
            try expect(":")
            arguments.append(GraphQLArgument(name: argumentName, value: try value(constant: constant), location: location))
        } while !skip(")")
        return arguments
    }

    private mutating func directives() throws(GraphQLSyntaxError) -> [GraphQLDirective] {
        var directives: [GraphQLDirective] = []
        while isPunctuator("@") {
            let location = advance().location
            let directiveName = try name()
            directives.append(GraphQLDirective(name: directiveName, arguments: try arguments(constant: false), location: location))
        }
        return directives
    }

    // MARK: Values

    private mutating func value(constant: Bool) throws(GraphQLSyntaxError) -> GraphQLValue {
        depth += 1
        defer { depth -= 1 }
        guard depth <= Self.maxDepth else {
            throw GraphQLSyntaxError(message: "Query is nested too deeply", location: current.location)
        }
        let token = current
        switch token.kind {
        case .punctuator("$") where !constant:
            _ = advance()
            return .variable(try name())
        case .punctuator("["):
            _ = advance()
            var items: [GraphQLValue] = []
            while !skip("]") { items.append(try value(constant: constant)) }
            return .list(items)
        case .punctuator("{"):
            _ = advance()
            var fields: [GraphQLObjectField] = []
            while !skip("}") {
                let fieldName = try name()
                try expect(":")
                fields.append(GraphQLObjectField(name: fieldName, value: try value(constant: constant)))
            }
            return .object(fields)
        case .int(let text):
            _ = advance()
            guard let number = Int64(text) else { return .float(Double(text) ?? 0) }
            return .int(number)
        case .float(let text):
            _ = advance()
            return .float(Double(text) ?? 0)
        case .string(let text):
            _ = advance()
            return .string(text)
        case .name("true"):
            _ = advance()
            return .boolean(true)
        case .name("false"):
            _ = advance()
            return .boolean(false)
        case .name("null"):
            _ = advance()
            return .null
        case .name(let word):
            _ = advance()
            return .enumValue(word)
        default:
            throw unexpected()
        }
    }
}

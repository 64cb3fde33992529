/// A field ready to execute: fragments expanded, same-key fields merged, arguments coerced with defaults applied.
struct PlannedField: Sendable {
    var responseKey: String
    var name: String
    var spec: FieldSpec
    var arguments: [String: ShopifyJSON]
    var children: [PlannedField]
    var location: SourceLocation
    /// Selected inside `... on X` within an interface or union: applies only when the value's object type is X.
    var typeCondition: String? = nil

    /// An argument's value, nil when absent or null.
    func argument(_ name: String) -> ShopifyJSON? {
        guard let value = arguments[name], !value.isNull else { return nil }
        return value
    }
}

/// The validated operation: what to run and against which root type.
struct ExecutionPlan: Sendable {
    var operation: GraphQLOperation
    var rootType: String
    var fields: [PlannedField]
}

/// Validates a document against the schema the way graphql-ruby does (all static errors at once) and
/// produces the execution plan. Messages and extension codes follow graphql-ruby, as Shopify returns them.
struct GraphQLPlanner {
    let schema: ShopifySchema
    let document: GraphQLDocument
    private var errors: [GraphQLError] = []
    private var variableValues: [String: ShopifyJSON] = [:]
    private var usedVariables: Set<String> = []
    private var usedFragments: Set<String> = []
    private var declaredVariables: [String: GraphQLVariableDefinition] = [:]
    private var operationPathName = "query"
    private var operationMessageName = "anonymous query"
    /// Fields collected so far; fragments spread inside fragments can multiply a small document enormously.
    private var collectedFields = 0
    private static let maxCollectedFields = 20_000

    init(schema: ShopifySchema, document: GraphQLDocument) {
        self.schema = schema
        self.document = document
    }

    /// Picks the operation, coerces variables and plans it; returns every error found.
    mutating func plan(operationName: String?, variables: [(String, ShopifyJSON)]) -> Result<ExecutionPlan, GraphQLErrorList> {
        let operation: GraphQLOperation
        if let operationName, !operationName.isEmpty {
            guard let named = document.operations.first(where: { $0.name == operationName }) else {
                return .failure(GraphQLErrorList([GraphQLError("No operation named \"\(operationName)\"")]))
            }
            operation = named
        } else if document.operations.count == 1, let only = document.operations.first {
            operation = only
        } else if document.operations.isEmpty {
            return .failure(GraphQLErrorList([GraphQLError("No operations in this document")]))
        } else {
            return .failure(GraphQLErrorList([GraphQLError("An operation name is required")]))
        }
        operationPathName = operation.pathName
        operationMessageName = operation.messageName
        let rootType: String
        switch operation.kind {
        case .query: rootType = "QueryRoot"
        case .mutation: rootType = "Mutation"
        case .subscription:
            return .failure(GraphQLErrorList([GraphQLError("Schema is not configured for subscriptions", at: operation.location,
                                                            path: [.string(operation.pathName)], code: "missingSubscriptionConfiguration")]))
        }
        checkFragmentDefinitions()
        coerceVariables(operation.variables, provided: variables)
        let fields = planSelections(operation.selections, on: rootType, path: [.string(operation.pathName)], visiting: [])
        for definition in operation.variables where !usedVariables.contains(definition.name) {
            errors.append(GraphQLError("Variable $\(definition.name) is declared by \(operationMessageName) but not used",
                                       at: definition.location, path: [.string(operationPathName)], code: "variableNotUsed",
                                       [("variableName", .string(definition.name))]))
        }
        for fragment in document.fragments where !usedFragments.contains(fragment.name) {
            errors.append(GraphQLError("Fragment \(fragment.name) was defined, but not used", at: fragment.location,
                                       path: [.string("fragment \(fragment.name)")], code: "useAndDefineFragment",
                                       [("fragmentName", .string(fragment.name))]))
        }
        guard errors.isEmpty else { return .failure(GraphQLErrorList(errors)) }
        return .success(ExecutionPlan(operation: operation, rootType: rootType, fields: fields))
    }

    // MARK: Fragments

    private mutating func checkFragmentDefinitions() {
        var seen = Set<String>()
        for fragment in document.fragments {
            if !seen.insert(fragment.name).inserted {
                errors.append(GraphQLError("Fragment name \"\(fragment.name)\" must be unique", at: fragment.location,
                                           code: "fragmentNamesUnique", [("fragmentName", .string(fragment.name))]))
            }
            if schema.types[fragment.typeCondition] == nil {
                errors.append(GraphQLError("No such type \(fragment.typeCondition), so it can't be a fragment condition",
                                           at: fragment.location, path: [.string("fragment \(fragment.name)")], code: "undefinedType",
                                           [("typeName", .string(fragment.typeCondition))]))
            }
        }
    }

    // MARK: Variables

    private mutating func coerceVariables(_ definitions: [GraphQLVariableDefinition], provided: [(String, ShopifyJSON)]) {
        let providedMap = Dictionary(provided, uniquingKeysWith: { _, last in last })
        for definition in definitions {
            declaredVariables[definition.name] = definition
            let typeName = definition.type.namedType
            guard schema.isInputType(typeName) else {
                errors.append(GraphQLError("\(typeName) isn't a defined input type (on $\(definition.name))", at: definition.location,
                                           path: [.string(operationPathName)], code: "variableRequiresValidType",
                                           [("typeName", .string(typeName)), ("variableName", .string(definition.name))]))
                continue
            }
            if let raw = providedMap[definition.name] {
                switch coerceInput(raw, to: definition.type) {
                case .success(let value): variableValues[definition.name] = value
                case .failure(let problem): errors.append(invalidVariable(definition, value: raw, problem: problem.text))
                }
            } else if let defaultValue = definition.defaultValue {
                if case .success(let value) = coerceLiteral(defaultValue, to: definition.type) { variableValues[definition.name] = value }
            } else if definition.type.isNonNull {
                errors.append(invalidVariable(definition, value: .null, problem: "Expected value to not be null"))
            }
        }
    }

    private func invalidVariable(_ definition: GraphQLVariableDefinition, value: ShopifyJSON, problem: String) -> GraphQLError {
        GraphQLError("Variable $\(definition.name) of type \(definition.type) was provided invalid value", locations: [definition.location],
                     extensions: [("value", value), ("problems", [["path": [], "explanation": .string(problem)]])])
    }

    /// Coerces a JSON variable value to a declared input type (spec "Input Coercion").
    private func coerceInput(_ value: ShopifyJSON, to type: GraphQLTypeReference) -> Result<ShopifyJSON, CoercionProblem> {
        switch type {
        case .nonNull(let inner):
            if value.isNull { return .failure(CoercionProblem("Expected value to not be null")) }
            return coerceInput(value, to: inner)
        case .list(let inner):
            if value.isNull { return .success(.null) }
            // A single value where a list is expected becomes a one-element list.
            let items = value.arrayValue ?? [value]
            var out: [ShopifyJSON] = []
            for item in items {
                switch coerceInput(item, to: inner) {
                case .success(let coerced): out.append(coerced)
                case .failure(let problem): return .failure(problem)
                }
            }
            return .success(.array(out))
        case .named(let name):
            if value.isNull { return .success(.null) }
            if let coerced = coerceScalar(value, to: name) { return .success(coerced) }
            return .failure(CoercionProblem("Could not coerce value \(value.jsonString) to \(name)"))
        }
    }

    private func coerceScalar(_ value: ShopifyJSON, to name: String) -> ShopifyJSON? {
        if let values = schema.enums[name] {
            guard let text = value.stringValue, values.contains(text) else { return nil }
            return value
        }
        switch name {
        case "Int":
            guard let int = value.intValue, int >= Int64(Int32.min), int <= Int64(Int32.max) else { return nil }
            return .int(int)
        case "Float":
            return value.doubleValue.map(ShopifyJSON.double)
        case "Boolean":
            return value.boolValue.map(ShopifyJSON.bool)
        case "ID":
            if let text = value.stringValue { return .string(text) }
            if case .int(let int) = value { return .string(String(int)) }
            return nil
        case "String", "URL", "DateTime":
            return value.stringValue.map(ShopifyJSON.string)
        case "ImageTransformInput":
            return value.objectPairs != nil ? value : nil
        default:
            return nil
        }
    }

    /// Coerces a literal (variables already allowed or not by the caller) to an input type.
    private mutating func coerceLiteral(_ literal: GraphQLValue, to type: GraphQLTypeReference) -> Result<ShopifyJSON, CoercionProblem> {
        switch literal {
        case .variable(let name):
            usedVariables.insert(name)
            return .success(variableValues[name] ?? .null)
        case .null:
            return type.isNonNull ? .failure(CoercionProblem("null")) : .success(.null)
        default:
            break
        }
        switch type {
        case .nonNull(let inner):
            return coerceLiteral(literal, to: inner)
        case .list(let inner):
            let items: [GraphQLValue]
            if case .list(let values) = literal { items = values } else { items = [literal] }
            var out: [ShopifyJSON] = []
            for item in items {
                switch coerceLiteral(item, to: inner) {
                case .success(let value): out.append(value)
                case .failure(let problem): return .failure(problem)
                }
            }
            return .success(.array(out))
        case .named(let name):
            if let values = schema.enums[name] {
                guard case .enumValue(let word) = literal, values.contains(word) else { return .failure(CoercionProblem(literal.printed)) }
                return .success(.string(word))
            }
            switch (name, literal) {
            case ("Int", .int(let value)) where value >= Int64(Int32.min) && value <= Int64(Int32.max): return .success(.int(value))
            case ("Float", .int(let value)): return .success(.double(Double(value)))
            case ("Float", .float(let value)): return .success(.double(value))
            case ("Boolean", .boolean(let value)): return .success(.bool(value))
            case ("ID", .string(let value)), ("String", .string(let value)), ("URL", .string(let value)), ("DateTime", .string(let value)):
                return .success(.string(value))
            case ("ID", .int(let value)): return .success(.string(String(value)))
            case ("ImageTransformInput", .object(let fields)):
                var pairs: [(String, ShopifyJSON)] = []
                for field in fields {
                    if case .success(let value) = coerceAny(field.value) { pairs.append((field.name, value)) }
                }
                return .success(.object(pairs))
            default:
                return .failure(CoercionProblem(literal.printed))
            }
        }
    }

    /// Free-form literal to JSON (used inside input objects the emulator ignores).
    private mutating func coerceAny(_ literal: GraphQLValue) -> Result<ShopifyJSON, CoercionProblem> {
        switch literal {
        case .variable(let name): usedVariables.insert(name); return .success(variableValues[name] ?? .null)
        case .int(let value): return .success(.int(value))
        case .float(let value): return .success(.double(value))
        case .string(let value), .enumValue(let value): return .success(.string(value))
        case .boolean(let value): return .success(.bool(value))
        case .null: return .success(.null)
        case .list(let items):
            var out: [ShopifyJSON] = []
            for item in items { if case .success(let value) = coerceAny(item) { out.append(value) } }
            return .success(.array(out))
        case .object(let fields):
            var pairs: [(String, ShopifyJSON)] = []
            for field in fields { if case .success(let value) = coerceAny(field.value) { pairs.append((field.name, value)) } }
            return .success(.object(pairs))
        }
    }

    // MARK: Selections

    /// Whether @skip / @include let the selection through; unknown directives are errors.
    private mutating func isIncluded(_ directives: [GraphQLDirective], path: [ShopifyJSON]) -> Bool {
        var included = true
        for directive in directives {
            guard directive.name == "skip" || directive.name == "include" else {
                errors.append(GraphQLError("Directive @\(directive.name) is not defined", at: directive.location, path: path,
                                           code: "undefinedDirective", [("directiveName", .string(directive.name))]))
                continue
            }
            guard let argument = directive.arguments.first(where: { $0.name == "if" }) else {
                errors.append(GraphQLError("Directive '\(directive.name)' is missing required arguments: if", at: directive.location,
                                           path: path, code: "missingRequiredArguments",
                                           [("className", "Directive"), ("name", .string(directive.name)), ("arguments", "if")]))
                continue
            }
            let condition: Bool
            switch coerceLiteral(argument.value, to: .nonNull(.named("Boolean"))) {
            case .success(let value): condition = value.boolValue ?? false
            case .failure:
                errors.append(GraphQLError("Argument 'if' on Directive '\(directive.name)' has an invalid value (\(argument.value.printed)). Expected type 'Boolean!'.",
                                           at: argument.location, path: path, code: "argumentLiteralsIncompatible",
                                           [("typeName", "Directive"), ("argumentName", "if")]))
                continue
            }
            if directive.name == "skip" && condition { included = false }
            if directive.name == "include" && !condition { included = false }
        }
        return included
    }

    /// Whether a fragment on `condition` can apply inside a selection on `type` (they share an object type).
    private func canSpread(_ condition: String, in type: String) -> Bool {
        !schema.objectTypes(of: condition).isDisjoint(with: schema.objectTypes(of: type))
    }

    /// The object type a fragment's fields are restricted to inside an interface or union (nil: they always apply).
    private func restriction(_ condition: String, in type: String, current: String?) -> String? {
        guard schema.isAbstract(type), condition != type, !schema.isAbstract(condition) else { return current }
        return condition
    }

    /// Flattens fragments into fields of `type`, keeping first-appearance order. Inside an interface or union, the fields
    /// of a fragment on one of its object types are grouped apart, with that type (`on`).
    private mutating func collect(_ selections: [GraphQLSelection], on type: String, path: [ShopifyJSON], visiting: Set<String>,
                                  restrictedTo current: String? = nil,
                                  into groups: inout [(key: String, on: String?, fields: [GraphQLField])]) {
        for selection in selections {
            collectedFields += 1
            if collectedFields == Self.maxCollectedFields {
                errors.append(GraphQLError("Query has too many fields (more than \(Self.maxCollectedFields) after expanding fragments)", at: nil,
                                           code: "tooManyFields"))
            }
            guard collectedFields < Self.maxCollectedFields else { return }
            switch selection {
            case .field(let field):
                guard isIncluded(field.directives, path: path + [.string(field.responseKey)]) else { continue }
                if let index = groups.firstIndex(where: { $0.key == field.responseKey && $0.on == current }) {
                    groups[index].fields.append(field)
                } else {
                    groups.append((field.responseKey, current, [field]))
                }
            case .fragmentSpread(let name, let directives, let location):
                usedFragments.insert(name)
                guard isIncluded(directives, path: path) else { continue }
                guard let fragment = document.fragments.first(where: { $0.name == name }) else {
                    errors.append(GraphQLError("Fragment \(name) was used, but not defined", at: location, path: path + [.string("... \(name)")],
                                               code: "useAndDefineFragment", [("fragmentName", .string(name))]))
                    continue
                }
                guard !visiting.contains(name) else {
                    errors.append(GraphQLError("Fragment \(name) contains an infinite loop", at: location, path: path,
                                               code: "infiniteLoop", [("fragmentName", .string(name))]))
                    continue
                }
                guard schema.types[fragment.typeCondition] != nil else { continue }
                guard fragment.typeCondition == type || canSpread(fragment.typeCondition, in: type) else {
                    errors.append(GraphQLError("Fragment \(name) on \(fragment.typeCondition) can't be spread inside \(type)", at: location,
                                               path: path + [.string("... \(name)")], code: "fragmentSpreadTypeMismatch",
                                               [("typeName", .string(type)), ("fragmentName", .string(name))]))
                    continue
                }
                collect(fragment.selections, on: type, path: path, visiting: visiting.union([name]),
                        restrictedTo: restriction(fragment.typeCondition, in: type, current: current), into: &groups)
            case .inlineFragment(let condition, let directives, let selections, let location):
                guard isIncluded(directives, path: path) else { continue }
                if let condition {
                    guard schema.types[condition] != nil else {
                        errors.append(GraphQLError("No such type \(condition), so it can't be a fragment condition", at: location,
                                                   path: path + [.string("... on \(condition)")], code: "undefinedType",
                                                   [("typeName", .string(condition))]))
                        continue
                    }
                    guard condition == type || canSpread(condition, in: type) else {
                        errors.append(GraphQLError("Fragment on \(condition) can't be spread inside \(type)", at: location,
                                                   path: path + [.string("... on \(condition)")], code: "fragmentSpreadTypeMismatch",
                                                   [("typeName", .string(type)), ("fragmentName", .string("unknown"))]))
                        continue
                    }
                }
                collect(selections, on: type, path: path, visiting: visiting,
                        restrictedTo: condition.map { restriction($0, in: type, current: current) } ?? current, into: &groups)
            }
        }
    }

    private mutating func planSelections(_ selections: [GraphQLSelection], on type: String, path: [ShopifyJSON], visiting: Set<String>) -> [PlannedField] {
        var groups: [(key: String, on: String?, fields: [GraphQLField])] = []
        collect(selections, on: type, path: path, visiting: visiting, into: &groups)
        var planned: [PlannedField] = []
        for group in groups {
            guard let field = group.fields.first else { continue }
            let fieldPath = path + [.string(group.key)]
            if let other = group.fields.first(where: { $0.name != field.name }) {
                errors.append(GraphQLError("Field '\(group.key)' has a field conflict: \(field.name) or \(other.name)?", at: field.location,
                                           path: fieldPath, code: "fieldConflict",
                                           [("fieldName", .string(group.key)), ("conflicts", .string("\(field.name) or \(other.name)"))]))
                continue
            }
            let owner = group.on ?? type
            guard let spec = schema.field(field.name, on: owner) else {
                errors.append(GraphQLError("Field '\(field.name)' doesn't exist on type '\(owner)'", at: field.location, path: fieldPath,
                                           code: "undefinedField", [("typeName", .string(owner)), ("fieldName", .string(field.name))]))
                continue
            }
            let arguments = planArguments(field, spec: spec, path: fieldPath)
            let subselections = group.fields.flatMap(\.selections)
            var children: [PlannedField] = []
            if spec.kind == .scalar {
                if !subselections.isEmpty {
                    let names = subselections.compactMap { selection -> String? in
                        if case .field(let sub) = selection { return sub.name } else { return nil }
                    }
                    errors.append(GraphQLError("Selections can't be made on scalars (field '\(field.name)' returns \(spec.typeName) but has selections [\(names.joined(separator: ", "))])",
                                               at: field.location, path: fieldPath, code: "selectionMismatch",
                                               [("nodeName", .string("field '\(field.name)'")), ("typeName", .string(spec.typeName))]))
                }
            } else if subselections.isEmpty {
                errors.append(GraphQLError("Field must have selections (field '\(field.name)' returns \(spec.isList ? "[\(spec.typeName)!]!" : spec.typeName) but has no selections. Did you mean '\(field.name) { ... }'?)",
                                           at: field.location, path: fieldPath, code: "selectionMismatch",
                                           [("nodeName", .string("field '\(field.name)'")), ("typeName", .string(spec.typeName))]))
            } else {
                children = planSelections(subselections, on: spec.typeName, path: fieldPath, visiting: visiting)
            }
            planned.append(PlannedField(responseKey: group.key, name: field.name, spec: spec, arguments: arguments,
                                        children: children, location: field.location, typeCondition: group.on))
        }
        return planned
    }

    private mutating func planArguments(_ field: GraphQLField, spec: FieldSpec, path: [ShopifyJSON]) -> [String: ShopifyJSON] {
        var values: [String: ShopifyJSON] = [:]
        for argument in field.arguments {
            guard let argumentSpec = spec.argument(argument.name) else {
                errors.append(GraphQLError("Field '\(field.name)' doesn't accept argument '\(argument.name)'", at: argument.location,
                                           path: path + [.string(argument.name)], code: "argumentNotAccepted",
                                           [("name", .string(field.name)), ("typeName", "Field"), ("argumentName", .string(argument.name))]))
                continue
            }
            if case .variable(let name) = argument.value {
                usedVariables.insert(name)
                guard let definition = declaredVariables[name] else {
                    errors.append(GraphQLError("Variable $\(name) is used by \(operationMessageName) but not declared", at: argument.location,
                                               path: path + [.string(argument.name)], code: "variableNotDefined",
                                               [("variableName", .string(name))]))
                    continue
                }
                if definition.type.namedType != argumentSpec.type.namedType || !listShapeMatches(definition.type, argumentSpec.type) {
                    errors.append(GraphQLError("Type mismatch on variable $\(name) and argument \(argument.name) (\(definition.type) / \(argumentSpec.type))",
                                               at: argument.location, path: path + [.string(argument.name)], code: "variableMismatch",
                                               [("variableName", .string(name)), ("typeName", .string(definition.type.description)),
                                                ("argumentName", .string(argument.name)), ("errorMessage", "Type mismatch")]))
                    continue
                }
                if argumentSpec.type.isNonNull && !definition.type.isNonNull && definition.defaultValue == nil {
                    errors.append(GraphQLError("Nullability mismatch on variable $\(name) and argument \(argument.name) (\(definition.type) / \(argumentSpec.type))",
                                               at: argument.location, path: path + [.string(argument.name)], code: "variableMismatch",
                                               [("variableName", .string(name)), ("typeName", .string(definition.type.description)),
                                                ("argumentName", .string(argument.name)), ("errorMessage", "Nullability mismatch")]))
                    continue
                }
                if let value = variableValues[name] {
                    values[argument.name] = value
                }
                continue
            }
            switch coerceLiteral(argument.value, to: argumentSpec.type) {
            case .success(let value): values[argument.name] = value
            case .failure:
                errors.append(GraphQLError("Argument '\(argument.name)' on Field '\(field.name)' has an invalid value (\(argument.value.printed)). Expected type '\(argumentSpec.type)'.",
                                           at: argument.location, path: path + [.string(argument.name)], code: "argumentLiteralsIncompatible",
                                           [("typeName", "Field"), ("argumentName", .string(argument.name))]))
            }
        }
        var missing: [String] = []
        for argumentSpec in spec.arguments where values[argumentSpec.name] == nil || values[argumentSpec.name] == .null {
            if let defaultValue = argumentSpec.defaultValue, values[argumentSpec.name] == nil {
                values[argumentSpec.name] = defaultValue
            } else if argumentSpec.type.isNonNull, !field.arguments.contains(where: { $0.name == argumentSpec.name && isVariable($0.value) }) {
                missing.append(argumentSpec.name)
            }
        }
        if !missing.isEmpty {
            errors.append(GraphQLError("Field '\(field.name)' is missing required arguments: \(missing.joined(separator: ", "))", at: field.location,
                                       path: path, code: "missingRequiredArguments",
                                       [("className", "Field"), ("name", .string(field.name)), ("arguments", .string(missing.joined(separator: ", ")))]))
        }
        return values
    }

    private func isVariable(_ value: GraphQLValue) -> Bool { if case .variable = value { return true } else { return false } }

    private func listShapeMatches(_ a: GraphQLTypeReference, _ b: GraphQLTypeReference) -> Bool {
        func strip(_ type: GraphQLTypeReference) -> GraphQLTypeReference {
            if case .nonNull(let inner) = type { return inner } else { return type }
        }
        switch (strip(a), strip(b)) {
        case (.named, .named): return true
        case (.list(let x), .list(let y)): return listShapeMatches(x, y)
        default: return false
        }
    }
}

/// A batch of errors (wrapped so `Result` can carry an array).
struct GraphQLErrorList: Error, Sendable {
    var errors: [GraphQLError]
    init(_ errors: [GraphQLError]) { self.errors = errors }
}

/// Why a value could not be coerced to an input type.
struct CoercionProblem: Error, Sendable {
    var text: String
    init(_ text: String) { self.text = text }
}

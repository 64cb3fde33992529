import Foundation
import Testing
@testable import ShopifyAdminEmulator

@Suite struct ParserAndJSONTests {
    @Test func parsesOperationsVariablesAndValues() throws {
        let document = try GraphQLParser.parse("""
            # a comment
            query Orders($cursor: String, $n: Int = 250, $ids: [ID!]!) @foo {
              alias: orders(first: $n, after: $cursor, query: "a \\"quoted\\" \\u00e9 \\n", sortKey: CREATED_AT,
                            reverse: false, obj: {a: [1, 2.5, null], b: $n}) { nodes { id } }
            }
            """)
        let operation = try #require(document.operations.first)
        #expect(operation.name == "Orders")
        #expect(operation.variables.map(\.type.description) == ["String", "Int", "[ID!]!"])
        #expect(operation.variables[1].defaultValue == .int(250))
        guard case .field(let field) = operation.selections[0] else { Issue.record("not a field"); return }
        #expect(field.alias == "alias" && field.name == "orders")
        #expect(field.location == SourceLocation(line: 3, column: 3))
        let values = Dictionary(uniqueKeysWithValues: field.arguments.map { ($0.name, $0.value) })
        #expect(values["query"] == .string("a \"quoted\" é \n"))
        #expect(values["sortKey"] == .enumValue("CREATED_AT"))
        #expect(values["reverse"] == .boolean(false))
        #expect(values["obj"] == .object([GraphQLObjectField(name: "a", value: .list([.int(1), .float(2.5), .null])),
                                          GraphQLObjectField(name: "b", value: .variable("n"))]))
    }

    @Test func blockStringsAreDedented() throws {
        let document = try GraphQLParser.parse("mutation { run(query: \"\"\"\n    {\n      orders { id }\n    }\n  \"\"\") { x } }")
        guard case .field(let field) = document.operations[0].selections[0] else { Issue.record("not a field"); return }
        #expect(field.arguments[0].value == .string("{\n  orders { id }\n}"))
        #expect(GraphQLLexer.blockStringValue("  a \\\"\"\" b") == "  a \\\"\"\" b")
    }

    @Test func syntaxErrorsCarryPositions() {
        #expect(throws: GraphQLSyntaxError.self) { try GraphQLParser.parse("{ a(b: ) }") }
        do {
            _ = try GraphQLParser.parse("{\n a(b: ) }")
        } catch {
            #expect(error.message == "Parse error on \")\" (RPAREN) at [2, 7]")
            #expect(error.location == SourceLocation(line: 2, column: 7))
        }
        #expect(throws: GraphQLSyntaxError.self) { try GraphQLParser.parse("{ a(b: \"unterminated) }") }
        #expect(throws: GraphQLSyntaxError.self) { try GraphQLParser.parse("") }
        #expect(throws: GraphQLSyntaxError.self) { try GraphQLParser.parse("{ a(b: 12abc) }") }
    }

    @Test func jsonKeepsBigIntegersAndKeyOrder() throws {
        let json = try #require(ShopifyJSON.parse(#"{"b":9007199254740993,"a":[1.5,"x\u00e9\n",true,null],"c":{}}"#))
        #expect(json["b"] == .int(9_007_199_254_740_993))
        #expect(json.keys == ["b", "a", "c"])
        #expect(json.jsonString == #"{"b":9007199254740993,"a":[1.5,"xé\n",true,null],"c":{}}"#)
        #expect(ShopifyJSON.parse("{\"a\":1,}") == nil)
        #expect(ShopifyJSON.parse("[01]") == nil)
        #expect(ShopifyJSON.double(100).jsonString == "100.0")
    }

    @Test func timesRoundTrip() throws {
        let date = try #require(ShopifyTime.parse("2026-02-28T23:59:59Z"))
        #expect(ShopifyTime.format(date) == "2026-02-28T23:59:59Z")
        #expect(ShopifyTime.parse("2026-03-01") == date.addingTimeInterval(1))
        #expect(ShopifyTime.parse("2026-03-01T01:00:00+01:00") == date.addingTimeInterval(1))
        #expect(ShopifyTime.parse("2026-02-30") == nil)
        #expect(ShopifyTime.format(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00Z")
        #expect(ShopifyTime.format(fixedNow) == "2026-05-28T20:26:40Z")
    }

    @Test func cursorsRoundTrip() {
        let tuple = SortTuple(key: 1_780_000_000, id: 5_987_654_321_098_765_432)
        #expect(ConnectionCursor.decode(ConnectionCursor.encode(tuple)) == tuple)
        #expect(ConnectionCursor.decode("garbage") == nil)
    }

    @Test func searchSyntax() {
        let query = SearchQuery.parse("created_at:>='2026-01-01T00:00:00Z' AND -tag:vip status:\"on hold\" OR email:a@b.c")
        #expect(query.groups.count == 2)
        #expect(query.groups[0].map(\.field) == ["created_at", "tag", "status"])
        #expect(query.groups[0][0].comparator == .greaterOrEqual)
        #expect(query.groups[0][0].value == "2026-01-01T00:00:00Z")
        #expect(query.groups[0][1].negated)
        #expect(query.groups[0][2].value == "on hold")
        #expect(query.groups[1][0].value == "a@b.c")
    }
}

import Testing
@testable import ShopTrail

@Suite struct JSONParserTests {
    func parse(_ text: String) throws -> JSONValue { try JSONParser.parse(Array(text.utf8)) }

    @Test func parsesAllValueKindsInOrder() throws {
        let value = try parse(#" {"b": [1, -2.5e3, true, false, null], "a": "x", "n": {}} "#)
        guard case .object(let object) = value else { Issue.record("not an object"); return }
        #expect(object.keys == ["b", "a", "n"])
        #expect(object["b"] == .array([.number("1"), .number("-2.5e3"), .bool(true), .bool(false), .null]))
        #expect(object["a"] == .string("x"))
        #expect(object["n"] == .object(JSONObject()))
    }

    @Test func keepsIdsBeyond2to53Exactly() throws {
        let value = try parse(#"{"id":12345678901234567890,"small":9007199254740993}"#)
        #expect(value.objectValue?["id"] == .number("12345678901234567890"))
        #expect(value.serialized == #"{"id":12345678901234567890,"small":9007199254740993}"#)
    }

    @Test func decodesEscapesAndSurrogatePairs() throws {
        let value = try parse(#""a\"b\\c\/d\n\u00e9\ud83d\ude00""#)
        #expect(value == .string("a\"b\\c/d\né😀"))
    }

    @Test func serializesWithEscapesThatSurviveScriptTags() throws {
        let value = JSONValue.string("</script>\"\n\u{01}")
        #expect(value.serialized == #""\u003c/script>\"\n\u0001""#)
        #expect(try parse(value.serialized) == value)
    }

    @Test(arguments: [
        ("", "unexpected end of input"),
        ("{", "expected a member name in double quotes"),
        (#"{"a":1,}"#, "expected a member name in double quotes"),
        ("[1 2]", "expected ',' or ']' in an array"),
        ("01", "unexpected data after the JSON value"),
        ("1.", "invalid number: digits expected after '.'"),
        ("-", "invalid number"),
        ("tru", "unexpected end of input"),
        ("nul!", "invalid literal"),
        ("\"a\u{01}\"", "control character in a string"),
        (#""\x""#, "invalid escape in a string"),
        (#""\ud800""#, #"unpaired surrogate in a \u escape"#),
        (#"{"a":1} x"#, "unexpected data after the JSON value"),
        ("\"abc", "unterminated string"),
    ])
    func rejectsMalformedInput(text: String, message: String) {
        #expect(throws: JSONParseError.self) { try parse(text) }
        do { _ = try parse(text) } catch let error as JSONParseError { #expect(error.message == message) } catch {}
    }

    @Test func refusesDeepNestingWithoutRecursingFurther() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        do {
            _ = try JSONParser.parse(Array(deep.utf8), maxDepth: 10)
            Issue.record("accepted")
        } catch {
            #expect(error.message == "nesting deeper than 10 levels")
            #expect(error.offset == 10)
        }
    }

    @Test func rejectsInvalidUTF8() {
        #expect(throws: JSONParseError.self) { try JSONParser.parse([34, 0xFF, 34]) }
    }
}

@Suite struct JSONParserRawKeysTests {
    @Test func keepsObjectsUnderRawKeysVerbatim() throws {
        let text = #"{"properties": {"a": [1, {"b": "\u00e9"}], "id": 12345678901234567890}, "name": "x"}"#
        let value = try JSONParser.parse(Array(text.utf8), rawKeys: ["properties"])
        #expect(value.objectValue?["properties"] == .rawObject(#"{"a": [1, {"b": "\u00e9"}], "id": 12345678901234567890}"#))
        #expect(value.objectValue?["name"] == .string("x"))
    }

    @Test func nonObjectsUnderRawKeysAreParsedNormally() throws {
        let value = try JSONParser.parse(Array(#"{"properties":[1]}"#.utf8), rawKeys: ["properties"])
        #expect(value.objectValue?["properties"] == .array([.number("1")]))
    }

    @Test(arguments: [
        #"{"properties":{"a":1,}}"#, #"{"properties":{"a":01}}"#, #"{"properties":{"a":"\x"}}"#,
        #"{"properties":{"a":"\ud800"}}"#, "{\"properties\":{\"a\":\"\u{01}\"}}", #"{"properties":{"a":tru}}"#,
        #"{"properties":{"a":[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]}}"#, #"{"properties":{"a" 1}}"#, #"{"properties":{"#,
    ])
    func rawObjectsAreValidatedAsStrictlyAsParsedOnes(text: String) {
        #expect(throws: JSONParseError.self) { try JSONParser.parse(Array(text.utf8), rawKeys: ["properties"]) }
        #expect(throws: JSONParseError.self) { try JSONParser.parse(Array(text.utf8)) }
    }

    @Test func rawObjectsRejectInvalidUTF8() {
        var bytes = Array(#"{"properties":{"a":"xx"}}"#.utf8)
        bytes[20] = 0xC3  // a lone lead byte
        #expect(throws: JSONParseError.self) { try JSONParser.parse(bytes, rawKeys: ["properties"]) }
    }

    /// One reading for every consumer (issue 13): a name that repeats, however spelled, or that
    /// holds NUL is refused, in parsed objects and in objects kept verbatim alike.
    @Test(arguments: [
        #"{"a":1,"a":2}"#,
        #"{"a":1,"\u0061":2}"#,
        #"{"x":{"$k":1,"\u0024k":2}}"#,
        #"{"properties":{"p":1,"p":2}}"#,
        #"{"properties":{"deep":{"p":1,"\u0070":2}}}"#,
        #"{"a\u0000b":1}"#,
        #"{"properties":{"a\u0000":1}}"#,
        #"{"\ud800":1}"#,
        #"{"properties":{"\udfff":1}}"#,
    ])
    func refusesDuplicateAndNULMemberNames(_ text: String) {
        #expect(throws: JSONParseError.self) { try JSONParser.parse(Array(text.utf8), rawKeys: ["properties"]) }
    }

    @Test func manyDistinctMembersStillParse() throws {
        let members = (0..<5_000).map { #""k\#($0)":\#($0)"# }.joined(separator: ",")
        let value = try JSONParser.parse(Array(("{" + members + "}").utf8))
        #expect(value.objectValue?.count == 5_000)
        #expect(throws: JSONParseError.self) { try JSONParser.parse(Array(("{" + members + #","k4999":0}"#).utf8)) }
        #expect(throws: JSONParseError.self) { try JSONParser.parse(Array((#"{"properties":{"# + members + #","k0":0}}"#).utf8), rawKeys: ["properties"]) }
    }
}

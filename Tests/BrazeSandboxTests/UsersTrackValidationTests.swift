import Foundation
import HummingbirdTesting
import Testing
@testable import BrazeSandbox

/// Each bad object is answered 201 with one minor error naming it, and a valid companion object is still processed.
@Suite struct UsersTrackValidationTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var label: String
        var array: String
        var object: JSONValue
        var expected: String
        var testDescription: String { label }
    }

    static let t = Make.time
    static let purchase: [String: JSONValue] = ["external_id": "u1", "product_id": "p1", "currency": "USD", "price": 9.5, "time": .string(t)]

    static func purchase(_ change: (inout [String: JSONValue]) -> Void) -> JSONValue {
        var object = purchase
        change(&object)
        return .object(object)
    }

    static let cases: [Case] = [
        Case(label: "no identifier", array: "events", object: ["name": "x", "time": .string(t)],
             expected: Validator.missingIdentifier),
        Case(label: "two identifiers", array: "events",
             object: ["external_id": "u1", "user_alias": Make.alias("a", "b"), "name": "x", "time": .string(t)],
             expected: "only one of 'external_id', 'user_alias' or 'braze_id' may be given"),
        Case(label: "external_id not a string", array: "attributes", object: ["external_id": 42, "first_name": "A"],
             expected: "'external_id' must be a non-empty string"),
        Case(label: "alias without label", array: "attributes", object: ["user_alias": ["alias_name": "a"], "first_name": "A"],
             expected: "'user_alias' must be an object"),
        Case(label: "bad email identifier", array: "events", object: ["email": "not-an-email", "name": "x", "time": .string(t)],
             expected: "'email' is not a valid email address"),
        Case(label: "update_existing_only not bool", array: "attributes", object: ["external_id": "u2", "_update_existing_only": "yes"],
             expected: "'_update_existing_only' must be a boolean"),
        Case(label: "event without name", array: "events", object: ["external_id": "u2", "time": .string(t)], expected: "'name' is required"),
        Case(label: "event name not string", array: "events", object: ["external_id": "u2", "name": 5, "time": .string(t)],
             expected: "'name' must be a non-empty string"),
        Case(label: "event without time", array: "events", object: ["external_id": "u2", "name": "x"], expected: "'time' is required"),
        Case(label: "event time not ISO-8601", array: "events", object: Make.event(id: "u2", time: "03/01/2025 10:00"),
             expected: "'time' must be an ISO-8601 datetime string"),
        Case(label: "event time out of range", array: "events", object: Make.event(id: "u2", time: "2025-02-30T10:00:00Z"),
             expected: "'time' must be an ISO-8601 datetime string"),
        Case(label: "event time as number", array: "events", object: ["external_id": "u2", "name": "x", "time": 1_700_000_000],
             expected: "'time' must be an ISO-8601 datetime string"),
        Case(label: "properties not an object", array: "events", object: Make.event(id: "u2", properties: ["a", "b"]),
             expected: "'properties' must be an object"),
        Case(label: "property name with $", array: "events", object: Make.event(id: "u2", properties: ["$price": 1]),
             expected: "property name '$price' must not start with '$'"),
        Case(label: "property name too long", array: "events",
             object: Make.event(id: "u2", properties: .object([String(repeating: "k", count: 256): 1])),
             expected: "longer than 255 characters"),
        Case(label: "string property too long", array: "events",
             object: Make.event(id: "u2", properties: ["note": .string(String(repeating: "x", count: 256))]),
             expected: "property 'note' is longer than 255 characters"),
        // event_object.md: up to 100 KB with array or object values; purchase_object.md: 50 KB.
        Case(label: "nested event properties over 100 KB", array: "events",
             object: Make.event(id: "u2", properties: ["items": .array((0..<500).map { _ in .string(String(repeating: "y", count: 200)) })]),
             expected: "properties payload is"),
        Case(label: "nested purchase properties over 50 KB", array: "purchases",
             object: purchase { $0["external_id"] = "u2"; $0["properties"] = ["items": .array((0..<300).map { _ in .string(String(repeating: "y", count: 200)) })] },
             expected: "more than the 50000 allowed for a purchase"),
        Case(label: "reserved event property 'time'", array: "events", object: Make.event(id: "u2", properties: ["time": "2025-03-01T10:00:00Z"]),
             expected: "event property name 'time' is reserved"),
        Case(label: "reserved event property 'event_name'", array: "events", object: Make.event(id: "u2", properties: ["event_name": "x"]),
             expected: "event property name 'event_name' is reserved"),
        Case(label: "purchase bad currency", array: "purchases", object: purchase { $0["currency"] = "usd" },
             expected: "'currency' is required and must be an ISO-4217 currency code"),
        Case(label: "purchase without price", array: "purchases", object: purchase { $0["price"] = nil },
             expected: "'price' is required and must be a number"),
        Case(label: "purchase price as string", array: "purchases", object: purchase { $0["price"] = "9.50" },
             expected: "'price' is required and must be a number"),
        Case(label: "purchase without product_id", array: "purchases", object: purchase { $0["product_id"] = nil },
             expected: "'product_id' is required"),
        Case(label: "purchase fractional quantity", array: "purchases", object: purchase { $0["quantity"] = 1.5 },
             expected: "'quantity' is not valid"),
        Case(label: "purchase quantity over 100", array: "purchases", object: purchase { $0["external_id"] = "u2"; $0["quantity"] = 101 },
             expected: "'quantity' is not valid"),
        Case(label: "purchase bad time", array: "purchases", object: purchase { $0["time"] = "yesterday" },
             expected: "'time' must be an ISO-8601 datetime string"),
        Case(label: "attribute bad email", array: "attributes", object: ["external_id": "u2", "email": "a@b"],
             expected: "'email' is not a valid email address"),
        Case(label: "attribute bad email_subscribe", array: "attributes", object: ["external_id": "u2", "email_subscribe": "yes"],
             expected: "'email_subscribe' must be one of"),
        Case(label: "attribute bad subscription state", array: "attributes",
             object: ["external_id": "u2", "subscription_groups": [["subscription_group_id": "g1", "subscription_state": "opted_in"]]],
             expected: "'subscription_state' must be 'subscribed' or 'unsubscribed'"),
        Case(label: "attribute first_name not string", array: "attributes", object: ["external_id": "u2", "first_name": 7],
             expected: "'first_name' must be a string"),
        Case(label: "custom attribute too long", array: "attributes",
             object: ["external_id": "u2", "note": .string(String(repeating: "x", count: 256))],
             expected: "custom attribute 'note' is longer than 255 characters"),
        Case(label: "custom attribute add not array", array: "attributes", object: ["external_id": "u2", "tags": ["add": "x"]],
             expected: "custom attribute 'tags' 'add' must be an array"),
        Case(label: "object not an object", array: "events", object: "just a string", expected: "object must be a JSON object"),
    ]

    @Test(arguments: cases)
    func badObjectIsReportedAndTheGoodOneProcessed(_ testCase: Case) async throws {
        let good: JSONValue = switch testCase.array {
        case "attributes": ["external_id": "good", "first_name": "Good"]
        case "purchases": ["external_id": "good", "product_id": "p", "currency": "EUR", "price": 1, "time": .string(Self.t)]
        default: Make.event("ok", id: "good")
        }
        try await withSandbox { client in
            let answer = try await client.track([testCase.array: [good, testCase.object]])
            #expect(answer.status == 201)
            #expect(answer.message == "success")
            #expect(answer.body["\(testCase.array)_processed"] == 1)
            #expect(answer.errors.count == 1)
            let error = try #require(answer.errors.first)
            #expect(error["input_array"]?.stringValue == testCase.array)
            #expect(error["index"] == 1)
            let type = error["type"]?.stringValue ?? ""
            #expect(type.contains(testCase.expected), "got: \(type)")
            // The good object was written; the bad one created nobody.
            #expect(try await client.user("good") != nil)
            #expect(try await client.user("u2") == nil)
            #expect(try await client.users().count == 1)
        }
    }

    @Test(arguments: [
        "2025-03-01T10:00:00Z", "2025-03-01T10:00:00.123Z", "2025-03-01T10:00:00.123456+02:00", "2025-03-01T10:00:00-0500",
        "2025-03-01T10:00:00:123+0000", "2025-03-01T10:00:00", "2025-03-01", "2024-02-29T23:59:60Z",
    ])
    func acceptedTimeFormats(time: String) async throws {
        try await withSandbox { client in
            let answer = try await client.track(["events": [Make.event(time: time)]])
            #expect(answer.status == 201)
            #expect(answer.errors.isEmpty)
            let events = try #require(try await client.user("u1")?["events"]?.arrayValue)
            #expect(events.first?["time"]?.stringValue == time)
        }
    }
}

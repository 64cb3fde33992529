import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import ShopTrail

/// Every bad input gets its 4xx with a JSON reason, and nothing of a refused batch is stored.
@Suite struct CollectorRejectionTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let label: String
        let body: String
        let status: HTTPResponse.Status
        let code: String
        let field: String?
        var origin: String? = nil
        var testDescription: String { label }
    }

    static let valid = Fixtures.batch()
    static func replacing(_ old: String, _ new: String) -> String { valid.replacingOccurrences(of: old, with: new) }
    static let tooMany = Fixtures.batch(events: (0...100).map { ("e\($0)", "page_viewed") })
    static let hugeProperties = replacing(#""properties":{"url""#, #""properties":{"blob":"\#(String(repeating: "x", count: 9000))","url""#)
    static let hugeBody = replacing(#""properties":{"url""#, #""properties":{"blob":"\#(String(repeating: "x", count: 70_000))","url""#)

    static let cases: [Case] = [
        Case(label: "unknown write key", body: Fixtures.batch(writeKey: "pk_nope"), status: .unauthorized, code: "unknown_write_key", field: "write_key"),
        Case(label: "origin not allowed", body: valid, status: .forbidden, code: "origin_not_allowed", field: nil, origin: "https://evil.example"),
        Case(label: "origin of another shop", body: valid, status: .forbidden, code: "origin_not_allowed", field: nil, origin: "https://b-shop.myshopify.com"),
        Case(label: "malformed JSON", body: #"{"write_key":"pk_a_1","#, status: .badRequest, code: "malformed_json", field: nil),
        Case(label: "not an object", body: "[1,2]", status: .badRequest, code: "invalid_type", field: nil),
        Case(label: "missing write key", body: #"{"visitor_id":"v_0123456789","events":[]}"#, status: .badRequest, code: "missing_field", field: "write_key"),
        Case(label: "write key not a string", body: replacing(#""write_key":"pk_a_1""#, #""write_key":42"#), status: .badRequest, code: "invalid_type", field: "write_key"),
        Case(label: "missing visitor id", body: replacing(#""visitor_id":"v_0123456789","#, ""), status: .badRequest, code: "missing_field", field: "visitor_id"),
        Case(label: "visitor id a number", body: replacing(#""visitor_id":"v_0123456789""#, #""visitor_id":123456789"#), status: .badRequest, code: "invalid_type", field: "visitor_id"),
        Case(label: "visitor id too short", body: replacing(#""visitor_id":"v_0123456789""#, #""visitor_id":"v1""#), status: .badRequest, code: "invalid_value", field: "visitor_id"),
        Case(label: "visitor id bad characters", body: replacing(#""visitor_id":"v_0123456789""#, #""visitor_id":"v_01234<script>""#), status: .badRequest, code: "invalid_value", field: "visitor_id"),
        Case(label: "session id wrong type", body: replacing(#""session_id":"s_1""#, #""session_id":true"#), status: .badRequest, code: "invalid_type", field: "session_id"),
        Case(label: "sent_at not a time", body: replacing(#""sent_at":"2026-11-23T10:00:00.000Z""#, #""sent_at":"yesterday""#), status: .badRequest, code: "invalid_value", field: "sent_at"),
        Case(label: "sent_at a number", body: replacing(#""sent_at":"2026-11-23T10:00:00.000Z""#, #""sent_at":1795428000000"#), status: .badRequest, code: "invalid_type", field: "sent_at"),
        Case(label: "context not an object", body: replacing(#""context":{"page":{"type":"product"}}"#, #""context":"product""#), status: .badRequest, code: "invalid_type", field: "context"),
        Case(label: "unknown envelope field", body: replacing(#""session_id""#, #""sessionId":"x","session_id""#), status: .badRequest, code: "unknown_field", field: "sessionId"),
        Case(label: "missing events", body: #"{"write_key":"pk_a_1","visitor_id":"v_0123456789"}"#, status: .badRequest, code: "missing_field", field: "events"),
        Case(label: "events not an array", body: #"{"write_key":"pk_a_1","visitor_id":"v_0123456789","events":{}}"#, status: .badRequest, code: "invalid_type", field: "events"),
        Case(label: "no events", body: #"{"write_key":"pk_a_1","visitor_id":"v_0123456789","events":[]}"#, status: .badRequest, code: "invalid_value", field: "events"),
        Case(label: "too many events", body: tooMany, status: .badRequest, code: "too_many_events", field: "events"),
        Case(label: "event not an object", body: #"{"write_key":"pk_a_1","visitor_id":"v_0123456789","events":["page_viewed"]}"#, status: .badRequest, code: "invalid_type", field: "events[0]"),
        Case(label: "event missing id", body: replacing(#""id":"e1","#, ""), status: .badRequest, code: "missing_field", field: "events[0].id"),
        Case(label: "event id too long", body: replacing(#""id":"e1""#, #""id":"\#(String(repeating: "a", count: 65))""#), status: .badRequest, code: "invalid_value", field: "events[0].id"),
        Case(label: "event missing name", body: replacing(#""name":"page_viewed","#, ""), status: .badRequest, code: "missing_field", field: "events[0].name"),
        Case(label: "unknown event name", body: replacing(#""name":"page_viewed""#, #""name":"page_view""#), status: .badRequest, code: "unknown_event_name", field: "events[0].name"),
        Case(label: "event time garbage", body: replacing(#""time":"2026-11-23T09:59:58.000Z""#, #""time":"2026-02-30T00:00:00Z""#), status: .badRequest, code: "invalid_value", field: "events[0].time"),
        Case(label: "event too old", body: replacing(#""time":"2026-11-23T09:59:58.000Z""#, #""time":"2026-10-01T00:00:00Z""#), status: .badRequest, code: "event_too_old", field: "events[0].time"),
        Case(label: "properties an array", body: replacing(#""properties":{"url":"https://a-shop.myshopify.com/products/x","product_id":9007199254740993}"#, #""properties":[1]"#), status: .badRequest, code: "invalid_type", field: "events[0].properties"),
        Case(label: "properties too large", body: hugeProperties, status: .badRequest, code: "properties_too_large", field: "events[0].properties"),
        Case(label: "unknown event field", body: replacing(#""id":"e1""#, #""id":"e1","props":{}"#), status: .badRequest, code: "unknown_field", field: "events[0].props"),
        Case(label: "body too large", body: hugeBody, status: .contentTooLarge, code: "body_too_large", field: nil),
        Case(label: "nested too deep", body: replacing(#""product_id":9007199254740993"#, #""deep":[[[[[[[[[[[1]]]]]]]]]]]"#), status: .badRequest, code: "malformed_json", field: nil),
    ]

    @Test(arguments: cases)
    func refusesWithAClearJSONReason(_ c: Case) async throws {
        let temp = try TempStore()
        try await Fixtures.app(store: temp.store).test(.router) { client in
            let (status, body, headers) = try await client.postBatch(c.body, origin: c.origin)
            #expect(status == c.status, "\(body)")
            #expect(headers[.contentType]?.hasPrefix("application/json") == true)
            let json = try JSONParser.parse(Array(body.utf8)).objectValue
            #expect(json?["error"] == .string(c.code), "\(body)")
            #expect(json?["message"]?.stringValue?.isEmpty == false)
            #expect(json?["field"]?.stringValue == c.field, "\(body)")
        }
        #expect(try await temp.store.eventCount() == 0)
    }

    @Test func aBadEventLateInTheBatchStoresNoneOfIt() async throws {
        let temp = try TempStore()
        try await Fixtures.app(store: temp.store).test(.router) { client in
            let body = Fixtures.batch(events: [("e1", "page_viewed"), ("e2", "product_viewed"), ("e3", "nope")])
            let (status, text, _) = try await client.postBatch(body)
            #expect(status == .badRequest)
            #expect(text.contains(#""field":"events[2].name""#))
        }
        #expect(try await temp.store.eventCount() == 0)
    }

    @Test func fuzzedBodiesNeverCrashAndNeverAnswer5xx() async throws {
        let temp = try TempStore()
        let seed = Array(Self.valid.utf8)
        try await Fixtures.app(store: temp.store).test(.router) { client in
            var generator = SystemRandomNumberGenerator()
            for _ in 0..<300 {
                var bytes = seed
                for _ in 0..<Int.random(in: 1...8, using: &generator) {
                    let i = Int.random(in: 0..<bytes.count, using: &generator)
                    switch Int.random(in: 0..<3, using: &generator) {
                    case 0: bytes[i] = UInt8.random(in: 0...255, using: &generator)
                    case 1: bytes.remove(at: i)
                    default: bytes.insert(UInt8.random(in: 32...126, using: &generator), at: i)
                    }
                }
                let status = try await client.execute(uri: "/v1/batch", method: .post, body: ByteBuffer(bytes: bytes)) { $0.status }
                #expect(status.code < 500)
            }
        }
    }
}

import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
@testable import BrazeSandbox

@Suite struct AuthAndRequestShapeTests {
    static let validTrack: JSONValue = ["events": [Make.event()]]

    @Test func missingKeyIs401() async throws {
        try await withSandbox { client in
            let answer = try await client.braze("/users/track", json: Self.validTrack, key: nil)
            #expect(answer.status == 401)
            #expect(answer.message == "Unknown or missing REST API Key")
            #expect(try await client.users().isEmpty)
        }
    }

    @Test func unknownKeyIs401() async throws {
        try await withSandbox { client in
            let answer = try await client.braze("/users/track", json: Self.validTrack, key: "nope")
            #expect(answer.status == 401)
            #expect(try await client.users().isEmpty)
        }
    }

    @Test func nonBearerSchemeIs401() async throws {
        try await withSandbox { client in
            var headers: HTTPFields = [.contentType: "application/json"]
            headers[.authorization] = "Basic \(testKey)"
            let response = try await client.execute(uri: "/users/track", method: .post, headers: headers, body: ByteBuffer(string: Self.validTrack.jsonString))
            #expect(response.status.code == 401)
        }
    }

    @Test func keyWithoutPermissionIs403() async throws {
        try await withSandbox { client in
            let ok = try await client.braze("/users/track", json: Self.validTrack, key: "track-only-key")
            #expect(ok.status == 201)
            let answer = try await client.braze("/users/delete", json: ["external_ids": ["u1"]], key: "track-only-key")
            #expect(answer.status == 403)
            #expect(answer.message?.contains("users.delete") == true)
            #expect(try await client.user("u1") != nil, "a forbidden delete must not delete")
        }
    }

    @Test func malformedJSONIs400() async throws {
        try await withSandbox { client in
            let answer = try await client.braze("/users/track", #"{"events": [ {"external_id": "u1", "#)
            #expect(answer.status == 400)
            #expect(answer.message == "Bad Request")
            #expect(answer.errors.first?["type"]?.stringValue == "request body is not valid JSON")
        }
    }

    @Test(arguments: [#"{}"#, #"{"events": []}"#, #"[]"#, #"{"attributes": null, "foo": 1}"#])
    func requestWithoutDataIs400(body: String) async throws {
        try await withSandbox { client in
            let answer = try await client.braze("/users/track", body)
            #expect(answer.status == 400)
            #expect(answer.message == UsersTrackEndpoint.noData)
        }
    }

    @Test(arguments: ["attributes", "events", "purchases"])
    func nonArrayComponentIs400(key: String) async throws {
        try await withSandbox { client in
            let answer = try await client.track([key: ["external_id": "u1"]])
            #expect(answer.status == 400)
            #expect(answer.message == "'\(key)' must be an array")
        }
    }

    @Test func moreThan75EventsIs400AndNothingIsWritten() async throws {
        try await withSandbox { client in
            let events = (0..<76).map { Make.event(id: "u\($0)") }
            let answer = try await client.track(["events": .array(events)])
            #expect(answer.status == 400)
            #expect(answer.message == "Max Input Length Exceeded")
            #expect(answer.errors.first?["input_array"] == "events")
            #expect(answer.errors.first?["type"]?.stringValue?.contains("76") == true)
            #expect(try await client.users().isEmpty)
            // Exactly at the limit is fine.
            let ok = try await client.track(["events": .array(Array(events.prefix(75)))])
            #expect(ok.status == 201)
            #expect(ok.body["events_processed"] == 75)
        }
    }

    @Test func perRequestLimitsAreConfigurable() async throws {
        try await withSandbox({ $0.limits.maxAttributes = 2; $0.limits.maxPurchases = 1 }) { client in
            let attributes: JSONValue = .array((0..<3).map { ["external_id": .string("u\($0)"), "first_name": "A"] })
            let answer = try await client.track(["attributes": attributes])
            #expect(answer.status == 400)
            #expect(answer.errors.first?["input_array"] == "attributes")
            let purchase: JSONValue = ["external_id": "u1", "product_id": "p", "currency": "USD", "price": 1, "time": .string(Make.time)]
            let purchases = try await client.track(["purchases": [purchase, purchase]])
            #expect(purchases.status == 400)
            #expect(purchases.errors.first?["input_array"] == "purchases")
        }
    }

    @Test func combinedUpdateCapIsConfigurable() async throws {
        try await withSandbox({ $0.limits.maxTrackObjects = 3 }) { client in
            let answer = try await client.track([
                "attributes": [["external_id": "u1", "first_name": "A"], ["external_id": "u2", "first_name": "B"]],
                "events": [Make.event(), Make.event()],
            ])
            #expect(answer.status == 400)
            #expect(answer.message == "Max Input Length Exceeded")
            let ok = try await client.track(["attributes": [["external_id": "u1", "first_name": "A"]], "events": [Make.event(), Make.event()]])
            #expect(ok.status == 201)
        }
    }

    @Test func oversizedBodyIs413() async throws {
        try await withSandbox({ $0.limits.maxBodyBytes = 1000 }) { client in
            let big = String(repeating: "x", count: 2000)
            let answer = try await client.braze("/users/track", #"{"events": [], "pad": "\#(big)"}"#)
            #expect(answer.status == 413)
        }
    }
}

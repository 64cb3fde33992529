import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
@testable import BrazeSandbox

let testKey = "test-key"

/// A sandbox app on a free port; `configure` adjusts the defaults (two keys: full and track-only).
func sandboxApp(_ configure: (inout BrazeSandboxConfiguration) -> Void = { _ in }) -> some ApplicationProtocol {
    var configuration = BrazeSandboxConfiguration(apiKeys: [
        BrazeAPIKey(testKey),
        BrazeAPIKey("track-only-key", permissions: ["users.track"]),
    ])
    configure(&configuration)
    return buildBrazeSandboxApplication(configuration: configuration, port: 0)
}

/// Runs `body` against a live sandbox (real socket).
func withSandbox(
    _ configure: (inout BrazeSandboxConfiguration) -> Void = { _ in },
    _ body: @escaping @Sendable (any TestClientProtocol) async throws -> Void
) async throws {
    try await sandboxApp(configure).test(.live) { client in try await body(client) }
}

/// Runs `body` against an in-process sandbox driven through its router (no socket), e.g. for multi-megabyte bodies.
func withRouterSandbox(
    _ configure: (inout BrazeSandboxConfiguration) -> Void = { _ in },
    _ body: @escaping @Sendable (any TestClientProtocol) async throws -> Void
) async throws {
    try await sandboxApp(configure).test(.router) { client in try await body(client) }
}

/// A decoded answer.
struct Answer: Sendable {
    var status: Int
    var body: JSONValue
    var headers: HTTPFields

    func header(_ name: String) -> String? {
        HTTPField.Name(name).flatMap { headers[$0] }
    }
    var errors: [JSONValue] { body["errors"]?.arrayValue ?? [] }
    var message: String? { body["message"]?.stringValue }
}

extension TestClientProtocol {
    /// Sends a Braze API request with a raw body.
    func braze(_ path: String, _ json: String, method: HTTPRequest.Method = .post, key: String? = testKey) async throws -> Answer {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let key { headers[.authorization] = "Bearer \(key)" }
        let response = try await execute(uri: path, method: method, headers: headers, body: ByteBuffer(string: json))
        return Answer(status: Int(response.status.code), body: JSONValue.parse(Data(response.body.readableBytesView)) ?? .null, headers: response.headers)
    }

    /// Sends a Braze API request with a JSONValue body.
    func braze(_ path: String, json: JSONValue, method: HTTPRequest.Method = .post, key: String? = testKey) async throws -> Answer {
        try await braze(path, json.jsonString, method: method, key: key)
    }

    func track(_ json: JSONValue) async throws -> Answer { try await braze("/users/track", json: json) }

    func sandbox(_ path: String, method: HTTPRequest.Method = .get, json: String? = nil) async throws -> Answer {
        let response = try await execute(uri: path, method: method, headers: [.contentType: "application/json"], body: json.map { ByteBuffer(string: $0) })
        return Answer(status: Int(response.status.code), body: JSONValue.parse(Data(response.body.readableBytesView)) ?? .null, headers: response.headers)
    }

    func users() async throws -> [JSONValue] { try await sandbox("/_sandbox/users").body.arrayValue ?? [] }

    func user(_ externalId: String) async throws -> JSONValue? {
        let answer = try await sandbox("/_sandbox/users/\(externalId)")
        return answer.status == 200 ? answer.body : nil
    }

    func faults(_ json: String) async throws -> Answer { try await sandbox("/_sandbox/faults", method: .post, json: json) }
}

/// Builders for request objects.
enum Make {
    static let time = "2025-03-01T10:00:00Z"

    static func event(_ name: String = "viewed", id: String = "u1", time: String = time, properties: JSONValue? = nil) -> JSONValue {
        var object: [String: JSONValue] = ["external_id": .string(id), "name": .string(name), "time": .string(time)]
        if let properties { object["properties"] = properties }
        return .object(object)
    }

    static func product(_ id: String = "p1") -> JSONValue {
        ["product_id": .string(id), "product_name": "Shirt", "variant_id": "v1", "quantity": 1, "price": 19.99]
    }

    static func cart(_ cartId: String = "c1", products: [JSONValue] = [product()]) -> JSONValue {
        ["cart_id": .string(cartId), "total_value": 19.99, "currency": "USD", "products": .array(products), "source": "shop.myshopify.com"]
    }

    static func alias(_ name: String, _ label: String) -> JSONValue { ["alias_name": .string(name), "alias_label": .string(label)] }
}

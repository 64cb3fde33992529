import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Synchronization
import Testing
@testable import ShopifyAdminEmulator

let testToken = ShopifyEmulatorConfiguration.defaultAccessToken
/// 2026-05-28T20:26:40Z: fixed so generated data and the 60-day window are the same on every run.
let fixedNow = Date(timeIntervalSince1970: 1_780_000_000)

/// A clock the test moves by hand, so bucket refills do not depend on how busy the machine is.
final class TestClock: Sendable {
    private let current = Mutex(fixedNow)
    func now() -> Date { current.withLock { $0 } }
    func advance(seconds: Double) { current.withLock { $0 = $0.addingTimeInterval(seconds) } }
}

/// A small shop by default (tests that need the full fixture ask for it), on a fixed clock.
func emulatorConfiguration(_ configure: (inout ShopifyEmulatorConfiguration) -> Void = { _ in }) -> ShopifyEmulatorConfiguration {
    var configuration = ShopifyEmulatorConfiguration(customerCount: 300, orderCount: 1_200, productCount: 40, now: { fixedNow })
    configure(&configuration)
    return configuration
}

/// Runs `body` against a live emulator on a free port, with a handle on its state.
func withEmulator(
    _ configure: (inout ShopifyEmulatorConfiguration) -> Void = { _ in },
    _ body: @escaping @Sendable (any TestClientProtocol, ShopifyEmulatorState) async throws -> Void
) async throws {
    let state = ShopifyEmulatorState(configuration: emulatorConfiguration(configure))
    try await buildShopifyAdminEmulatorApplication(state: state, port: 0).test(.live) { client in try await body(client, state) }
}

/// A decoded answer.
struct Answer: Sendable {
    var status: Int
    var body: ShopifyJSON
    var headers: HTTPFields
    var raw: String

    var data: ShopifyJSON? { body["data"] }
    var errors: [ShopifyJSON] { body["errors"]?.arrayValue ?? [] }
    var firstError: String? { errors.first?["message"]?.stringValue }
    var errorCodes: [String] { errors.compactMap { $0["extensions"]?["code"]?.stringValue } }
    var cost: ShopifyJSON? { body["extensions"]?["cost"] }
    var requestedCost: Int64? { cost?["requestedQueryCost"]?.intValue }
    var currentlyAvailable: Int64? { cost?["throttleStatus"]?["currentlyAvailable"]?.intValue }
}

extension TestClientProtocol {
    /// POSTs a GraphQL query to the Admin endpoint.
    func graphql(_ query: String, variables: ShopifyJSON? = nil, token: String? = testToken, version: String = "2025-07") async throws -> Answer {
        var body: [(String, ShopifyJSON)] = [("query", .string(query))]
        if let variables { body.append(("variables", variables)) }
        return try await post("/admin/api/\(version)/graphql.json", raw: ShopifyJSON.object(body).jsonString, token: token)
    }

    func post(_ path: String, raw: String, token: String? = testToken, contentType: String = "application/json") async throws -> Answer {
        var headers: HTTPFields = [.contentType: contentType]
        if let token, let name = HTTPField.Name("X-Shopify-Access-Token") { headers[name] = token }
        let response = try await execute(uri: path, method: .post, headers: headers, body: ByteBuffer(string: raw))
        return Self.answer(response)
    }

    func get(_ path: String) async throws -> Answer {
        Self.answer(try await execute(uri: path, method: .get))
    }

    private static func answer(_ response: TestResponse) -> Answer {
        let text = String(decoding: response.body.readableBytesView, as: UTF8.self)
        return Answer(status: Int(response.status.code), body: ShopifyJSON.parse(text) ?? .null, headers: response.headers, raw: text)
    }
}

/// The numeric id at the end of a gid.
func numericId(_ gid: String?) -> Int64? {
    gid.flatMap { $0.split(separator: "/").last }.flatMap { Int64($0) }
}

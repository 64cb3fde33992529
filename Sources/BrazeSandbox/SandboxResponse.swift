import Foundation

/// An answer before it becomes an HTTP response: status, JSON body, extra headers.
public struct SandboxResponse: Sendable {
    public var status: Int
    public var body: JSONValue
    public var headers: [(String, String)]

    public init(status: Int, body: JSONValue, headers: [(String, String)] = []) {
        self.status = status
        self.body = body
        self.headers = headers
    }

    /// Braze's fatal-error shape: `{"message": <fatal error>, "errors": [...]}`.
    static func fatal(_ status: Int, _ message: String, errors: [JSONValue] = []) -> SandboxResponse {
        SandboxResponse(status: status, body: ["message": .string(message), "errors": .array(errors)])
    }

    /// Braze's catalog error shape: `{"errors": [{id, message, parameters, parameter_values}], "message": "Invalid Request"}`.
    static func catalogError(_ errors: [CatalogError], status: Int = 400) -> SandboxResponse {
        SandboxResponse(status: status, body: ["message": "Invalid Request", "errors": .array(errors.map(\.json))])
    }

    static func notFound(_ message: String) -> SandboxResponse {
        SandboxResponse(status: 404, body: ["message": .string(message)])
    }
}

/// One entry of Braze's catalog `errors` array.
struct CatalogError: Sendable {
    var id: String
    var message: String
    var parameters: [String]
    var parameterValues: [JSONValue]

    var json: JSONValue {
        ["id": .string(id), "message": .string(message), "parameters": .array(parameters.map(JSONValue.string)),
         "parameter_values": .array(parameterValues)]
    }
}

/// One entry of a users endpoint's `errors` array (Braze: `{"type", "input_array", "index"}`).
struct MinorError: Sendable {
    var type: String
    var inputArray: String
    var index: Int

    var json: JSONValue { ["type": .string(type), "input_array": .string(inputArray), "index": .from(index)] }
}

import Hummingbird
import NIOCore

/// A client-facing error: an HTTP status plus a JSON body `{"error": code, "message": …, "field": …}`.
public struct APIError: Error, Sendable, Equatable, HTTPResponseError {
    public let status: HTTPResponse.Status
    /// A stable machine-readable code, e.g. `unknown_write_key`.
    public let code: String
    public let message: String
    /// The JSON path of the offending field, when there is one (`events[2].name`).
    public let field: String?
    public var headers: HTTPFields = [:]

    public init(_ status: HTTPResponse.Status, _ code: String, _ message: String, field: String? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.field = field
    }

    public var jsonBody: String {
        var members: [(key: String, value: JSONValue)] = [("error", .string(code)), ("message", .string(message))]
        if let field { members.append(("field", .string(field))) }
        return JSONValue.object(JSONObject(members)).serialized
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        plainResponse()
    }

    /// The error as a JSON response.
    public func plainResponse() -> Response {
        var fields = headers
        fields[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(string: jsonBody)))
    }

    public static func == (lhs: APIError, rhs: APIError) -> Bool {
        lhs.status == rhs.status && lhs.code == rhs.code && lhs.message == rhs.message && lhs.field == rhs.field
    }
}

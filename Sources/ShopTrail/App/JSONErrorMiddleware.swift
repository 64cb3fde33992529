import Hummingbird
import Logging

/// Turns every error that escapes a route into a JSON body, and never lets one crash the server.
public struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            return error.plainResponse()
        } catch let error as HTTPError {
            let code = switch error.status {
            case .notFound: "not_found"
            case .methodNotAllowed: "method_not_allowed"
            case .contentTooLarge: "body_too_large"
            default: "http_\(error.status.code)"
            }
            let message = error.body ?? (error.status == .notFound ? "no such endpoint: \(request.method) \(request.uri.path)" : error.status.reasonPhrase)
            return APIError(error.status, code, message).plainResponse()
        } catch {
            context.logger.error("unhandled error", metadata: ["error": "\(type(of: error))", "path": .string(request.uri.path)])
            return APIError(.internalServerError, "internal_error", "internal error").plainResponse()
        }
    }
}

import Crypto
import Foundation
import HTTPTypes
import Hummingbird

/// The response headers of every admin answer (the dashboard, `/v1/admin/*`, the snippet and pixel
/// endpoints), errors and 401s included: not framable, not sniffable, not cached, no referrer, and a
/// Content-Security-Policy that allows nothing the pages do not use.
public enum AdminSecurityHeaders {
    /// Paths answered behind the admin token.
    static func isAdmin(_ path: String) -> Bool {
        path == "/dashboard" || path.hasPrefix("/dashboard/") || path == "/console" || path.hasPrefix("/console/") || path == "/metrics" || path.hasPrefix("/v1/admin/") || path == "/v1/admin" || path.hasPrefix("/v1/shops/")
    }

    /// JSON and text answers load nothing at all.
    public static let defaultPolicy = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

    /// A page's policy: its one inline style block allowed by hash, nothing else.
    public static func policy(inlineStyle: String) -> String {
        let hash = Data(SHA256.hash(data: Array(inlineStyle.utf8))).base64EncodedString()
        return "default-src 'none'; style-src 'sha256-\(hash)'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    }

    /// Adds the headers, keeping a Content-Security-Policy the handler set for its page.
    static func apply(to fields: inout HTTPFields) {
        if fields[.contentSecurityPolicy] == nil { fields[.contentSecurityPolicy] = defaultPolicy }
        fields[.xContentTypeOptions] = "nosniff"
        fields[.cacheControl] = "no-store"
        for (name, value) in [("X-Frame-Options", "DENY"), ("Referrer-Policy", "no-referrer"), ("Cross-Origin-Resource-Policy", "same-origin")] {
            if let field = HTTPField.Name(name) { fields[field] = value }
        }
    }
}

/// Puts `AdminSecurityHeaders` on every answer to an admin path, whatever produced it. Added outside
/// `JSONErrorMiddleware`, so errors (401, 404, 503) arrive here already rendered and get them too.
public struct AdminSecurityHeadersMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard AdminSecurityHeaders.isAdmin(request.uri.path) else { return try await next(request, context) }
        var response = try await next(request, context)
        AdminSecurityHeaders.apply(to: &response.headers)
        return response
    }
}

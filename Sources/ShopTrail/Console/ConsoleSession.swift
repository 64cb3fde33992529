import Crypto
import Foundation
import Hummingbird

/// The console's login session: after the admin token is entered once on the login page, a signed,
/// expiring, HttpOnly, SameSite=Strict cookie stands for it. The signing key is derived from the admin
/// token, so changing the token logs every session out. Forms carry a CSRF token bound to the session.
public struct ConsoleSession: Sendable {
    public static let cookieName = "shoptrail_console"
    /// The login form's double-submit cookie (there is no session to bind its CSRF token to yet).
    public static let loginCookieName = "shoptrail_console_login"
    /// How long a session lasts.
    public let lifetimeMillis: EpochMillis
    /// Set the cookies' Secure flag (the public URL is https).
    public let secure: Bool
    /// The signing key's bytes (SymmetricKey is not Sendable; a key is made from them per use).
    private let keyBytes: [UInt8]
    private let token: Secret

    public init(adminToken: Secret, secure: Bool, lifetimeMillis: EpochMillis = 12 * 3_600_000) {
        // A key of its own: the token itself never signs anything a browser holds.
        self.keyBytes = Array(HMAC<SHA256>.authenticationCode(for: Array("shoptrail console session v1".utf8),
                                                              using: SymmetricKey(data: Array(adminToken.value.utf8))))
        self.token = adminToken
        self.secure = secure
        self.lifetimeMillis = lifetimeMillis
    }

    /// An established session: its id (random) and expiry.
    public struct Established: Sendable, Equatable {
        public var id: String
        public var expiresAt: EpochMillis
    }

    /// True when `candidate` is the admin token (constant time).
    public func checkToken(_ candidate: String) -> Bool {
        ConstantTime.equal(Array(candidate.trimmingCharacters(in: .whitespacesAndNewlines).utf8), Array(token.value.utf8))
    }

    /// A new session's cookie value: `v1.{expiry}.{id}.{mac}`.
    public func issue(now: EpochMillis) -> (cookie: String, session: Established) {
        let session = Established(id: AdminToken.randomHex(bytes: 16), expiresAt: now + lifetimeMillis)
        let body = "v1.\(session.expiresAt).\(session.id)"
        return ("\(body).\(mac(body))", session)
    }

    /// The session a cookie value stands for, if its signature verifies and it has not expired.
    public func verify(_ cookie: String?, now: EpochMillis) -> Established? {
        guard let cookie, cookie.utf8.count < 200 else { return nil }
        let parts = cookie.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "v1", let expiry = EpochMillis(parts[1]) else { return nil }
        let body = parts[0...2].joined(separator: ".")
        guard ConstantTime.equal(Array(mac(body).utf8), Array(parts[3].utf8)), expiry > now else { return nil }
        return Established(id: String(parts[2]), expiresAt: expiry)
    }

    /// The CSRF token of a session: every form of the session carries it.
    public func csrfToken(for session: Established) -> String {
        mac("csrf.\(session.id)")
    }

    /// True when `candidate` is the session's CSRF token (constant time).
    public func checkCSRF(_ candidate: String?, session: Established) -> Bool {
        guard let candidate else { return false }
        return ConstantTime.equal(Array(candidate.utf8), Array(csrfToken(for: session).utf8))
    }

    private func mac(_ text: String) -> String {
        Data(HMAC<SHA256>.authenticationCode(for: Array(text.utf8), using: SymmetricKey(data: keyBytes))).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    /// A `Set-Cookie` value for `name`; `maxAgeSeconds` 0 deletes the cookie.
    public func setCookie(_ name: String, _ value: String, maxAgeSeconds: Int64, path: String = "/console") -> String {
        "\(name)=\(value); Path=\(path); Max-Age=\(maxAgeSeconds); HttpOnly; SameSite=Strict" + (secure ? "; Secure" : "")
    }

    /// The values of cookie `name` in the request's `Cookie` headers (another app on the same host
    /// may send one of the same name: cookies are not kept apart by port).
    public static func cookies(_ name: String, in request: Request) -> [String] {
        var values: [String] = []
        for header in request.headers[values: .cookie] {
            for pair in header.split(separator: ";") where values.count < 8 {
                let trimmed = pair.trimmingCharacters(in: .whitespaces)
                guard let equals = trimmed.firstIndex(of: "=") else { continue }
                if trimmed[..<equals] == name { values.append(String(trimmed[trimmed.index(after: equals)...])) }
            }
        }
        return values
    }

    /// The first of the request's session cookies that verifies.
    public func session(in request: Request, now: EpochMillis) -> Established? {
        for value in Self.cookies(Self.cookieName, in: request) {
            if let established = verify(value, now: now) { return established }
        }
        return nil
    }
}

/// An `application/x-www-form-urlencoded` body (the console's forms), bounded.
public struct FormBody: Sendable {
    public var fields: [String: String]

    public subscript(_ name: String) -> String? { fields[name] }

    /// Parses `text`; the first value of a repeated name wins.
    public init(_ text: String) {
        var fields: [String: String] = [:]
        for pair in text.split(separator: "&").prefix(50) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = Self.decode(parts[0]) else { continue }
            let value = parts.count > 1 ? Self.decode(parts[1]) ?? "" : ""
            if fields[name] == nil { fields[name] = value }
        }
        self.fields = fields
    }

    static func decode(_ part: Substring) -> String? {
        String(part).replacingOccurrences(of: "+", with: " ").removingPercentEncoding
    }

    /// Reads and parses a request's form body (at most 16 KiB).
    static func read(_ request: Request) async throws(APIError) -> FormBody {
        let buffer = try await CollectorController.readBody(request, maxBytes: 16_384)
        guard let text = String(validating: Array(buffer: buffer), as: UTF8.self) else {
            throw APIError(.badRequest, "form_unreadable", "the form body is not UTF-8")
        }
        return FormBody(text)
    }
}

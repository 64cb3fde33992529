import Hummingbird
import Crypto
import Foundation

/// The bearer token that guards the admin endpoints (the snippet embeds the shop's snippet secret).
///
/// `server.admin_token` wins; without it `loadOrCreate` keeps a random token in
/// `data_dir/admin_token`, created with mode 0600 on first start, so a demo server has one
/// without any configuration and the operator reads it from a file only they can read.
public enum AdminToken {
    public static let fileName = "admin_token"

    /// Where the token comes from, for the start-up banner (never the token itself).
    public enum Origin: Sendable, Equatable, CustomStringConvertible {
        case config
        case file(path: String, created: Bool)

        public var description: String {
            switch self {
            case .config: "server.admin_token"
            case .file(let path, let created): created ? "\(path) (new, mode 0600)" : path
            }
        }
    }

    /// The configured token, or the one in `data_dir/admin_token`, created if missing.
    public static func loadOrCreate(server: ServerConfig) throws -> (token: Secret, origin: Origin) {
        if let token = server.adminToken { return (token, .config) }
        try PrivateFiles.directory(server.dataDir)
        let path = (server.dataDir as NSString).appendingPathComponent(fileName)
        if let text = try? String(contentsOfFile: path, encoding: .utf8) {
            let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
            if token.utf8.count >= 16 {
                // A token file written by an older version may be readable by others.
                PrivateFiles.tighten(path)
                return (Secret(token), .file(path: path, created: false))
            }
        }
        let token = "st_admin_" + randomHex(bytes: 24)
        // Written under a temporary name created O_EXCL with mode 0600, then renamed: the token is
        // never in a file another user could open, and a crash never leaves a half-written token.
        try PrivateFiles.replace(path, contents: Data((token + "\n").utf8))
        return (Secret(token), .file(path: path, created: true))
    }

    /// True when the `Authorization: Bearer …` value is the token; compared in constant time.
    public static func authorizes(_ header: String?, token: Secret) -> Bool {
        guard let header, header.count > 7, header.prefix(7).lowercased() == "bearer " else { return false }
        return ConstantTime.equal(Array(header.dropFirst(7).trimmingCharacters(in: .whitespaces).utf8), Array(token.value.utf8))
    }

    /// Throws the admin endpoints' 503 (no token configured) or 401 unless `request` carries the token
    /// (Bearer, or Basic for pages a browser opens: `basic` asks the browser for it).
    static func require(_ request: Request, token: Secret?, basic: Bool) throws(APIError) {
        guard let token else {
            throw APIError(.serviceUnavailable, "admin_disabled", "no admin token: set server.admin_token (or admin_token_env)")
        }
        guard authorizesBearerOrBasic(request.headers[.authorization], token: token) else {
            var error = APIError(.unauthorized, "unauthorized", "send the admin token as Authorization: Bearer <token> (or as the Basic-auth password)")
            error.headers[.wwwAuthenticate] = basic ? #"Basic realm="ShopTrail dashboard", charset="UTF-8""# : #"Bearer realm="shoptrail-admin""#
            throw error
        }
    }

    /// Bearer, or HTTP Basic with the token as the password (any user name): what a browser can send
    /// for the dashboard page.
    public static func authorizesBearerOrBasic(_ header: String?, token: Secret) -> Bool {
        if authorizes(header, token: token) { return true }
        guard let header, header.count > 6, header.prefix(6).lowercased() == "basic ",
              let decoded = Data(base64Encoded: String(header.dropFirst(6)).trimmingCharacters(in: .whitespaces)),
              let colon = decoded.firstIndex(of: UInt8(ascii: ":")) else { return false }
        return ConstantTime.equal(Array(decoded[decoded.index(after: colon)...]), Array(token.value.utf8))
    }

    static func randomHex(bytes: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<bytes).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }
}

/// Comparisons whose duration does not depend on where the inputs differ.
enum ConstantTime {
    static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        // Hashing both first makes the comparison length-independent too.
        let ha = SHA256.hash(data: a), hb = SHA256.hash(data: b)
        var diff: UInt8 = 0
        for (x, y) in zip(ha, hb) { diff |= x ^ y }
        return diff == 0
    }
}

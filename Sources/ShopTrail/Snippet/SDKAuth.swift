import Crypto
import CryptoExtras
import Foundation
import JWTKit

/// The claims of a Braze SDK Authentication token, as braze-docs "SDK authentication" lists them:
/// `sub` is the user id the SDK gives to `changeUser`, `exp` when the token expires, `aud` optional.
public struct SDKAuthClaims: JWTPayload, Equatable {
    public var sub: SubjectClaim
    public var exp: ExpirationClaim
    public var iat: IssuedAtClaim
    public var aud: AudienceClaim?

    /// Expiry is checked by `SDKAuthVerifier` against its own clock (tests move it); the signature by jwt-kit.
    public func verify(using _: some JWTAlgorithm) async throws {}
}

/// A token handed to the storefront for one verified external id.
public struct SDKAuthToken: Sendable, Equatable {
    public let externalId: String
    public let token: String
    /// Unix seconds.
    public let expiresAt: Int64
}

/// Reading, checking and naming the RSA keys of `braze.web_sdk` (Braze: RS256, 2048-bit RSA recommended).
public enum SDKAuthKeys {
    /// A PEM from an environment variable that arrived with `\n` escapes instead of line breaks.
    static func unescapedPEM(_ text: String) -> String {
        text.contains("\n") ? text : text.replacingOccurrences(of: "\\n", with: "\n")
    }

    /// Why this is not a private key usable for RS256, or nil when it is. Never quotes the key.
    static func problem(privateKeyPEM pem: Secret) -> String? {
        let text = pem.value
        if text.contains("PUBLIC KEY-----") {
            return "holds a public key; ShopTrail signs with the RSA private key (Braze's dashboard gets the public one)"
        }
        guard text.contains("-----BEGIN") else {
            return "is not a PEM (-----BEGIN PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY-----); RS256 needs an RSA private key"
        }
        if (try? Insecure.RSA.PrivateKey(pem: text)) != nil { return nil }
        if let key = try? _RSA.Signing.PrivateKey(unsafePEMRepresentation: text), key.keySizeInBits < 2048 {
            return "is an RSA key of fewer than 2048 bits; RS256 needs 2048 or more"
        }
        return "is not an RSA private key in PEM usable for RS256 (an EC or Ed25519 key, or a damaged PEM)"
    }

    /// The `kid` of a public key: the first 16 hex digits of the SHA-256 of its DER form.
    public static func keyId(publicKeyDER der: Data) -> String {
        String(SHA256.hash(data: der).map { String(format: "%02x", $0) }.joined().prefix(16))
    }

    /// The public key (PEM, for Braze's dashboard) and the `kid` of a configured private key.
    public static func publicKey(privateKeyPEM pem: Secret, keyId: String? = nil) throws -> (pem: String, kid: String) {
        let key = try Insecure.RSA.PrivateKey(pem: pem.value)
        return (key.publicKey.pemRepresentation, keyId ?? self.keyId(publicKeyDER: key.publicKey.derRepresentation))
    }
}

/// Mints the shop's SDK Authentication tokens: RS256, signed with the current key, `kid` in the header.
///
/// An actor because jwt-kit's key collection is one; keys are read once, on first use (the config
/// loader already refused any key that does not parse, so a failure here means a changed file at most).
public actor SDKTokenMinter {
    public let config: WebSDKConfig
    private var keys: JWTKeyCollection?
    private var kid = ""

    public init(config: WebSDKConfig) { self.config = config }

    /// The current key's id, as put in each token's header.
    public func keyId() async throws -> String {
        _ = try await collection()
        return kid
    }

    public func mint(externalId: String, now: Date) async throws -> SDKAuthToken {
        let keys = try await collection()
        let expires = now.addingTimeInterval(TimeInterval(config.tokenTTLSeconds))
        let claims = SDKAuthClaims(
            sub: SubjectClaim(value: externalId), exp: ExpirationClaim(value: expires), iat: IssuedAtClaim(value: now),
            aud: config.jwtAudience.map { AudienceClaim(value: [$0]) }
        )
        var header = JWTHeader()
        header.typ = "JWT"
        let token = try await keys.sign(claims, kid: JWKIdentifier(string: kid), header: header)
        return SDKAuthToken(externalId: externalId, token: token, expiresAt: Int64(expires.timeIntervalSince1970.rounded(.down)))
    }

    private func collection() async throws -> JWTKeyCollection {
        if let keys { return keys }
        let key = try Insecure.RSA.PrivateKey(pem: config.jwtPrivateKey.value)
        let id = config.jwtKeyId ?? SDKAuthKeys.keyId(publicKeyDER: key.publicKey.derRepresentation)
        let collection = JWTKeyCollection()
        await collection.add(rsa: key, digestAlgorithm: .sha256, kid: JWKIdentifier(string: id))
        keys = collection
        kid = id
        return collection
    }
}

/// Verifies SDK Authentication tokens the way Braze does, with public keys only: RS256 and nothing
/// else, a signature by one of the listed keys, and an `exp` in the future.
public struct SDKAuthVerifier: Sendable {
    /// Public keys (PEM), current first; during a rotation the previous one too.
    let keys: JWTKeyCollection
    let kids: [String]

    /// Refused tokens say why, in a word (never echoing the token).
    public enum Failure: Error, Sendable, Equatable {
        case malformed, algorithm, signature, expired
    }

    public init(publicKeys: [(pem: String, kid: String)]) async throws {
        let collection = JWTKeyCollection()
        for (pem, kid) in publicKeys {
            let key = try Insecure.RSA.PublicKey(pem: pem)
            await collection.add(rsa: key, digestAlgorithm: .sha256, kid: JWKIdentifier(string: kid))
        }
        keys = collection
        kids = publicKeys.map(\.kid)
    }

    /// The verifier for a shop's configured keys (current and previous), from their public halves.
    public static func of(_ config: WebSDKConfig) async throws -> SDKAuthVerifier {
        var publicKeys = [try SDKAuthKeys.publicKey(privateKeyPEM: config.jwtPrivateKey, keyId: config.jwtKeyId)]
        if let previous = config.jwtPreviousPrivateKey { publicKeys.append(try SDKAuthKeys.publicKey(privateKeyPEM: previous)) }
        return try await SDKAuthVerifier(publicKeys: publicKeys)
    }

    public func verify(_ token: String, now: Date) async throws(Failure) -> SDKAuthClaims {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let headerData = Data(base64URL: String(parts[0])),
              let header = (try? JSONParser.parse(Array(headerData)))?.objectValue else { throw .malformed }
        // Braze accepts RS256 only; checked on the decoded header, before any key is chosen.
        guard header["alg"]?.stringValue == "RS256" else { throw .algorithm }
        let claims: SDKAuthClaims
        do {
            // An unlisted kid is no excuse: every listed key is tried, and only those.
            claims = try await keys.verify(token, as: SDKAuthClaims.self, iteratingKeys: true)
        } catch {
            throw .signature
        }
        guard now < claims.exp.value else { throw .expired }
        return claims
    }
}

extension Data {
    /// Base64url without padding, as JWT segments are written; nil when it is not.
    init?(base64URL text: String) {
        var s = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        guard !s.contains("=") else { return nil }
        while s.utf8.count % 4 != 0 { s += "=" }
        self.init(base64Encoded: s)
    }
}

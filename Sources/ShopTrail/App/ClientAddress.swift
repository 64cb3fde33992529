import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Who sent a beacon, for the per-IP limit.
enum ClientAddress {
    /// The last `X-Forwarded-For` hop when the operator trusts their proxy, else the peer's address;
    /// nil (not limited by IP) for a loopback or private peer without trusted forwarding: that is a
    /// reverse proxy, and limiting it would limit every visitor of the shop together.
    static func of(_ request: Request, remote: SocketAddress?, trustForwardedFor: Bool) -> String? {
        if trustForwardedFor {
            guard let forwarded = request.headers[.xForwardedFor],
                  let last = forwarded.split(separator: ",").last?.trimmingCharacters(in: .whitespaces), !last.isEmpty else {
                return remote?.ipAddress
            }
            return String(last.prefix(64))
        }
        // Judged on the address bytes, so a proxy's requests (every request behind one) format no text.
        guard let remote, let bytes = addressBytes(remote), !isProxyAddress(bytes) else { return nil }
        return remote.ipAddress
    }

    /// Loopback, RFC 1918, IPv6 unique-local and link-local addresses: where a reverse proxy sits.
    static func isProxyAddress(_ ip: String) -> Bool {
        addressBytes(ip).map(isProxyAddress) ?? false
    }

    /// The rule, on the 4 or 16 address bytes (an IPv4-mapped IPv6 address is judged as its IPv4 address).
    static func isProxyAddress(_ bytes: [UInt8]) -> Bool {
        if bytes.count == 16 {
            if bytes[0..<15].allSatisfy({ $0 == 0 }) && bytes[15] == 1 { return true }  // ::1
            if bytes[0] & 0xFE == 0xFC { return true }  // fc00::/7
            if bytes[0] == 0xFE && bytes[1] & 0xC0 == 0x80 { return true }  // fe80::/10
            guard bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xFF, bytes[11] == 0xFF else { return false }
            return isProxyAddress(Array(bytes[12..<16]))
        }
        guard bytes.count == 4 else { return false }
        return bytes[0] == 127 || bytes[0] == 10 || (bytes[0] == 172 && (16...31).contains(bytes[1])) || (bytes[0] == 192 && bytes[1] == 168)
            || (bytes[0] == 169 && bytes[1] == 254)
    }

    private static func addressBytes(_ address: SocketAddress) -> [UInt8]? {
        switch address {
        case .v4(let v4):
            var raw = v4.address.sin_addr
            return withUnsafeBytes(of: &raw) { Array($0) }
        case .v6(let v6):
            var raw = v6.address.sin6_addr
            return withUnsafeBytes(of: &raw) { Array($0) }
        case .unixDomainSocket:
            return nil
        }
    }

    private static func addressBytes(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }
}

extension HTTPField.Name {
    static let xForwardedFor = HTTPField.Name("X-Forwarded-For")!
}

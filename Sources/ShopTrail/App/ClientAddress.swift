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
        guard let ip = remote?.ipAddress, !isProxyAddress(ip) else { return nil }
        return ip
    }

    /// Loopback, RFC 1918, IPv6 unique-local and link-local addresses: where a reverse proxy sits.
    static func isProxyAddress(_ ip: String) -> Bool {
        let lower = ip.lowercased()
        if lower == "::1" || lower.hasPrefix("fc") || lower.hasPrefix("fd") || lower.hasPrefix("fe80:") { return true }
        let v4 = lower.hasPrefix("::ffff:") ? String(lower.dropFirst(7)) : lower
        let parts = v4.split(separator: ".").compactMap { Int($0) }
        guard parts.count == 4 else { return false }
        return parts[0] == 127 || parts[0] == 10 || (parts[0] == 172 && (16...31).contains(parts[1])) || (parts[0] == 192 && parts[1] == 168)
            || (parts[0] == 169 && parts[1] == 254)
    }
}

extension HTTPField.Name {
    static let xForwardedFor = HTTPField.Name("X-Forwarded-For")!
}

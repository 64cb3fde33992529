import Foundation
import HTTPTypes
import Hummingbird

/// Refuses beacons beyond the per-IP limit before their body is read (429 with `Retry-After`).
///
/// Only the direct beacon routes: App Proxy beacons all arrive from Shopify's addresses (the write
/// key's limit covers them) and webhooks are signed by Shopify.
struct BeaconRateLimitMiddleware: RouterMiddleware {
    typealias Context = ShopTrailRequestContext
    static let paths: Set<String> = ["/v1/batch", PixelCollectorController.path]

    let limits: BeaconRateLimits
    let clock: any WallClock

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.method == .post, Self.paths.contains(request.uri.path), let ip = clientIP(request, context: context),
              let wait = limits.perIP.take(ip, now: clock.now()) else {
            return try await next(request, context)
        }
        return BeaconRateLimits.refusal("beacons from this address", waitMillis: wait).plainResponse()
    }

    /// The last `X-Forwarded-For` hop when the operator trusts their proxy, else the peer's address;
    /// nil (not limited by IP) for a loopback or private peer without trusted forwarding: that is a
    /// reverse proxy, and limiting it would limit every visitor of the shop together.
    func clientIP(_ request: Request, context: Context) -> String? {
        if limits.trustForwardedFor {
            guard let forwarded = request.headers[.xForwardedFor],
                  let last = forwarded.split(separator: ",").last?.trimmingCharacters(in: .whitespaces), !last.isEmpty else {
                return context.remoteAddress?.ipAddress
            }
            return String(last.prefix(64))
        }
        guard let ip = context.remoteAddress?.ipAddress, !Self.isProxyAddress(ip) else { return nil }
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

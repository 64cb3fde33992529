import Foundation

/// The source of "now", injectable so tests can move time.
public protocol WallClock: Sendable {
    func now() -> EpochMillis
}

/// The system clock.
public struct SystemClock: WallClock {
    public init() {}
    public func now() -> EpochMillis { EpochMillis((Date().timeIntervalSince1970 * 1000).rounded()) }
}

extension Duration {
    /// The duration in (fractional) seconds.
    var inSeconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
    /// The duration in whole milliseconds (truncated); for durations from code, not from outside.
    var inMillis: Int64 { components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000 }
}

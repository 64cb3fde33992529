/// A secret from the config; prints as `<redacted>` so it can never reach a log by interpolation.
public struct Secret: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The secret itself. Read it only where it is used (signing, verifying, authorising).
    public let value: String

    public init(_ value: String) { self.value = value }

    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }
}

import Foundation

/// `BulkOperationStatus`.
public enum ShopifyEmulatorBulkOperationStatus: String, Sendable, Hashable, Codable {
    case created = "CREATED"
    case running = "RUNNING"
    case completed = "COMPLETED"
    case canceling = "CANCELING"
    case canceled = "CANCELED"
    case failed = "FAILED"
    case expired = "EXPIRED"

    var isFinished: Bool { [.completed, .canceled, .failed, .expired].contains(self) }
}

/// A bulk query operation as `bulkOperation(id:)` reports it.
public struct ShopifyEmulatorBulkOperation: Sendable, Hashable {
    /// Numeric part of the gid.
    public var id: Int64
    public var status: ShopifyEmulatorBulkOperationStatus
    /// `BulkOperationErrorCode` (ACCESS_DENIED, INTERNAL_SERVER_ERROR, TIMEOUT), nil unless FAILED.
    public var errorCode: String?
    public var createdAt: Date
    public var completedAt: Date?
    /// Lines written so far (all lines, children included).
    public var objectCount: Int
    /// Lines for nodes of the top-level connection.
    public var rootObjectCount: Int
    /// Bytes of the JSONL result, nil until complete.
    public var fileSize: Int?
    /// Where the JSONL can be downloaded; nil when not complete or when nothing matched (as Shopify does).
    public var url: String?
    public var partialDataUrl: String?
    public var query: String
    public var groupObjects: Bool

    public var gid: String { "gid://shopify/BulkOperation/\(id)" }
}

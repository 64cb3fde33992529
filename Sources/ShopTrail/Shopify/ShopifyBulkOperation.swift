import AsyncHTTPClient
import Foundation
import NIOCore

/// A bulk query operation as `bulkOperation(id:)` reports it.
public struct ShopifyBulkOperation: Sendable, Equatable {
    /// The gid, `gid://shopify/BulkOperation/…`.
    public var id: String
    /// `CREATED`, `RUNNING`, `COMPLETED`, `CANCELING`, `CANCELED`, `FAILED`, `EXPIRED`.
    public var status: String
    public var errorCode: String?
    /// Result lines written (children included).
    public var objectCount: Int?
    /// The JSONL result; nil when nothing matched (or not finished).
    public var url: String?
    public var partialDataUrl: String?

    public var isFinished: Bool { ["COMPLETED", "CANCELED", "FAILED", "EXPIRED"].contains(status) }

    static let fields = "id status errorCode objectCount url partialDataUrl"

    init?(_ value: JSONValue?) {
        guard let object = value?.objectValue, let id = object["id"]?.stringValue, let status = object["status"]?.stringValue else { return nil }
        self.id = id
        self.status = status
        self.errorCode = object["errorCode"]?.stringValue
        self.objectCount = object["objectCount"]?.idString.flatMap { Int($0) }
        self.url = object["url"]?.stringValue
        self.partialDataUrl = object["partialDataUrl"]?.stringValue
    }
}

extension ShopifyAdminClient {
    /// Runs a bulk query and waits for it: `bulkOperationRunQuery(query:)`, then polls
    /// `bulkOperation(id:)` every `Settings.bulkPollInterval` until it is finished.
    ///
    /// Bulk queries cost 10 points however much they read (no per-node cost), so they suit whole
    /// catalogs and backfills. Shopify runs few at a time per shop: a refusal because another one runs
    /// throws `.bulk(code: "OPERATION_IN_PROGRESS")`, which callers may answer by waiting or paginating.
    ///
    /// - Parameter query: the inner query, e.g. `{ products { edges { node { id variants { edges { node { id } } } } } } }`.
    /// - Returns: the finished operation (`COMPLETED`; `url` nil when nothing matched).
    /// - Throws: `.bulk` for user errors, a `FAILED`/`CANCELED`/`EXPIRED` status or a timeout; any `query` error.
    public func runBulkQuery(_ query: String) async throws -> ShopifyBulkOperation {
        let mutation = """
            mutation ShopTrailBulkQuery($query: String!) {
              bulkOperationRunQuery(query: $query) {
                bulkOperation { \(ShopifyBulkOperation.fields) }
                userErrors { field message code }
              }
            }
            """
        let started = try await self.query(mutation, variables: ["query": .string(query)], estimatedCost: 10)
        let payload = started.value(at: ["bulkOperationRunQuery"])?.objectValue
        if let error = payload?["userErrors"]?.arrayValue?.first?.objectValue {
            throw ShopifyAdminError.bulk(shop: shopDomain, code: error["code"]?.stringValue, message: error["message"]?.stringValue ?? "refused")
        }
        guard var operation = ShopifyBulkOperation(payload?["bulkOperation"]) else {
            throw ShopifyAdminError.invalidResponse(shop: shopDomain, reason: "bulkOperationRunQuery returned no operation")
        }
        record { $0.bulkOperations += 1 }
        logger.info("shopify bulk operation started", metadata: ["shop": .string(shopDomain), "operation": .string(operation.id)])
        let poll = "query ShopTrailBulkOperation($id: ID!) { bulkOperation(id: $id) { \(ShopifyBulkOperation.fields) } }"
        let deadline = clock.now() + settings.bulkTimeout.inMillis
        while !operation.isFinished {
            guard clock.now() < deadline else {
                throw ShopifyAdminError.bulk(shop: shopDomain, code: "TIMEOUT", message: "\(operation.id) still \(operation.status)")
            }
            try await sleep(settings.bulkPollInterval.inMillis)
            let answer = try await self.query(poll, variables: ["id": .string(operation.id)], estimatedCost: 1)
            guard let current = ShopifyBulkOperation(answer.value(at: ["bulkOperation"])) else {
                throw ShopifyAdminError.invalidResponse(shop: shopDomain, reason: "bulkOperation(id:) returned nothing for \(operation.id)")
            }
            operation = current
        }
        guard operation.status == "COMPLETED" else {
            throw ShopifyAdminError.bulk(shop: shopDomain, code: operation.errorCode ?? operation.status, message: "\(operation.id) ended \(operation.status)")
        }
        return operation
    }

    /// Downloads a bulk result (`ShopifyBulkOperation.url`) and hands each JSONL line to `line`, in file order,
    /// as it streams in. Child rows carry `__parentId`. The URL is pre-signed storage: no token is sent.
    /// - Returns: the number of lines.
    @discardableResult
    public func bulkResults(url: String, line: (JSONObject) async throws -> Void) async throws -> Int {
        var request = HTTPClientRequest(url: url)
        request.method = .GET
        let deadline = NIODeadline.now() + BrazeClient.timeAmount(settings.bulkDownloadTimeout)
        let response: HTTPClientResponse
        do {
            response = try await httpClient.execute(request, deadline: deadline)
        } catch {
            throw ShopifyAdminError.unavailable(shop: shopDomain, reason: "bulk result download failed: \(type(of: error))", attempts: 1)
        }
        guard response.status.code == 200 else {
            throw ShopifyAdminError.bulk(shop: shopDomain, code: "DOWNLOAD", message: "bulk result answered HTTP \(response.status.code)")
        }
        var pending: [UInt8] = []
        var count = 0
        func emit(_ bytes: ArraySlice<UInt8>) async throws {
            guard bytes.contains(where: { $0 != 0x20 && $0 != 0x0D && $0 != 0x09 }) else { return }
            guard let object = (try? JSONParser.parse(Array(bytes), maxDepth: 64))?.objectValue else {
                throw ShopifyAdminError.invalidResponse(shop: shopDomain, reason: "bulk result line \(count + 1) is not a JSON object")
            }
            count += 1
            try await line(object)
        }
        for try await buffer in response.body {
            pending.append(contentsOf: buffer.readableBytesView)
            var start = pending.startIndex
            while let newline = pending[start...].firstIndex(of: 0x0A) {
                try await emit(pending[start..<newline])
                start = newline + 1
            }
            pending.removeSubrange(pending.startIndex..<start)
            guard pending.count <= settings.maxBulkLineBytes else {
                throw ShopifyAdminError.invalidResponse(shop: shopDomain, reason: "bulk result line longer than \(settings.maxBulkLineBytes) bytes")
            }
        }
        try await emit(pending[...])
        record { $0.bulkLines += count }
        return count
    }
}

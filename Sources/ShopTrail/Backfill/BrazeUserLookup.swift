import Foundation

/// Asks Braze which external ids already exist (`POST /users/export/ids`, 50 ids per request), so the
/// backfill sets subscription states only on users it creates.
public struct BrazeUserLookup: Sendable {
    let sender: any BrazeSending
    /// Braze's limit of identifiers per export request.
    static let batchSize = 50

    public init(sender: any BrazeSending) { self.sender = sender }

    /// The ids of `externalIds` that Braze knows; nil when Braze could not answer (then nothing counts as new).
    func existing(_ externalIds: [String]) async -> (known: Set<String>?, requests: Int) {
        var known = Set<String>()
        var requests = 0
        var start = 0
        while start < externalIds.count {
            let batch = Array(externalIds[start..<min(externalIds.count, start + Self.batchSize)])
            start += Self.batchSize
            let body = JSONValue.object(JSONObject([
                ("external_ids", .array(batch.map(JSONValue.string))), ("fields_to_export", .array([.string("external_id")])),
            ]))
            var answer: BrazeAnswer?
            // A few tries for rate limits and outages; then the safe answer (unknown → not new).
            for attempt in 0..<4 {
                requests += 1
                let current = await sender.send(BrazeRequest(.usersExportIds, body: Array(body.serialized.utf8)))
                if case .success = current.response { answer = current; break }
                if case .rejected = current.response { return (nil, requests) }
                try? await Task.sleep(for: .milliseconds(250 << attempt))
            }
            guard let answer, let root = (try? JSONParser.parse(answer.body, maxDepth: 32))?.objectValue else { return (nil, requests) }
            for user in root["users"]?.arrayValue ?? [] {
                if let id = user.objectValue?["external_id"]?.stringValue { known.insert(id) }
            }
        }
        return (known, requests)
    }
}

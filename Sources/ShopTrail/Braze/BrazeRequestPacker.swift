/// Packs claimed outbox entries into one Braze request, as full as the per-request limits allow,
/// without letting any user's operations overtake each other.
public struct BrazeRequestPacker: Sendable {
    /// Objects in one `/users/track` request, attributes, events and purchases together: Braze takes 75 in
    /// total (50 on the newer MAU packages) and refuses a request with more whole (400 `Max Input Length Exceeded`).
    public var maxTrackObjects = 75
    /// Body bytes of one request: Braze answers 413 above 4 MB. One operation alone may still be larger
    /// (it is sent alone and Braze's answer decides its fate).
    public var maxBodyBytes = 4_000_000
    /// Entries per `/users/identify`, `/users/alias/new` or `/users/merge` request (Braze: 50).
    public var maxPerUsersRequest = 50
    /// Items per `PUT|DELETE /catalogs/{name}/items` request (Braze: 50).
    public var maxPerCatalogRequest = 50

    public init() {}

    /// One request and the entries it carries; `positions` maps each carried entry to its array
    /// and index so Braze's per-object errors can be traced back to operations.
    public struct Packed: Sendable {
        public var request: BrazeRequest
        public var carried: [OutboxEntry]
        public var positions: [Int64: (array: String, index: Int)]
        /// Claimed entries that did not fit (or would have overtaken their user); release them.
        public var leftover: [OutboxEntry]
        /// How many entries a request of this kind can carry (1 for whole-body requests).
        public var capacity: Int
    }

    /// Packs entries (in outbox order) into a request for the first entry's endpoint.
    public func pack(_ entries: [OutboxEntry]) -> Packed? {
        guard let first = entries.first else { return nil }
        let family = Family(first.operation)
        let capacity = family.isWhole ? 1 : family == .track ? maxTrackObjects : family.isCatalogItems ? maxPerCatalogRequest : maxPerUsersRequest
        // One item id at most once per catalog request: Braze refuses duplicate ids (`ids-not-unique`).
        var keysInRequest = Set<String>()
        var arrays: [String: [String]] = [:]
        var carried: [OutboxEntry] = []
        var positions: [Int64: (array: String, index: Int)] = [:]
        var leftover: [OutboxEntry] = []
        var blocked = Set<String>()
        // Brackets, member names and commas of the finished body; each payload adds its bytes and a comma.
        var bodyBytes = 2 + Family.arrayNamesBytes
        for entry in entries {
            let op = entry.operation
            guard !blocked.contains(op.userKey), Family(op) == family, !(family.isWhole && !carried.isEmpty),
                  !(family.isCatalogItems && keysInRequest.contains(op.userKey)) else {
                // Anything later of this user must wait for this entry, which is not in this request.
                blocked.insert(op.userKey)
                leftover.append(entry)
                continue
            }
            let array = family.arrayName(op.kind)
            let count = arrays[array, default: []].count
            // The capacity counts every array of the request together (Braze's combined limit).
            guard carried.count < capacity, carried.isEmpty || bodyBytes + op.payload.utf8.count + 1 <= maxBodyBytes else {
                blocked.insert(op.userKey)
                leftover.append(entry)
                continue
            }
            arrays[array, default: []].append(op.payload)
            bodyBytes += op.payload.utf8.count + 1
            positions[entry.seq] = (array, count)
            carried.append(entry)
            keysInRequest.insert(op.userKey)
        }
        let body: String
        if family.isWhole {
            body = first.operation.payload
        } else {
            body = "{" + arrays.keys.sorted().map { key in
                "\"\(key)\":[" + (arrays[key] ?? []).joined(separator: ",") + "]"
            }.joined(separator: ",") + "}"
        }
        return Packed(request: family.request(body: Array(body.utf8)), carried: carried, positions: positions, leftover: leftover, capacity: capacity)
    }

    /// Operations that can share one request.
    enum Family: Equatable {
        case track, identify, aliasNew, merge, delete, subscription, catalogCreate
        /// Item operations share a request only within one catalog (the path names it).
        case catalogUpsert(String), catalogDelete(String)

        init(_ operation: BrazeOperation) {
            switch operation.kind {
            case .attributes, .event, .purchase: self = .track
            case .identify: self = .identify
            case .aliasNew: self = .aliasNew
            case .merge: self = .merge
            case .delete: self = .delete
            case .subscription: self = .subscription
            case .catalogCreate: self = .catalogCreate
            // A key that names no catalog gives an empty name: Braze answers 404 and the operation is dead-lettered.
            case .catalogUpsert: self = .catalogUpsert(CatalogKey.parseItem(operation.userKey)?.catalog ?? "")
            case .catalogDelete: self = .catalogDelete(CatalogKey.parseItem(operation.userKey)?.catalog ?? "")
            }
        }

        /// An upper bound of the bytes `"name":[]` and separators add for every array a request can hold.
        static let arrayNamesBytes = ["attributes", "events", "purchases", "aliases_to_identify", "user_aliases", "merge_updates", "items"]
            .reduce(0) { $0 + $1.utf8.count + 6 }

        /// Whole-body operations go one per request.
        var isWhole: Bool { self == .delete || self == .subscription || self == .catalogCreate }

        var isCatalogItems: Bool {
            switch self {
            case .catalogUpsert, .catalogDelete: true
            default: false
            }
        }

        func request(body: [UInt8]) -> BrazeRequest {
            switch self {
            case .track: BrazeRequest(.usersTrack, body: body)
            case .identify: BrazeRequest(.usersIdentify, body: body)
            case .aliasNew: BrazeRequest(.usersAliasNew, body: body)
            case .merge: BrazeRequest(.usersMerge, body: body)
            case .delete: BrazeRequest(.usersDelete, body: body)
            case .subscription: BrazeRequest(.subscriptionStatusSetV2, body: body)
            case .catalogCreate: BrazeRequest(.catalogs, body: body)
            case .catalogUpsert(let name): BrazeRequest.catalogItems(name, method: .put, body: body)
            case .catalogDelete(let name): BrazeRequest.catalogItems(name, method: .delete, body: body)
            }
        }

        func arrayName(_ kind: BrazeOperation.Kind) -> String {
            switch kind {
            case .attributes: "attributes"
            case .event: "events"
            case .purchase: "purchases"
            case .identify: "aliases_to_identify"
            case .aliasNew: "user_aliases"
            case .merge: "merge_updates"
            case .catalogUpsert, .catalogDelete: "items"
            case .delete, .subscription, .catalogCreate: "body"
            }
        }
    }
}

/// Packs claimed outbox entries into one Braze request, as full as the per-request limits allow,
/// without letting any user's operations overtake each other.
public struct BrazeRequestPacker: Sendable {
    /// Objects per array in one `/users/track` request (Braze: 75 attributes, 75 events, 75 purchases).
    public var maxPerTrackArray = 75
    /// Entries per `/users/identify`, `/users/alias/new` or `/users/merge` request (Braze: 50).
    public var maxPerUsersRequest = 50

    public init() {}

    /// One request and the entries it carries; `positions` maps each carried entry to its array
    /// and index so Braze's per-object errors can be traced back to operations.
    public struct Packed: Sendable {
        public var request: BrazeRequest
        public var carried: [OutboxEntry]
        public var positions: [Int64: (array: String, index: Int)]
        /// Claimed entries that did not fit (or would have overtaken their user); release them.
        public var leftover: [OutboxEntry]
    }

    /// Packs entries (in outbox order) into a request for the first entry's endpoint.
    public func pack(_ entries: [OutboxEntry]) -> Packed? {
        guard let first = entries.first else { return nil }
        let family = Family(first.operation.kind)
        var arrays: [String: [String]] = [:]
        var carried: [OutboxEntry] = []
        var positions: [Int64: (array: String, index: Int)] = [:]
        var leftover: [OutboxEntry] = []
        var blocked = Set<String>()
        for entry in entries {
            let op = entry.operation
            guard !blocked.contains(op.userKey), Family(op.kind) == family, !(family.isWhole && !carried.isEmpty) else {
                // Anything later of this user must wait for this entry, which is not in this request.
                blocked.insert(op.userKey)
                leftover.append(entry)
                continue
            }
            let array = family.arrayName(op.kind)
            let count = arrays[array, default: []].count
            guard count < (family == .track ? maxPerTrackArray : maxPerUsersRequest) else {
                blocked.insert(op.userKey)
                leftover.append(entry)
                continue
            }
            arrays[array, default: []].append(op.payload)
            positions[entry.seq] = (array, count)
            carried.append(entry)
        }
        let body: String
        if family.isWhole {
            body = first.operation.payload
        } else {
            body = "{" + arrays.keys.sorted().map { key in
                "\"\(key)\":[" + (arrays[key] ?? []).joined(separator: ",") + "]"
            }.joined(separator: ",") + "}"
        }
        return Packed(request: BrazeRequest(family.endpoint, body: Array(body.utf8)), carried: carried, positions: positions, leftover: leftover)
    }

    /// Operations that can share one request.
    enum Family: Equatable {
        case track, identify, aliasNew, merge, delete, subscription

        init(_ kind: BrazeOperation.Kind) {
            switch kind {
            case .attributes, .event, .purchase: self = .track
            case .identify: self = .identify
            case .aliasNew: self = .aliasNew
            case .merge: self = .merge
            case .delete: self = .delete
            case .subscription: self = .subscription
            }
        }

        /// Whole-body operations go one per request.
        var isWhole: Bool { self == .delete || self == .subscription }

        var endpoint: BrazeEndpoint {
            switch self {
            case .track: .usersTrack
            case .identify: .usersIdentify
            case .aliasNew: .usersAliasNew
            case .merge: .usersMerge
            case .delete: .usersDelete
            case .subscription: .subscriptionStatusSetV2
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
            case .delete, .subscription: "body"
            }
        }
    }
}

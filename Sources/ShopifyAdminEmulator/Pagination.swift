import Foundation

/// A record's place in a sort order: the sort value, ties broken by id (as Shopify's cursors do).
struct SortTuple: Sendable, Hashable, Comparable {
    var key: Int64
    var id: Int64

    static func < (lhs: SortTuple, rhs: SortTuple) -> Bool { (lhs.key, lhs.id) < (rhs.key, rhs.id) }
}

/// Opaque connection cursors: base64 of `{"last_id":…,"last_value":"…"}`, the shape Shopify's cursors decode to.
enum ConnectionCursor {
    static func encode(_ tuple: SortTuple) -> String {
        Data("{\"last_id\":\(tuple.id),\"last_value\":\"\(tuple.key)\"}".utf8).base64EncodedString()
    }

    /// nil when the text is not a cursor this emulator issued.
    static func decode(_ cursor: String) -> SortTuple? {
        var text = cursor.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while text.count % 4 != 0 { text += "=" }
        guard let data = Data(base64Encoded: text), let json = ShopifyJSON.parse(data),
              let id = json["last_id"]?.intValue else { return nil }
        let key: Int64?
        switch json["last_value"] {
        case .string(let value)?: key = Int64(value)
        case .int(let value)?: key = value
        default: key = nil
        }
        return key.map { SortTuple(key: $0, id: id) }
    }
}

/// Pagination arguments after validation.
struct PageWindow: Sendable {
    var first: Int?
    var last: Int?
    var after: SortTuple?
    var before: SortTuple?
    var reverse: Bool
    /// Sort keys outside this range cannot match the search (from `SearchFilter.dateBounds`).
    var keyRange: ClosedRange<Int64>? = nil
}

/// One page: record positions in answer order with their sort tuples, and the page info flags.
struct PageSlice: Sendable {
    var positions: [Int]
    var tuples: [SortTuple]
    var hasNextPage: Bool
    var hasPreviousPage: Bool
}

/// Record positions sorted ascending by `SortTuple`, paged by binary search so a page costs O(page), not O(records).
struct SortedView: Sendable {
    let positions: [Int]
    let tuples: [SortTuple]

    init(count: Int, tuple: (Int) -> SortTuple) {
        let unsorted = (0..<count).map(tuple)
        // Generated records are already in id and creation order; skip the sort then.
        if zip(unsorted, unsorted.dropFirst()).allSatisfy({ $0 < $1 }) {
            positions = Array(0..<count)
            tuples = unsorted
        } else {
            positions = (0..<count).sorted { unsorted[$0] < unsorted[$1] }
            tuples = positions.map { unsorted[$0] }
        }
    }

    var count: Int { positions.count }

    /// First index whose tuple is >= `value` (or > when `strictly`).
    private func bound(_ value: SortTuple, strictly: Bool) -> Int {
        var low = 0, high = tuples.count
        while low < high {
            let mid = (low + high) / 2
            if tuples[mid] < value || (strictly && tuples[mid] == value) { low = mid + 1 } else { high = mid }
        }
        return low
    }

    private func physical(_ logical: Int, reverse: Bool) -> Int { reverse ? count - 1 - logical : logical }

    /// The physical index range whose sort keys fall within `keys` (nil = everything).
    private func physicalRange(_ keys: ClosedRange<Int64>?) -> Range<Int> {
        guard let keys else { return 0..<count }
        let low = bound(SortTuple(key: keys.lowerBound, id: Int64.min), strictly: false)
        let high = bound(SortTuple(key: keys.upperBound, id: Int64.max), strictly: true)
        return low < high ? low..<high : low..<low
    }

    /// The logical (answer-order) range between the `after` and `before` cursors, within the key range.
    private func range(_ window: PageWindow) -> Range<Int> {
        let physical = physicalRange(window.keyRange)
        var start = window.reverse ? count - physical.upperBound : physical.lowerBound
        var end = window.reverse ? count - physical.lowerBound : physical.upperBound
        if let after = window.after {
            start = max(start, window.reverse ? count - bound(after, strictly: false) : bound(after, strictly: true))
        }
        if let before = window.before {
            end = min(end, window.reverse ? count - bound(before, strictly: true) : bound(before, strictly: false))
        }
        return start < end ? start..<end : start..<start
    }

    func page(_ window: PageWindow, include: (Int) -> Bool) -> PageSlice {
        let bounds = range(window)
        var picked: [Int] = []  // logical indices
        var hasNext = false, hasPrevious = false
        if let last = window.last, window.first == nil {
            var logical = bounds.upperBound - 1
            while logical >= bounds.lowerBound {
                if include(positions[physical(logical, reverse: window.reverse)]) {
                    if picked.count == last { hasPrevious = true; break }
                    picked.append(logical)
                }
                logical -= 1
            }
            picked.reverse()
            if window.before != nil { hasNext = anyMatch(from: bounds.upperBound, step: 1, window: window, include: include) }
        } else {
            let first = window.first ?? Int.max
            var logical = bounds.lowerBound
            while logical < bounds.upperBound {
                if include(positions[physical(logical, reverse: window.reverse)]) {
                    if picked.count == first { hasNext = true; break }
                    picked.append(logical)
                }
                logical += 1
            }
            if let last = window.last, picked.count > last {
                picked.removeFirst(picked.count - last)
                hasPrevious = true
            }
            if window.after != nil, !hasPrevious {
                hasPrevious = anyMatch(from: bounds.lowerBound - 1, step: -1, window: window, include: include)
            }
        }
        let physicalIndices = picked.map { physical($0, reverse: window.reverse) }
        return PageSlice(positions: physicalIndices.map { positions[$0] }, tuples: physicalIndices.map { tuples[$0] },
                         hasNextPage: hasNext, hasPreviousPage: hasPrevious)
    }

    private func anyMatch(from start: Int, step: Int, window: PageWindow, include: (Int) -> Bool) -> Bool {
        let keyed = physicalRange(window.keyRange)
        let limits = window.reverse ? (count - keyed.upperBound)..<(count - keyed.lowerBound) : keyed
        var logical = start
        while logical >= limits.lowerBound && logical < limits.upperBound {
            if include(positions[physical(logical, reverse: window.reverse)]) { return true }
            logical += step
        }
        return false
    }

    /// Every matching position in answer order (bulk operations).
    func all(reverse: Bool, keyRange: ClosedRange<Int64>? = nil, include: (Int) -> Bool) -> [Int] {
        let slice = positions[physicalRange(keyRange)]
        return (reverse ? Array(slice.reversed()) : Array(slice)).filter(include)
    }
}

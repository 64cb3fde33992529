import Synchronization

/// The live events feed: an in-process broadcaster with a bounded buffer per subscriber (the oldest
/// events are dropped for a subscriber that reads slowly) and a bounded number of subscribers, so a
/// slow or stalled browser never holds the server's memory. Per instance: with several instances
/// behind a load balancer, each page sees the events that instance received.
public final class LiveEvents: Sendable {
    /// One event as the live page shows it.
    public struct Item: Sendable, Equatable {
        public var shop: String
        public var source: String
        public var name: String
        public var visitorId: String?
        /// The customer the event names (a webhook's `customer.id`, a signed App Proxy customer), if any.
        public var customerId: String?
        /// The event as JSON text, one line.
        public var json: String
    }

    /// What a subscriber wants to see; nil fields match anything.
    public struct Filter: Sendable, Equatable {
        public var shop: String?
        public var name: String?
        public var visitorId: String?
        public var customerId: String?

        public init(shop: String? = nil, name: String? = nil, visitorId: String? = nil, customerId: String? = nil) {
            self.shop = shop
            self.name = name
            self.visitorId = visitorId
            self.customerId = customerId
        }

        func matches(_ item: Item) -> Bool {
            (shop == nil || shop == item.shop) && (name == nil || name == item.name)
                && (visitorId == nil || visitorId == item.visitorId) && (customerId == nil || customerId == item.customerId)
        }
    }

    private struct Subscriber {
        var filter: Filter
        var continuation: AsyncStream<Item>.Continuation
    }

    /// Subscribers at most; one more is refused (the page says so).
    public let maxSubscribers: Int
    /// Events buffered per subscriber; past it the oldest are dropped.
    public let bufferPerSubscriber: Int
    private let subscribers = Mutex<(next: UInt64, all: [UInt64: Subscriber])>((0, [:]))
    /// Read without the lock by ingest: nobody watching costs one atomic load per beacon.
    private let watching = Atomic<Int>(0)

    public init(maxSubscribers: Int = 16, bufferPerSubscriber: Int = 500) {
        self.maxSubscribers = maxSubscribers
        self.bufferPerSubscriber = bufferPerSubscriber
    }

    /// Subscribers now.
    public var subscriberCount: Int { watching.load(ordering: .relaxed) }

    /// A stream of the events matching `filter`, or nil when `maxSubscribers` are already watching.
    /// The subscription ends when the stream's consumer goes away.
    public func subscribe(_ filter: Filter) -> AsyncStream<Item>? {
        let (stream, continuation) = AsyncStream.makeStream(of: Item.self, bufferingPolicy: .bufferingNewest(bufferPerSubscriber))
        let id: UInt64? = subscribers.withLock { state in
            guard state.all.count < maxSubscribers else { return nil }
            state.next += 1
            state.all[state.next] = Subscriber(filter: filter, continuation: continuation)
            watching.store(state.all.count, ordering: .relaxed)
            return state.next
        }
        guard let id else {
            continuation.finish()
            return nil
        }
        continuation.onTermination = { [weak self] _ in self?.unsubscribe(id) }
        return stream
    }

    private func unsubscribe(_ id: UInt64) {
        subscribers.withLock { state in
            state.all[id] = nil
            watching.store(state.all.count, ordering: .relaxed)
        }
    }

    /// Offers committed events to every subscriber; never waits (a full buffer drops its oldest).
    public func publish(_ events: [NewEvent]) {
        guard watching.load(ordering: .relaxed) > 0, !events.isEmpty else { return }
        let items = events.map(Self.item)
        // Yielded outside the lock: a stream being cancelled runs its onTermination (which takes this
        // lock to unsubscribe) while holding its own lock, which a yield needs: holding both would deadlock.
        let current = subscribers.withLock { Array($0.all.values) }
        for subscriber in current {
            for item in items where subscriber.filter.matches(item) { subscriber.continuation.yield(item) }
        }
    }

    static func item(_ event: NewEvent) -> Item {
        let customer = customerId(event)
        var members: [(key: String, value: JSONValue)] = [
            (key: "shop", value: .string(event.shop)), (key: "source", value: .string(event.source.rawValue)),
            (key: "name", value: .string(event.name)), (key: "event_id", value: .string(event.eventId)),
            (key: "visitor_id", value: event.visitorId.map(JSONValue.string) ?? .null),
            (key: "session_id", value: event.sessionId.map(JSONValue.string) ?? .null),
            (key: "customer_id", value: customer.map(JSONValue.string) ?? .null),
            (key: "time", value: .string(Timestamp.format(event.time))), (key: "received_at", value: .string(Timestamp.format(event.receivedAt))),
        ]
        // The stored texts were serialized by the server's own JSON writer; parsed again so the item is one JSON document.
        for (key, text) in [("properties", event.properties), ("context", event.context)] {
            guard let text else { continue }
            members.append((key: key, value: (try? JSONParser.parse(Array(text.utf8))) ?? .string(text)))
        }
        return Item(shop: event.shop, source: event.source.rawValue, name: event.name, visitorId: event.visitorId, customerId: customer,
                    json: JSONValue.object(JSONObject(members)).serialized)
    }

    /// The customer a webhook's body names, or the App Proxy's signed one.
    static func customerId(_ event: NewEvent) -> String? {
        if event.source == .webhook, let body = (try? JSONParser.parse(Array(event.properties.utf8)))?.objectValue,
           let customer = body["customer"]?.objectValue?["id"] {
            return customer.scalarText
        }
        if let verified = event.verified, let object = (try? JSONParser.parse(Array(verified.utf8)))?.objectValue {
            return (object["customer_id"] ?? object["logged_in_customer_id"])?.scalarText
        }
        return nil
    }
}

extension JSONValue {
    /// A string's or a number's text (ids come as either).
    var scalarText: String? {
        switch self {
        case .string(let text), .number(let text): text
        default: nil
        }
    }
}

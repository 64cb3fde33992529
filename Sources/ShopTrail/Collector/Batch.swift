/// Limits the collector enforces on every beacon (documented in docs/collector-api.md).
public struct CollectorLimits: Sendable {
    /// `navigator.sendBeacon` queues at most 64 KiB per page in Chromium, so a larger body is a bug.
    public var maxBodyBytes = 64 * 1024
    public var maxEventsPerBatch = 100
    /// Serialized size of one event's `properties`.
    public var maxPropertiesBytes = 8 * 1024
    /// Serialized size of the batch `context`.
    public var maxContextBytes = 8 * 1024
    public var maxJSONDepth = 10
    /// Events whose (skew-corrected) time is older than this are refused: they cannot drive any Canvas.
    public var maxEventAgeMillis: EpochMillis = 7 * 24 * 3600 * 1000

    public init() {}
}

/// One storefront event as the tracker sent it.
public struct IncomingEvent: Sendable, Equatable {
    public let id: String
    public let name: StorefrontEventName
    public let clientTime: EpochMillis?
    /// Compact JSON text of the properties object (serialized once, while checking its size).
    public let propertiesJSON: String
}

/// A validated `POST /v1/batch` body: one visitor's events plus what the page knew.
public struct IncomingBatch: Sendable, Equatable {
    public let writeKey: String
    public let visitorId: String
    public let sessionId: String?
    public let sentAt: EpochMillis?
    /// Compact JSON text of the context object, if any.
    public let contextJSON: String?
    public let events: [IncomingEvent]

    static let envelopeKeys: Set<String> = ["write_key", "visitor_id", "session_id", "sent_at", "context", "events"]
    static let eventKeys: Set<String> = ["id", "name", "time", "properties"]

    /// The envelope and its write key, read first so an unknown key or origin is refused before anything else.
    public static func envelope(_ body: [UInt8], limits: CollectorLimits) throws(APIError) -> (envelope: JSONObject, writeKey: String) {
        let root: JSONValue
        do {
            root = try JSONParser.parse(body, maxDepth: limits.maxJSONDepth, rawKeys: ["properties", "context"])
        } catch {
            throw APIError(.badRequest, "malformed_json", "body is not valid JSON: \(error.message) at byte \(error.offset)")
        }
        guard case .object(let envelope) = root else {
            throw APIError(.badRequest, "invalid_type", "body must be a JSON object, got \(root.typeName)")
        }
        return (envelope, try requiredString(envelope, "write_key", path: "write_key"))
    }

    /// Parses and validates a whole batch: either every event is valid or an `APIError` names the first problem.
    public static func parse(_ body: [UInt8], limits: CollectorLimits) throws(APIError) -> IncomingBatch {
        let (envelope, writeKey) = try Self.envelope(body, limits: limits)
        return try validate(envelope: envelope, writeKey: writeKey, limits: limits)
    }

    /// Validates everything but the write key, which `envelope` already read.
    public static func validate(envelope: JSONObject, writeKey: String, limits: CollectorLimits) throws(APIError) -> IncomingBatch {
        try rejectUnknownKeys(envelope, allowed: envelopeKeys, path: "")
        let visitorId = try requiredString(envelope, "visitor_id", path: "visitor_id")
        guard isIdentifier(visitorId, minLength: 8) else {
            throw APIError(.badRequest, "invalid_value", "visitor_id must be 8 to 64 characters of A-Z a-z 0-9 _ -", field: "visitor_id")
        }
        let sessionId = try optionalString(envelope, "session_id", path: "session_id")
        if let sessionId, !isIdentifier(sessionId, minLength: 1) {
            throw APIError(.badRequest, "invalid_value", "session_id must be 1 to 64 characters of A-Z a-z 0-9 _ -", field: "session_id")
        }
        let sentAt = try optionalTime(envelope, "sent_at", path: "sent_at")

        var contextJSON: String?
        if let value = envelope["context"], value != .null {
            guard let text = objectText(value) else {
                throw APIError(.badRequest, "invalid_type", "context must be an object, got \(value.typeName)", field: "context")
            }
            if text.utf8.count > limits.maxContextBytes {
                throw APIError(.badRequest, "context_too_large", "context is larger than \(limits.maxContextBytes) bytes", field: "context")
            }
            // `$` keys carry what the server verified (e.g. the App Proxy's customer); a client cannot send them.
            if let key = ServerContext.reservedKey(inContext: text) {
                throw APIError(.badRequest, "reserved_field", "context.\(truncate(key)) is reserved for the server (context keys starting with $)", field: "context.\(truncate(key))")
            }
            contextJSON = text
        }

        guard let eventsValue = envelope["events"] else {
            throw APIError(.badRequest, "missing_field", "events is required", field: "events")
        }
        guard case .array(let rawEvents) = eventsValue else {
            throw APIError(.badRequest, "invalid_type", "events must be an array, got \(eventsValue.typeName)", field: "events")
        }
        if rawEvents.isEmpty {
            throw APIError(.badRequest, "invalid_value", "events must contain at least one event", field: "events")
        }
        if rawEvents.count > limits.maxEventsPerBatch {
            throw APIError(.badRequest, "too_many_events", "a batch holds at most \(limits.maxEventsPerBatch) events, got \(rawEvents.count)", field: "events")
        }

        var events: [IncomingEvent] = []
        events.reserveCapacity(rawEvents.count)
        for (i, raw) in rawEvents.enumerated() {
            let path = "events[\(i)]"
            guard case .object(let event) = raw else {
                throw APIError(.badRequest, "invalid_type", "\(path) must be an object, got \(raw.typeName)", field: path)
            }
            try rejectUnknownKeys(event, allowed: eventKeys, path: path + ".")
            let id = try requiredString(event, "id", path: path + ".id")
            guard isEventId(id) else {
                throw APIError(.badRequest, "invalid_value", "\(path).id must be 1 to 64 characters of A-Z a-z 0-9 _ - . :", field: path + ".id")
            }
            let nameText = try requiredString(event, "name", path: path + ".name")
            guard let name = StorefrontEventName(rawValue: nameText) else {
                throw APIError(.badRequest, "unknown_event_name", "\(path).name '\(truncate(nameText))' is not a known event; known: \(StorefrontEventName.list)", field: path + ".name")
            }
            let time = try optionalTime(event, "time", path: path + ".time")
            var propertiesJSON = "{}"
            if let value = event["properties"], value != .null {
                guard let text = objectText(value) else {
                    throw APIError(.badRequest, "invalid_type", "\(path).properties must be an object, got \(value.typeName)", field: path + ".properties")
                }
                propertiesJSON = text
                let size = propertiesJSON.utf8.count
                if size > limits.maxPropertiesBytes {
                    throw APIError(.badRequest, "properties_too_large", "\(path).properties is \(size) bytes, more than \(limits.maxPropertiesBytes)", field: path + ".properties")
                }
            }
            events.append(IncomingEvent(id: id, name: name, clientTime: time, propertiesJSON: propertiesJSON))
        }
        return IncomingBatch(writeKey: writeKey, visitorId: visitorId, sessionId: sessionId, sentAt: sentAt, contextJSON: contextJSON, events: events)
    }

    /// The JSON text of an object value (verbatim when the parser kept it raw), or nil for other types.
    private static func objectText(_ value: JSONValue) -> String? {
        switch value {
        case .rawObject(let text): text
        case .object: value.serialized
        default: nil
        }
    }

    private static func rejectUnknownKeys(_ object: JSONObject, allowed: Set<String>, path: String) throws(APIError) {
        for key in object.keys where !allowed.contains(key) {
            throw APIError(.badRequest, "unknown_field", "\(path)\(truncate(key)) is not a known field", field: path + truncate(key))
        }
    }

    private static func requiredString(_ object: JSONObject, _ key: String, path: String) throws(APIError) -> String {
        guard let value = object[key], value != .null else {
            throw APIError(.badRequest, "missing_field", "\(path) is required", field: path)
        }
        guard case .string(let s) = value else {
            throw APIError(.badRequest, "invalid_type", "\(path) must be a string, got \(value.typeName)", field: path)
        }
        if s.isEmpty { throw APIError(.badRequest, "invalid_value", "\(path) must not be empty", field: path) }
        return s
    }

    private static func optionalString(_ object: JSONObject, _ key: String, path: String) throws(APIError) -> String? {
        guard let value = object[key], value != .null else { return nil }
        guard case .string(let s) = value else {
            throw APIError(.badRequest, "invalid_type", "\(path) must be a string, got \(value.typeName)", field: path)
        }
        return s
    }

    private static func optionalTime(_ object: JSONObject, _ key: String, path: String) throws(APIError) -> EpochMillis? {
        guard let text = try optionalString(object, key, path: path) else { return nil }
        guard let millis = Timestamp.parse(text) else {
            throw APIError(.badRequest, "invalid_value", "\(path) must be an ISO 8601 time like 2026-11-23T10:00:00.000Z", field: path)
        }
        return millis
    }

    static func isIdentifier(_ s: String, minLength: Int) -> Bool {
        let utf8 = s.utf8
        guard utf8.count >= minLength, utf8.count <= 64 else { return false }
        return utf8.allSatisfy { b in
            (b >= 48 && b <= 57) || (b >= 65 && b <= 90) || (b >= 97 && b <= 122) || b == UInt8(ascii: "_") || b == UInt8(ascii: "-")
        }
    }

    static func isEventId(_ s: String) -> Bool {
        let utf8 = s.utf8
        guard !utf8.isEmpty, utf8.count <= 64 else { return false }
        return utf8.allSatisfy { b in
            (b >= 48 && b <= 57) || (b >= 65 && b <= 90) || (b >= 97 && b <= 122)
                || b == UInt8(ascii: "_") || b == UInt8(ascii: "-") || b == UInt8(ascii: ".") || b == UInt8(ascii: ":")
        }
    }

    /// Echoing attacker-controlled text back is fine in JSON, but keep it short.
    static func truncate(_ s: String) -> String {
        s.count > 64 ? String(s.prefix(64)) + "…" : s
    }
}

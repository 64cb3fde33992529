import Foundation

/// Asks Braze which external ids already exist (`POST /users/export/ids`, 50 ids per request), so the
/// backfill sets subscription states only on users it creates.
///
/// Rate limits are a reason to wait, never to decide: a 429 waits as Braze says (`Retry-After`, else until
/// `X-RateLimit-Reset`, bounded, with jitter) and asks again for as long as `Policy.rateLimitDeadline` allows;
/// `X-RateLimit-Remaining: 0` paces the next request until the reset. 5xx and transport failures get a few
/// bounded exponential retries. When Braze cannot answer, `existing` throws: nobody is classified.
public struct BrazeUserLookup: Sendable {
    let sender: any BrazeSending
    let policy: Policy
    /// Braze's limit of identifiers per export request.
    static let batchSize = 50

    /// How long and how often the lookup waits; `sleep` and `now` are injectable so tests do not wait for real.
    public struct Policy: Sendable {
        /// The longest one export request keeps being answered 429 before the lookup fails.
        public var rateLimitDeadline: Duration = .seconds(20 * 60)
        /// The longest single wait (a `Retry-After` of an hour is asked again after this; Braze answers 429 again if need be).
        public var maxWait: Duration = .seconds(90)
        /// Waits without any hint from Braze (429 without headers) start here.
        public var fallbackWait: Duration = .seconds(1)
        /// Extra wait on top of Braze's, as a fraction of it (spreads clients that share a window).
        public var jitter = 0.1
        /// Retries after 5xx, 408 and transport failures (then the lookup fails), with backoff base × 2^n, capped.
        public var transportRetries = 4
        public var backoffBase: Duration = .milliseconds(500)
        public var backoffMax: Duration = .seconds(15)
        public var sleep: @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }
        public var now: @Sendable () -> Date = { Date() }
        /// A number in 0..<1 for the jitter.
        public var random: @Sendable () -> Double = { Double.random(in: 0..<1) }

        public init() {}
    }

    /// Requests made and answers seen, kept across the calls of one run (and the pacing they imply).
    public struct Tally: Sendable, Equatable {
        public var requests = 0
        public var rateLimited = 0
        public var failures = 0
        /// Waited in total (ms), as asked of `sleep`.
        public var waitedMillis: Int64 = 0
        /// `X-RateLimit-Remaining` reached 0: the next request waits until then.
        var notBefore: Date?

        public init() {}
    }

    /// Why Braze could not say which users exist; the chunk fails and a re-run asks again.
    public enum Failure: Error, Equatable, CustomStringConvertible {
        /// Still 429 after the deadline.
        case rateLimited(waited: Duration, answers: Int)
        /// 5xx / transport failures after the retries.
        case unavailable(String)
        /// Another 4xx (e.g. the key lacks `users.export.ids`): waiting does not help.
        case rejected(status: Int, message: String)
        /// A 2xx whose body is not the documented `{"users": [...]}`.
        case unreadableAnswer

        public var description: String {
            switch self {
            case .rateLimited(let waited, let answers):
                "braze /users/export/ids still rate limited after \(answers) answers 429 over \(waited.components.seconds) s"
            case .unavailable(let reason): "braze /users/export/ids unavailable: \(reason)"
            case .rejected(let status, let message): "braze /users/export/ids refused (\(status)): \(message)"
            case .unreadableAnswer: "braze /users/export/ids answered without a users list"
            }
        }
    }

    public init(sender: any BrazeSending, policy: Policy = Policy()) {
        self.sender = sender
        self.policy = policy
    }

    /// The ids of `externalIds` that Braze knows. Throws `Failure` (or `CancellationError`) when Braze could not answer.
    func existing(_ externalIds: [String], tally: inout Tally) async throws -> Set<String> {
        var known = Set<String>()
        var start = 0
        while start < externalIds.count {
            let batch = Array(externalIds[start..<min(externalIds.count, start + Self.batchSize)])
            start += Self.batchSize
            let body = JSONValue.object(JSONObject([
                ("external_ids", .array(batch.map(JSONValue.string))), ("fields_to_export", .array([.string("external_id")])),
            ]))
            let answer = try await ask(Array(body.serialized.utf8), tally: &tally)
            guard let root = (try? JSONParser.parse(answer, maxDepth: 32))?.objectValue, let users = root["users"]?.arrayValue else {
                throw Failure.unreadableAnswer
            }
            for user in users {
                if let id = user.objectValue?["external_id"]?.stringValue { known.insert(id) }
            }
        }
        return known
    }

    /// One export request until Braze answers it: the answer's body.
    private func ask(_ body: [UInt8], tally: inout Tally) async throws -> [UInt8] {
        var limitedSince: Date?
        var limitedAnswers = 0
        var failures = 0
        while true {
            try Task.checkCancellation()
            if let notBefore = tally.notBefore {
                tally.notBefore = nil
                try await wait(notBefore.timeIntervalSince(policy.now()), tally: &tally)
            }
            tally.requests += 1
            let answer = await sender.send(BrazeRequest(.usersExportIds, body: body))
            switch answer.response {
            case .success:
                // The window is spent: the next request waits for its reset instead of collecting a 429.
                if answer.rateLimit?.remaining == 0, let reset = answer.rateLimit?.resetAt { tally.notBefore = reset }
                return answer.body
            case .rateLimited:
                tally.rateLimited += 1
                limitedAnswers += 1
                let now = policy.now()
                let since = limitedSince ?? now
                limitedSince = since
                let waited = now.timeIntervalSince(since)
                guard waited < policy.rateLimitDeadline.inSeconds else {
                    throw Failure.rateLimited(waited: .milliseconds(Int64.boundedMillis(waited * 1000, limit: 86_400_000)), answers: limitedAnswers)
                }
                let hinted = answer.response.rateLimitWait(from: now)
                // Never past the deadline by more than one short wait: the last ask happens at the deadline.
                let remaining = policy.rateLimitDeadline.inSeconds - waited
                let asked = hinted ?? policy.fallbackWait.inSeconds * Double(1 << min(limitedAnswers - 1, 6))
                // A hint in the past (clocks disagree) still waits a moment: no burst of requests into a closed window.
                try await wait(max(0.1, min(asked, remaining)), tally: &tally)
            case .retryable(let status, let reason):
                tally.failures += 1
                failures += 1
                guard failures <= policy.transportRetries else {
                    throw Failure.unavailable("\(status.map { "HTTP \($0)" } ?? "no answer"): \(reason) (after \(failures) tries)")
                }
                let backoff = min(policy.backoffMax.inSeconds, policy.backoffBase.inSeconds * Double(1 << min(failures - 1, 20)))
                try await wait(backoff, tally: &tally)
            case .rejected(let status, let message):
                throw Failure.rejected(status: status, message: message)
            }
        }
    }

    /// Sleeps `seconds` (bounded to `maxWait`, at least a moment) plus jitter.
    private func wait(_ seconds: Double, tally: inout Tally) async throws {
        guard seconds.isFinite, seconds > 0 else { return }
        let bounded = min(seconds, policy.maxWait.inSeconds)
        let jittered = bounded * (1 + max(0, policy.jitter) * min(max(policy.random(), 0), 1))
        let millis = Int64.boundedMillis(jittered * 1000, limit: 86_400_000)
        tally.waitedMillis += millis
        try await policy.sleep(.milliseconds(millis))
    }
}

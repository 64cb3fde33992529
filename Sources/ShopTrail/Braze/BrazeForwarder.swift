import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Sends one request to Braze and classifies the answer (the `BrazeClient`; tests use it against the sandbox).
public protocol BrazeSending: Sendable {
    func send(_ request: BrazeRequest) async -> BrazeAnswer
}

extension BrazeClient: BrazeSending {}

/// How the forwarder paces and retries.
public struct ForwarderSettings: Sendable {
    public var packer = BrazeRequestPacker()
    /// Per-shop packers (a shop's Braze account may take 50 objects per `/users/track` request, not 75).
    public var shopPackers: [String: BrazeRequestPacker] = [:]
    /// Entries claimed per round: enough to fill one request when some users' entries must wait for others.
    public var claimLimit = 300
    /// A request that is not full waits this long for more operations, unless its oldest is older.
    public var lingerMillis: EpochMillis = 200
    /// How long a claim protects operations from another claimer.
    public var leaseMillis: EpochMillis = 60_000
    /// Longest wait when a shop's outbox is empty; an enqueue in this process wakes the forwarder at once,
    /// the timeout covers writers in other processes (`shoptrail backfill`, `catalog sync`).
    public var idlePollMillis: EpochMillis = 1_000
    /// Requests in flight at once per shop.
    public var concurrency = 4
    /// Exponential backoff after 5xx, timeouts and connection failures: base × 2^n, capped, ±20 % jitter.
    /// The cap bounds how long after an outage ends the backlog starts draining.
    public var backoffBaseMillis: EpochMillis = 1_000
    public var backoffMaxMillis: EpochMillis = 30_000
    /// Pause after Braze refuses the API key (401/403): the operator has to fix the key.
    public var badKeyPauseMillis: EpochMillis = 300_000
    /// Requests per minute per shop and path, under Braze's documented limits (`/users/track` 50,000;
    /// identify, alias/new and delete share 20,000; `POST /catalogs` 50 shared by the synchronous
    /// catalog endpoints; the asynchronous catalog item endpoints share 16,000); 2 % headroom for
    /// clocks that disagree. Catalog item paths of every catalog count under `catalogItemsPathKey`.
    public var requestsPerMinute: [String: Double] = [
        BrazeEndpoint.usersTrack.path: 49_000,
        BrazeEndpoint.usersIdentify.path: 6_500,
        BrazeEndpoint.usersAliasNew.path: 6_500,
        BrazeEndpoint.usersDelete.path: 6_500,
        BrazeEndpoint.usersMerge.path: 6_500,
        BrazeEndpoint.catalogs.path: 49,
        ForwarderSettings.catalogItemsPathKey: 15_680,
    ]
    /// The `requestsPerMinute` key of `/catalogs/{name}/items`, whatever the catalog.
    public static let catalogItemsPathKey = "/catalogs/{catalog_name}/items"
    /// For paths not listed above.
    public var defaultRequestsPerMinute: Double = 2_400

    public init() {}

    /// The packer for a shop's requests.
    public func packer(for shop: String) -> BrazeRequestPacker { shopPackers[shop] ?? packer }

    /// Settings for these shops, each packed to its own `/users/track` limit.
    public init(shops: [ShopConfig]) {
        for shop in shops where shop.braze.trackObjectsPerRequest != packer.maxTrackObjects {
            var shopPacker = packer
            shopPacker.maxTrackObjects = shop.braze.trackObjectsPerRequest
            shopPackers[shop.domain] = shopPacker
        }
    }
}

/// Drains the outbox to Braze, shop by shop: packs requests, paces them, retries what failed for
/// a reason that passes, and dead-letters what Braze rejected for good. At least once: an operation
/// leaves the outbox only after Braze's answer for it.
public final class BrazeForwarder: Service {
    private let outbox: any Outbox
    private let senders: [String: any BrazeSending]
    private let clock: any WallClock
    private let settings: ForwarderSettings
    private let logger: Logger
    /// Counts answers for the console and `/metrics` (in memory; the delivery log is written with the outbox).
    private let signals: OperatorSignals?
    private let pacing = Mutex<[String: ShopPacing]>([:])
    /// The spacing of the fastest path: each round reserves at least this much of the shop's rate.
    private let minSpacing: EpochMillis

    /// Per-shop state: when the shop may send again, and how many failures in a row.
    struct ShopPacing {
        var notBefore: EpochMillis = 0
        /// Until when the shop is backing off after a failure; requests in flight that fail meanwhile count once.
        var backoffUntil: EpochMillis = 0
        var failures = 0
        /// Rounds left that send one operation each, to isolate the one a whole request was refused for.
        var soloRounds = 0
    }

    /// What one round did, for tests and logs.
    public struct Round: Sendable, Equatable {
        public var delivered = 0
        public var deadLettered = 0
        public var retried = 0
        public var sent = false
        /// Nothing was claimable (the outbox has nothing due for the shop).
        public var empty = false
        /// Not sent because the request was lingering to fill up: when the linger ends.
        public var lingerUntil: EpochMillis?
    }

    /// `senders` maps shop domains to their Braze client; shops without one are not drained.
    public init(outbox: any Outbox, senders: [String: any BrazeSending], clock: any WallClock = SystemClock(), settings: ForwarderSettings = .init(), logger: Logger,
                signals: OperatorSignals? = nil) {
        self.signals = signals
        self.outbox = outbox
        self.senders = senders
        self.clock = clock
        self.settings = settings
        self.logger = logger
        self.minSpacing = EpochMillis(60_000 / max(settings.requestsPerMinute.values.max() ?? settings.defaultRequestsPerMinute, 0.001))
    }

    public func run() async throws {
        // Stop between requests on graceful shutdown; what is unsent stays in the outbox.
        await cancelWhenGracefulShutdown {
            await self.releaseOldClaims()
            await withTaskGroup(of: Void.self) { group in
                for shop in self.senders.keys.sorted() {
                    // Several requests in flight per shop: Braze's latency, not its rate limit, would
                    // otherwise bound throughput. Claims keep each user's operations in one request at a time.
                    for _ in 0..<max(1, self.settings.concurrency) {
                        group.addTask { await self.work(shop: shop) }
                    }
                }
            }
        }
    }

    /// Releases this instance's claims from an earlier run, retrying with backoff while the store is
    /// unreachable: a throw here would end the forwarder (and the service group) for good.
    func releaseOldClaims() async {
        var wait = Duration.milliseconds(500)
        while !Task.isCancelled {
            do {
                try await outbox.releaseClaims()
                return
            } catch {
                logger.error("forwarder could not release its old claims; retrying", metadata: ["error": "\(error)", "retry_in": "\(wait)"])
                try? await Task.sleep(for: wait)
                wait = min(wait * 2, .seconds(10))
            }
        }
    }

    /// One worker's loop for a shop: send while there is something to send, else sleep until it may.
    private func work(shop: String) async {
        while !Task.isCancelled {
            var sent = false, empty = false
            var lingerUntil: EpochMillis?
            do {
                let round = try await round(shop: shop)
                (sent, empty, lingerUntil) = (round.sent, round.empty, round.lingerUntil)
            } catch {
                logger.error("outbox round failed", metadata: ["shop": .string(shop), "error": "\(type(of: error))"])
            }
            if sent { continue }
            if empty {
                // Nothing to send: wait for an enqueue rather than polling.
                await outbox.waitForWork(timeout: .milliseconds(settings.idlePollMillis))
                continue
            }
            let now = clock.now()
            let notBefore = pacing.withLock { $0[shop]?.notBefore ?? 0 }
            // Lingering: come back when the linger ends (or the pacing slot opens, if later), not after an idle poll:
            // the round's own claim and release may have taken longer than the slot's spacing.
            let until = max(notBefore, lingerUntil ?? 0)
            let wait = until > now ? min(settings.idlePollMillis, until - now) : (lingerUntil == nil ? settings.idlePollMillis : 1)
            try? await Task.sleep(for: .milliseconds(max(1, wait)))
        }
    }

    /// One request's worth for `shop` (or nothing, when paused, empty or lingering).
    public func round(shop: String) async throws -> Round {
        guard let sender = senders[shop] else { return Round() }
        let now = clock.now()
        // Reserve this request's slot under the rate limit before claiming, so concurrent workers space out.
        let slot: (free: Bool, solo: Bool) = pacing.withLock { state in
            var shopPacing = state[shop, default: ShopPacing()]
            guard shopPacing.notBefore <= now else { return (false, false) }
            shopPacing.notBefore = now + minSpacing
            state[shop] = shopPacing
            return (true, shopPacing.soloRounds > 0)
        }
        guard slot.free else { return Round() }
        let solo = slot.solo
        let claimed = try await outbox.claim(shop: shop, now: now, limit: solo ? 1 : settings.claimLimit, leaseMillis: settings.leaseMillis)
        let packer = settings.packer(for: shop)
        guard let packed = packer.pack(claimed) else { return Round(empty: true) }
        if solo { pace(shop) { $0.soloRounds -= 1 } }
        let oldest = packed.carried.map(\.operation.createdAt).min() ?? now
        if !solo, packed.leftover.isEmpty, claimed.count < settings.claimLimit, packed.carried.count < packed.capacity, now - oldest < settings.lingerMillis {
            try await outbox.release(claimed.map(\.seq))  // linger: let the request fill up
            return Round(lingerUntil: oldest + settings.lingerMillis)
        }
        try await outbox.release(packed.leftover.map(\.seq))
        let started = ContinuousClock.now
        let answer = await sender.send(packed.request)
        var round = Round(sent: true)
        let seqs = packed.carried.map(\.seq)
        let sentAt = clock.now()
        let endpoint = "\(packed.request.method.rawValue) \(packed.request.path)"
        signals?.brazeAnswered(shop: shop, endpoint: endpoint, answer: answer, latency: ContinuousClock.now - started, at: sentAt)
        let receipt = { (outcome: String) in
            DeliveryReceipt(endpoint: endpoint, status: answer.status, outcome: outcome, response: answer.summary, at: sentAt)
        }
        switch answer.response {
        case .success(_, let minorErrors):
            let rejected = rejectedSeqs(minorErrors, packed)
            for (seq, reason) in rejected {
                try await outbox.deadLetter([seq], reason: reason, now: sentAt, receipt: receipt("dead"))
            }
            let delivered = seqs.filter { rejected[$0] == nil }
            try await outbox.complete(delivered, receipt: receipt("delivered"))
            round.delivered = delivered.count
            round.deadLettered = rejected.count
            let spacing = interval(answer.rateLimit, path: packed.request.path, now: sentAt)
            pace(shop) { $0.failures = 0; $0.notBefore = max($0.notBefore, sentAt + spacing) }
        case .rateLimited:
            let sent = Date(timeIntervalSince1970: Double(sentAt) / 1000)
            let wait = answer.response.rateLimitWait(from: sent).map { Int64.boundedMillis($0 * 1000) } ?? settings.backoffBaseMillis
            try await outbox.retry(seqs, at: sentAt + wait, error: "429 rate limited")
            pace(shop) { $0.notBefore = sentAt + wait }
            round.retried = seqs.count
            logger.notice("braze rate limit", metadata: ["shop": .string(shop), "wait_ms": "\(wait)"])
        case .retryable(let status, let reason):
            let wait = backoff(shop, at: sentAt)
            try await outbox.retry(seqs, at: sentAt + wait, error: "\(status.map(String.init) ?? "no answer"): \(reason)")
            pace(shop) { $0.notBefore = sentAt + wait }
            round.retried = seqs.count
            logger.warning("braze unavailable, backing off", metadata: ["shop": .string(shop), "status": "\(status.map(String.init) ?? "none")", "wait_ms": "\(wait)"])
        case .rejected(let status, _) where status != 401 && status != 403 && isCatalog(packed):
            round = try await catalogRejected(answer, status: status, packed: packed, shop: shop, at: sentAt)
        case .rejected(let status, let message) where status == 401 || status == 403:
            // A wrong or under-privileged key is the operator's to fix; the operations are fine.
            let wait = settings.badKeyPauseMillis
            try await outbox.retry(seqs, at: sentAt + wait, error: "\(status): \(message)")
            pace(shop) { $0.notBefore = sentAt + wait }
            round.retried = seqs.count
            logger.error("braze refused the API key", metadata: ["shop": .string(shop), "status": "\(status)"])
        case .rejected(let status, let message):
            if packed.carried.count == 1 {
                try await outbox.deadLetter(seqs, reason: "\(status): \(message)", now: sentAt, receipt: receipt("dead"))
                round.deadLettered = 1
            } else {
                // The whole request was refused: find the culprit by sending each operation alone.
                try await outbox.retry(seqs, at: sentAt, error: "\(status): \(message)")
                round.retried = seqs.count
                pace(shop) { $0.soloRounds = packed.carried.count }
            }
        }
        return round
    }

    private func isCatalog(_ packed: BrazeRequestPacker.Packed) -> Bool {
        guard let kind = packed.carried.first?.operation.kind else { return false }
        return kind == .catalogCreate || kind == .catalogUpsert || kind == .catalogDelete
    }

    /// A catalog request Braze refused. Catalog endpoints refuse whole requests but name the cause:
    /// "already exists" answers a create (done); a missing catalog dead-letters the request's items
    /// (nothing to isolate); errors naming item ids dead-letter those items only and send the rest
    /// again; anything else is isolated one operation per request like other refusals.
    private func catalogRejected(_ answer: BrazeAnswer, status: Int, packed: BrazeRequestPacker.Packed, shop: String, at sentAt: EpochMillis) async throws -> Round {
        var round = Round(sent: true)
        let seqs = packed.carried.map(\.seq)
        let errors = answer.catalogErrors
        let reason = "\(status): " + (errors.isEmpty ? "catalog request refused" : errors.map { "\($0.id) \($0.message)" }.joined(separator: "; "))
        if packed.carried.first?.operation.kind == .catalogCreate {
            if errors.contains(where: { $0.id == BrazeCatalogError.alreadyExists }) {
                try await outbox.complete(seqs)
                round.delivered = seqs.count
            } else {
                try await outbox.deadLetter(seqs, reason: reason, now: sentAt)
                round.deadLettered = seqs.count
                logger.error("braze refused to create the catalog", metadata: ["shop": .string(shop), "reason": .string(reason)])
            }
            return round
        }
        if errors.contains(where: { $0.id == BrazeCatalogError.catalogNotFound }) {
            try await outbox.deadLetter(seqs, reason: reason, now: sentAt)
            round.deadLettered = seqs.count
            logger.error("braze catalog not found: items dead-lettered (run `shoptrail catalog sync --force`, then `shoptrail outbox retry-dead`)",
                         metadata: ["shop": .string(shop), "path": .string(packed.request.path)])
            return round
        }
        var refused: [Int64: String] = [:]
        for error in errors where BrazeCatalogError.itemIdErrors.contains(error.id) {
            let named = Set(error.parameterValues)
            for entry in packed.carried {
                if let itemId = CatalogKey.parseItem(entry.operation.userKey)?.itemId, named.contains(itemId) {
                    refused[entry.seq] = "\(status): \(error.id) \(error.message)"
                }
            }
        }
        if refused.isEmpty {
            if packed.carried.count == 1 {
                try await outbox.deadLetter(seqs, reason: reason, now: sentAt)
                round.deadLettered = 1
            } else {
                try await outbox.retry(seqs, at: sentAt, error: reason)
                round.retried = seqs.count
                pace(shop) { $0.soloRounds = packed.carried.count }
            }
            return round
        }
        for (seq, why) in refused { try await outbox.deadLetter([seq], reason: why, now: sentAt) }
        // The others were refused only for company: they go again, without counting an attempt.
        try await outbox.release(seqs.filter { refused[$0] == nil })
        round.deadLettered = refused.count
        round.retried = seqs.count - refused.count
        return round
    }

    /// The seqs Braze's minor errors name, with their reason.
    private func rejectedSeqs(_ errors: [BrazeMinorError], _ packed: BrazeRequestPacker.Packed) -> [Int64: String] {
        var bySlot: [String: Int64] = [:]
        for (seq, position) in packed.positions { bySlot["\(position.array)#\(position.index)"] = seq }
        var rejected: [Int64: String] = [:]
        for error in errors {
            guard let array = error.inputArray, let index = error.index, let seq = bySlot["\(array)#\(index)"] else { continue }
            rejected[seq] = error.message
        }
        return rejected
    }

    /// Spacing between requests, paced by Braze's `X-RateLimit-*` headers: what is left of the window is
    /// spread over the time left until it resets (the key's budget is shared with every other app using
    /// it), never faster than the configured rate; none left waits for the reset.
    func interval(_ info: BrazeRateLimitInfo?, path: String, now: EpochMillis) -> EpochMillis {
        let key = path.hasPrefix("/catalogs/") && path.hasSuffix("/items") ? ForwarderSettings.catalogItemsPathKey : path
        let perMinute = settings.requestsPerMinute[key] ?? settings.defaultRequestsPerMinute
        let configured = EpochMillis(60_000 / max(perMinute, 0.001))
        guard let info, let remaining = info.remaining, let reset = info.resetAt else { return configured }
        // Bounded: the header is outside data, and a reset far away must not trap or stall for ever.
        let untilReset = Int64.boundedMillis(reset.timeIntervalSince1970 * 1000 - Double(now))
        guard remaining > 0 else { return untilReset }
        return max(configured, untilReset / EpochMillis(remaining))
    }

    /// The wait after a failure at `now`. Concurrent requests failing in one outage step the backoff once.
    private func backoff(_ shop: String, at now: EpochMillis) -> EpochMillis {
        pacing.withLock { state in
            var shopPacing = state[shop, default: ShopPacing()]
            defer { state[shop] = shopPacing }
            if shopPacing.backoffUntil > now { return shopPacing.backoffUntil - now }
            shopPacing.failures += 1
            let exponential = settings.backoffBaseMillis << min(shopPacing.failures - 1, 20)
            let capped = min(exponential, settings.backoffMaxMillis)
            let wait = EpochMillis(Double(capped) * Double.random(in: 0.8...1.2))
            shopPacing.backoffUntil = now + wait
            return wait
        }
    }

    private func pace(_ shop: String, _ update: (inout ShopPacing) -> Void) {
        pacing.withLock { update(&$0[shop, default: ShopPacing()]) }
    }
}

import Foundation
import HTTPTypes
import NIOCore
import NIOHTTPTypes
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Open connections of the server, against a cap set below the process's descriptor limit.
public final class ConnectionCounter: Sendable {
    public let limit: Int
    private let count = Atomic<Int>(0)

    public init(limit: Int) { self.limit = limit }

    /// Counts a new connection; false when it is beyond the cap.
    func open() -> Bool { count.add(1, ordering: .relaxed).newValue <= limit }
    func close() { count.subtract(1, ordering: .relaxed) }
    public var current: Int { count.load(ordering: .relaxed) }

    /// The configured cap, lowered so that connections can never take the descriptors the database,
    /// the log and outbound HTTP need: a quarter of the soft limit (32 to 256) stays free.
    public static func effectiveLimit(configured: Int) -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur != rlim_t.max else { return configured }
        let soft = Int(clamping: limit.rlim_cur)
        let reserve = min(256, max(32, soft / 4))
        return max(16, min(configured, soft - reserve))
    }

    /// Raises the soft descriptor limit to the hard one (as servers do at start); returns the soft limit now.
    @discardableResult
    public static func raiseDescriptorLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 0 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        return Int(clamping: limit.rlim_cur)
    }
}

/// Per connection: counts it against the cap (a request beyond it is answered 503 and the
/// connection closed) and drops a request whose head and body do not arrive within the request
/// timeout, so slow or stalled senders cannot hold connections for long. Idle connections are
/// closed by Hummingbird's idle timeout.
final class ConnectionGuard: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundOut = HTTPResponsePart

    private let counter: ConnectionCounter
    private let requestTimeout: TimeAmount
    private var counted = false
    private var overCap = false
    private var refused = false
    private var deadline: Scheduled<Void>?

    init(counter: ConnectionCounter, requestTimeout: TimeAmount) {
        self.counter = counter
        self.requestTimeout = requestTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        counted = true
        overCap = !counter.open()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
        if counted {
            counted = false
            counter.close()
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !refused else { return }
        let part = unwrapInboundIn(data)
        if overCap {
            if case .head = part { refuse(context) }
            return
        }
        switch part {
        case .head:
            deadline?.cancel()
            let channel = context.channel
            deadline = context.eventLoop.scheduleTask(in: requestTimeout) { channel.close(promise: nil) }
        case .body:
            break
        case .end:
            deadline?.cancel()
            deadline = nil
        }
        context.fireChannelRead(data)
    }

    /// 503 with a JSON reason, then close: the client learns why, and the slot is freed at once.
    private func refuse(_ context: ChannelHandlerContext) {
        refused = true
        let body = #"{"error":"too_many_connections","message":"the server holds its maximum of open connections; retry shortly"}"#
        var fields = HTTPFields()
        fields[.contentType] = "application/json; charset=utf-8"
        fields[.contentLength] = String(body.utf8.count)
        fields[.retryAfter] = "1"
        fields[.connection] = "close"
        context.write(wrapOutboundOut(.head(HTTPResponse(status: .serviceUnavailable, headerFields: fields))), promise: nil)
        context.write(wrapOutboundOut(.body(ByteBuffer(string: body))), promise: nil)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    }
}

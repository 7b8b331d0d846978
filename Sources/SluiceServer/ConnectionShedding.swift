import HTTPTypes
import NIOCore
import NIOHTTPTypes
import Synchronization

/// Keeps `http.max_connections` for clients that are talking: when a new connection takes the count over the
/// limit, the connection that has waited longest for its next request head (a slow-header attacker, or an idle
/// keep-alive connection) is closed to make room. Connections in the middle of a request are never shed. The
/// accept loop itself stops at twice the limit, so the process's descriptors stay bounded whatever happens.
final class ConnectionShedder: Sendable {
    let limit: Int
    private let state = Mutex(State())

    private struct Waiting {
        var channel: any Channel
        var since: NIODeadline
    }

    private struct State {
        var open = 0
        var waiting: [ObjectIdentifier: Waiting] = [:]
        var shed = 0
    }

    init(limit: Int) {
        self.limit = limit
    }

    /// Connections closed to make room so far.
    var shedCount: Int { state.withLock { $0.shed } }

    func opened(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        let victim: (any Channel)? = state.withLock { state in
            state.open += 1
            state.waiting[id] = Waiting(channel: channel, since: .now())
            guard state.open > limit else { return nil }
            var oldest: (key: ObjectIdentifier, value: Waiting)?
            for entry in state.waiting where entry.key != id {
                if oldest == nil || entry.value.since < oldest!.value.since { oldest = entry }
            }
            guard let oldest else { return nil }
            state.waiting[oldest.key] = nil
            state.shed += 1
            return oldest.value.channel
        }
        victim?.close(promise: nil)
    }

    func requestStarted(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        _ = state.withLock { $0.waiting.removeValue(forKey: id) }
    }

    func responseEnded(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        state.withLock { $0.waiting[id] = Waiting(channel: channel, since: .now()) }
    }

    func closed(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        state.withLock { state in
            state.open -= 1
            state.waiting[id] = nil
        }
    }
}

/// The per-connection half of ``ConnectionShedder``, placed after the HTTP codec. It also enforces
/// `http.header_timeout_s`: a connection whose request head is not complete in time is closed.
final class ConnectionSheddingHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    let shedder: ConnectionShedder
    /// From the connection opening to its first request head.
    let headerTimeout: TimeAmount
    /// From the end of a response to the next request head (the keep-alive idle time plus `headerTimeout`).
    let nextHeaderTimeout: TimeAmount
    private var counted = false
    private var deadline: Scheduled<Void>?

    init(shedder: ConnectionShedder, headerTimeout: TimeAmount, nextHeaderTimeout: TimeAmount) {
        self.shedder = shedder
        self.headerTimeout = headerTimeout
        self.nextHeaderTimeout = nextHeaderTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { opened(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        opened(context)
        context.fireChannelActive()
    }

    private func opened(_ context: ChannelHandlerContext) {
        guard !counted else { return }
        counted = true
        shedder.opened(context.channel)
        armDeadline(context, in: headerTimeout)
    }

    private func armDeadline(_ context: ChannelHandlerContext, in amount: TimeAmount) {
        deadline?.cancel()
        let channel = context.channel
        deadline = context.eventLoop.scheduleTask(in: amount) { channel.close(promise: nil) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head = unwrapInboundIn(data) {
            deadline?.cancel()
            deadline = nil
            shedder.requestStarted(context.channel)
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) {
            shedder.responseEnded(context.channel)
            armDeadline(context, in: nextHeaderTimeout)
        }
        context.write(data, promise: promise)
    }

    func channelInactive(context: ChannelHandlerContext) {
        released(context.channel)
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        released(context.channel)
    }

    private func released(_ channel: any Channel) {
        deadline?.cancel()
        deadline = nil
        if counted {
            counted = false
            shedder.closed(channel)
        }
    }
}

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

/// The per-connection half of ``ConnectionShedder``, placed after the HTTP codec.
final class ConnectionSheddingHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    let shedder: ConnectionShedder
    private var counted = false

    init(shedder: ConnectionShedder) {
        self.shedder = shedder
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { count(context.channel) }
    }

    func channelActive(context: ChannelHandlerContext) {
        count(context.channel)
        context.fireChannelActive()
    }

    private func count(_ channel: any Channel) {
        guard !counted else { return }
        counted = true
        shedder.opened(channel)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head = unwrapInboundIn(data) { shedder.requestStarted(context.channel) }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { shedder.responseEnded(context.channel) }
        context.write(data, promise: promise)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if counted {
            counted = false
            shedder.closed(context.channel)
        }
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        if counted {
            counted = false
            shedder.closed(context.channel)
        }
    }
}

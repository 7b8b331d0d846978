import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A small HTTP/1.1 server on 127.0.0.1, port 0, for the metadata-endpoint and retry tests.
/// Every request is recorded; the handler decides the answer.
final class LocalHTTPServer: Sendable {
    struct Request: Sendable {
        var method: HTTPMethod
        var uri: String
        var headers: HTTPHeaders
        var body: [UInt8]
    }

    struct Response: Sendable {
        var status: HTTPResponseStatus
        var headers: [(String, String)] = []
        var body: [UInt8] = []

        init(status: HTTPResponseStatus, headers: [(String, String)] = [], body: String = "") {
            self.status = status
            self.headers = headers
            self.body = Array(body.utf8)
        }
    }

    typealias Handler = @Sendable (Request) -> Response

    private let channel: any Channel
    private let recorded = Mutex<[Request]>([])
    let port: Int

    var requests: [Request] { self.recorded.withLock { $0 } }
    var baseURL: String { "http://127.0.0.1:\(self.port)" }

    private init(channel: any Channel) {
        self.channel = channel
        self.port = channel.localAddress?.port ?? 0
    }

    static func start(_ handler: @escaping Handler) async throws -> LocalHTTPServer {
        let box = ServerBox()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap {
                    channel.pipeline.addHandler(Handler_(handler: handler, record: { request in box.server?.record(request) }))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        let server = LocalHTTPServer(channel: channel)
        box.server = server
        return server
    }

    func record(_ request: Request) {
        self.recorded.withLock { $0.append(request) }
    }

    func stop() async throws {
        try await self.channel.close()
    }

    private final class ServerBox: @unchecked Sendable {
        // Written once before any connection is accepted.
        var server: LocalHTTPServer?
    }

    private final class Handler_: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        let handler: LocalHTTPServer.Handler
        let record: @Sendable (Request) -> Void
        var head: HTTPRequestHead?
        var body: [UInt8] = []

        init(handler: @escaping LocalHTTPServer.Handler, record: @escaping @Sendable (Request) -> Void) {
            self.handler = handler
            self.record = record
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch self.unwrapInboundIn(data) {
            case .head(let head):
                self.head = head
                self.body = []
            case .body(let buffer):
                self.body += Array(buffer.readableBytesView)
            case .end:
                guard let head = self.head else { return }
                let request = Request(method: head.method, uri: head.uri, headers: head.headers, body: self.body)
                self.record(request)
                let response = self.handler(request)
                var headers = HTTPHeaders(response.headers)
                headers.replaceOrAdd(name: "Content-Length", value: String(response.body.count))
                context.write(self.wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: response.status, headers: headers))), promise: nil)
                if head.method != .HEAD {
                    context.write(self.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: response.body)))), promise: nil)
                }
                context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
            }
        }
    }
}

import NIOCore
import NIOPosix
import NIOSSL

/// A TCP proxy on 127.0.0.1 that forwards to a server and breaks every connection after `cutAfter` bytes went from the
/// client to the server: the request body is cut off mid-way and both sides see the connection close. With `tls`, it
/// terminates TLS in front of the plain-HTTP server.
final class FaultProxy: Sendable {
    /// The port to connect to instead of the server's.
    let port: Int
    private let serverChannel: any Channel
    private let acceptLoop: Task<Void, Never>

    struct Cut: Error {}

    private init(port: Int, serverChannel: any Channel, acceptLoop: Task<Void, Never>) {
        self.port = port
        self.serverChannel = serverChannel
        self.acceptLoop = acceptLoop
    }

    static func start(upstreamPort: Int, cutAfter: Int, tls: NIOSSLContext? = nil) async throws -> FaultProxy {
        let group = MultiThreadedEventLoopGroup.singleton
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: "127.0.0.1", port: 0) { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls)) }
                    return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        let port = server.channel.localAddress?.port ?? 0
        let channel = server.channel
        let loop = Task<Void, Never> {
            _ = try? await withThrowingDiscardingTaskGroup { group in
                try await server.executeThenClose { inbound in
                    for try await connection in inbound {
                        group.addTask { await relay(connection, upstreamPort: upstreamPort, cutAfter: cutAfter) }
                    }
                }
            }
        }
        return FaultProxy(port: port, serverChannel: channel, acceptLoop: loop)
    }

    func stop() async {
        try? await serverChannel.close()
        acceptLoop.cancel()
        _ = await acceptLoop.value
    }

    private static func relay(_ client: NIOAsyncChannel<ByteBuffer, ByteBuffer>, upstreamPort: Int, cutAfter: Int) async {
        do {
            let upstream = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connect(host: "127.0.0.1", port: upstreamPort) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                    }
                }
            try await client.executeThenClose { clientIn, clientOut in
                try await upstream.executeThenClose { upstreamIn, upstreamOut in
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask {
                            var sent = 0
                            for try await var buffer in clientIn {
                                if sent + buffer.readableBytes >= cutAfter {
                                    if let head = buffer.readSlice(length: cutAfter - sent) { try await upstreamOut.write(head) }
                                    throw Cut()
                                }
                                sent += buffer.readableBytes
                                try await upstreamOut.write(buffer)
                            }
                        }
                        group.addTask {
                            for try await buffer in upstreamIn { try await clientOut.write(buffer) }
                        }
                        _ = try await group.next()
                        group.cancelAll()
                    }
                }
            }
        } catch {
            // The cut (or either side closing) ends the relay; executeThenClose has closed both channels.
        }
    }
}

import Foundation
import NIOHTTP1
import SluiceServer
import Testing

@Suite("http.max_connections sheds slow clients, live on port 0")
struct ConnectionSheddingTests {
    /// A TCP client on loopback that writes whatever it is told and reports whether the server closed it.
    final class RawConnection {
        let fd: Int32

        init(port: Int) throws {
            fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard result == 0 else { throw TestFailure("connect failed: \(errno)") }
            var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        }

        func send(_ text: String) {
            _ = text.utf8CString.withUnsafeBufferPointer { write(fd, $0.baseAddress, $0.count - 1) }
        }

        /// True when the server closed the connection: reads what the server sent until end of file (closed) or
        /// until nothing arrives for 200 ms (open).
        func closedByServer() -> Bool {
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = read(fd, &buffer, buffer.count)
                if n == 0 { return true }
                if n < 0 { return errno == ECONNRESET }
            }
        }

        deinit { close(fd) }
    }

    struct TestFailure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    @Test func aRequestHeadThatTakesTooLongClosesTheConnection() async throws {
        var configuration = LiveServer.configuration()
        configuration.server.headerTimeoutSeconds = 0.5
        try await LiveServer.with(configuration) { server in
            let slow = try RawConnection(port: server.port)
            let quiet = try RawConnection(port: server.port)
            slow.send("POST /v1/events HTTP/1.1\r\nHost: x\r\n")
            for _ in 0..<6 {  // a header line every 200 ms keeps the connection from being idle, not from the deadline
                slow.send("X-Slow: 1\r\n")
                try await Task.sleep(for: .milliseconds(200))
            }
            #expect(slow.closedByServer())
            #expect(quiet.closedByServer())
            let fine = try RawConnection(port: server.port)
            fine.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            try await Task.sleep(for: .milliseconds(700))
            #expect(!fine.closedByServer(), "a connection that sent a whole request keeps its keep-alive time")
        }
    }

    @Test func theOldestSlowHeaderConnectionMakesRoomForANewClient() async throws {
        var configuration = LiveServer.configuration()
        configuration.server.maxConnections = 4
        try await LiveServer.with(configuration) { server in
            var slow: [RawConnection] = []
            for _ in 0..<4 {
                let c = try RawConnection(port: server.port)
                c.send("POST /v1/events HTTP/1.1\r\nHost: x\r\n")  // a request head that never ends
                slow.append(c)
                try await Task.sleep(for: .milliseconds(50))
            }
            // Over the limit: the oldest slow connection is closed, and a client that talks is served.
            let r = try await server.request(.GET, "/health")
            #expect(r.status == 200)
            try await Task.sleep(for: .milliseconds(200))
            #expect(slow[0].closedByServer())
            #expect(!slow[3].closedByServer())
        }
    }
}

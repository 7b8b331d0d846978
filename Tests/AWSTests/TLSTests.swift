@testable import AWS
import AWSSigV4
import Foundation
import Logging
import Testing

/// An https endpoint whose certificate is not trusted must be refused before any request is
/// sent. The server is a few lines of Python (`ssl` plus `cryptography`, which moto brings) with
/// a freshly made self-signed certificate, on 127.0.0.1.
@Suite("TLS verification", .enabled(if: SelfSignedServer.isAvailable, "python3 with the cryptography package is not available"), .timeLimit(.minutes(1)))
struct TLSTests {
    @Test("a self-signed certificate is refused as a network error")
    func selfSigned() async throws {
        let server = try SelfSignedServer.start()
        defer { server.stop() }
        try await TestServers.withTransport { transport in
            let client = S3Client(
                configuration: S3Configuration(region: "us-east-1", endpoint: AWSEndpoint(scheme: "https", host: "127.0.0.1", port: server.port), pathStyle: true),
                credentials: TestServers.motoCredentials,
                transport: transport
            )
            let error = await #expect(throws: AWSError.self) {
                try await client.headObject(bucket: "bucket", key: "key", logger: TestServers.logger)
            }
            #expect(error?.code == AWSError.Code.networkError)
            #expect(error?.category == .retryable)
        }
        // The handshake failed, so no HTTP request ever reached the server.
        let output = server.output()
        #expect(output.contains("HANDSHAKE-FAILED"))
        #expect(!output.contains("REQUEST"))
    }
}

/// A throwaway https server with a self-signed certificate for 127.0.0.1.
final class SelfSignedServer: Sendable {
    static let script = #"""
        import datetime, ipaddress, os, socket, ssl, sys, tempfile, threading
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + datetime.timedelta(days=1))
                .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
                .sign(key, hashes.SHA256()))
        directory = tempfile.mkdtemp()
        with open(os.path.join(directory, "c.pem"), "wb") as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))
            f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(os.path.join(directory, "c.pem"))
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        print(listener.getsockname()[1], flush=True)
        # One connection is all the test makes; exit after it, or after 10 s without one.
        listener.settimeout(10)
        try:
            connection, _ = listener.accept()
            connection.settimeout(10)
            tls = context.wrap_socket(connection, server_side=True)
            if tls.recv(4096):
                print("REQUEST", flush=True)
            tls.close()
        except (ssl.SSLError, OSError) as error:
            print("HANDSHAKE-FAILED", type(error).__name__, flush=True)
        """#

    static var isAvailable: Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import cryptography"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }

    let process: Process
    let stdout: FileHandle
    let port: Int

    private init(process: Process, stdout: FileHandle, port: Int) {
        self.process = process
        self.stdout = stdout
        self.port = port
    }

    static func start() throws -> SelfSignedServer {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", self.script]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        var line: [UInt8] = []
        while let byte = try pipe.fileHandleForReading.read(upToCount: 1)?.first, byte != UInt8(ascii: "\n"), line.count < 16 {
            line.append(byte)
        }
        guard let port = Int(String(decoding: line, as: UTF8.self)) else {
            process.terminate()
            throw SetupError()
        }
        return SelfSignedServer(process: process, stdout: pipe.fileHandleForReading, port: port)
    }

    /// What the server printed after the port, once it has exited (after its one connection).
    func output() -> String {
        String(decoding: (try? self.stdout.readToEnd()) ?? Data(), as: UTF8.self)
    }

    func stop() {
        if self.process.isRunning { self.process.terminate() }
    }

    struct SetupError: Error {}
}

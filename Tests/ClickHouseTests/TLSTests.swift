import ClickHouse
import Foundation
import Logging
import NIOSSL
import Testing

/// https through a TLS-terminating proxy in front of each real server, with a self-signed certificate made by the
/// `openssl` command for this run.
@Suite(
    "TLS to the servers", .enabled(if: LiveServers.enabled, LiveServers.reason),
    .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl"), "needs /usr/bin/openssl to make a test certificate"))
struct TLSTests {
    static func selfSignedContext() throws -> NIOSSLContext {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-tls-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = [
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout", directory.appendingPathComponent("key.pem").path, "-out", directory.appendingPathComponent("cert.pem").path,
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let certificates = try NIOSSLCertificate.fromPEMFile(directory.appendingPathComponent("cert.pem").path)
        let key = try NIOSSLPrivateKey(file: directory.appendingPathComponent("key.pem").path, format: .pem)
        let configuration = TLSConfiguration.makeServerConfiguration(certificateChain: certificates.map { .certificate($0) }, privateKey: .privateKey(key))
        return try NIOSSLContext(configuration: configuration)
    }

    @Test(arguments: LiveServers.names)
    func certificatesAreVerifiedUnlessDisabled(server: String) async throws {
        let upstream = try LiveServers.configuration(server).endpoint.port
        let proxy = try await FaultProxy.start(upstreamPort: upstream, cutAfter: .max, tls: try Self.selfSignedContext())
        let url = "https://127.0.0.1:\(proxy.port)"

        let verifying = ClickHouseClient(
            configuration: try ClickHouseConfiguration(url: url, user: "writer", password: "secret"), logger: Logger(label: "test"))
        do {
            _ = try await verifying.query("SELECT 1")
            Issue.record("a self-signed certificate must be refused")
        } catch {
            #expect(error.category == .connection)
            #expect(error.transport == .tls, "\(error)")
            #expect(!error.outcomeUnknown)
            #expect(!"\(error)".contains("secret"))
        }
        try await verifying.shutdown()

        let trusting = ClickHouseClient(
            configuration: try ClickHouseConfiguration(url: url, user: "writer", password: "secret", tlsVerify: false), logger: Logger(label: "test"))
        #expect(try await trusting.query("SELECT 1") == [["1"]])
        try await trusting.shutdown()
        await proxy.stop()
    }
}

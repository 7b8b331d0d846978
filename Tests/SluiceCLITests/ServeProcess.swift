import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization
import Testing

/// `sluice serve` as a child process, on a port it picks itself (read back from its log).
final class ServeProcess: Sendable {
    let process: Process
    let port: Int
    let log: LogBuffer

    final class LogBuffer: Sendable {
        private let text = Mutex("")
        func append(_ s: String) { text.withLock { $0 += s } }
        var contents: String { text.withLock { $0 } }
    }

    static func start(config: URL, environment: [String: String] = [:]) async throws -> ServeProcess {
        let binary = try #require(SluiceBinary.path)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["serve", "--config", config.path]
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("SLUICE_") }
        env.merge(environment) { _, new in new }
        process.environment = env
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        let log = LogBuffer()
        err.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            if !data.isEmpty { log.append(String(decoding: data, as: UTF8.self)) }
        }
        try process.run()
        for _ in 0..<1000 {
            let text = log.contents
            if let range = text.range(of: "\"msg\":\"listening\"") {
                let line = text[range.lowerBound...].prefix { $0 != "\n" }
                if let p = line.range(of: "\"port\":\""), let end = line[p.upperBound...].firstIndex(of: "\""), let port = Int(line[p.upperBound..<end]) {
                    return ServeProcess(process: process, port: port, log: log)
                }
            }
            if !process.isRunning { throw TestFailure("sluice serve exited: \(text)") }
            try await Task.sleep(for: .milliseconds(20))
        }
        process.terminate()
        throw TestFailure("sluice serve did not report its port: \(log.contents)")
    }

    private init(process: Process, port: Int, log: LogBuffer) {
        self.process = process
        self.port = port
        self.log = log
    }

    var url: String { "http://127.0.0.1:\(port)" }

    func kill9() {
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    func terminate() -> Int32 {
        process.terminate()
        process.waitUntilExit()
        return process.terminationStatus
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

struct HTTPReply {
    var status: Int
    var headers: HTTPHeaders
    var body: String
    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:] }
}

func http(_ client: HTTPClient, _ method: HTTPMethod, _ url: String, body: String? = nil, headers: [(String, String)] = [("content-type", "application/json")]) async throws -> HTTPReply {
    var request = HTTPClientRequest(url: url)
    request.method = method
    for (k, v) in headers { request.headers.add(name: k, value: v) }
    if let body { request.body = .bytes(ByteBuffer(string: body)) }
    let response = try await client.execute(request, timeout: .seconds(15))
    let bytes = try await response.body.collect(upTo: 64 << 20)
    return HTTPReply(status: Int(response.status.code), headers: response.headers, body: String(buffer: bytes))
}

func writeConfig(_ dir: URL, extra: String = "") throws -> URL {
    let yaml = """
        http:
          host: 127.0.0.1
          port: 0
          drain_seconds: 0
        intake:
          bucket: data-pipeline-curated-dev
        journal:
          path: \(dir.appendingPathComponent("journal.db").path)
        log:
          level: info
        loader:
          workers: 0
        \(extra)
        """
    let url = dir.appendingPathComponent("sluice.yaml")
    try Data(yaml.utf8).write(to: url)
    return url
}

func eventBridgeEvent(key: String, etag: String, size: Int = 5000) -> String {
    """
    {"version":"0","detail-type":"Object Created","source":"aws.s3","time":"2025-09-10T00:00:00Z",\
    "detail":{"bucket":{"name":"data-pipeline-curated-dev"},"object":{"key":"\(key)","size":\(size),"etag":"\(etag)"}}}
    """
}

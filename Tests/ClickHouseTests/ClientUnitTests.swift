@testable import ClickHouse
import Logging
import NIOCore
import Testing

@Suite("Client pieces without a server")
struct ClientUnitTests {
    @Test func urlsAreCheckedAndCredentialsRefused() throws {
        let plain = try ClickHouseConfiguration(url: "http://127.0.0.1:8123")
        #expect(plain.endpoint == .init(scheme: "http", host: "127.0.0.1", port: 8123, path: "/"))
        let secure = try ClickHouseConfiguration(url: "HTTPS://ch.example.com/base/")
        #expect(secure.endpoint == .init(scheme: "https", host: "ch.example.com", port: 8443, path: "/base/"))
        #expect(secure.tlsVerify)
        let v6 = try ClickHouseConfiguration(url: "http://[::1]:9000")
        #expect(v6.endpoint.baseURL == "http://[::1]:9000/")
        let bad: [(String, String)] = [
            ("ftp://h", "must start with http:// or https://"),
            ("http://user:pw@h:8123", "must not contain a user or password; use clickhouse.user and clickhouse.password"),
            ("http://h:8123/?password=x", "must not contain a query string or fragment; use settings"),
            ("http://:8123", "has no host"),
            ("http://h:99999", "has an invalid port"),
        ]
        for (url, reason) in bad {
            #expect(throws: ClickHouseConfigurationError(key: "clickhouse.url", reason: reason)) { try ClickHouseConfiguration(url: url) }
        }
        #expect(throws: ClickHouseConfigurationError.self) { try ClickHouseConfiguration(url: "http://h", poolIdleTimeout: .seconds(3)) }
    }

    @Test func descriptionRedactsThePassword() throws {
        let configuration = try ClickHouseConfiguration(url: "https://h", user: "writer", password: "s3cr3t-value")
        #expect(!configuration.description.contains("s3cr3t-value"))
        #expect(configuration.description.contains("<redacted>"))
        #expect(configuration.description.contains("writer"))
    }

    @Test func versionsParseAndCompare() throws {
        let old = try #require(ServerVersion("18.16.1"))
        let new = try #require(ServerVersion("26.9.2.1\n"))
        #expect(old < new)
        #expect(ServerVersion("21.8") == ServerVersion(21, 8, 0))
        #expect(ServerVersion("garbage") == nil)
        #expect(ServerVersion("1") == nil)
        let o = ServerCapabilities(version: old)
        #expect(!o.hasMap && !o.hasDateTime64 && !o.hasInsertDeduplicationToken && !o.hasMovePartitionToTable && !o.sendsExceptionCodeHeader)
        #expect(o.hasLowCardinality && o.lowCardinalityIsExperimental && o.hasAttachPartitionFrom)
        let n = ServerCapabilities(version: new)
        #expect(n.hasMap && n.hasBool && n.hasDate32 && n.hasDeduplicateInsertSetting && n.hasMovePartitionToTable && n.hasPartHashes)
    }

    @Test func tabSeparatedUnescapes() {
        let body = Array("a\\tb\tc\\nd\t\\\\\t\\N\n\t\n".utf8)
        #expect(TabSeparated.rows(body) == [["a\tb", "c\nd", "\\", "\\N"], ["", ""]])
        #expect(TabSeparated.rows([]) == [])
    }

    @Test func percentEncodingKeepsOnlyUnreservedBytes() {
        #expect(ClickHouseClient.percentEncode("INSERT INTO `d`.`t` FORMAT Native") == "INSERT%20INTO%20%60d%60.%60t%60%20FORMAT%20Native")
        #expect(ClickHouseClient.percentEncode("a-b_c.d~é") == "a-b_c.d~%C3%A9")
    }

    @Test func summaryHeaderGivesWrittenRows() {
        #expect(ClickHouseClient.writtenRows(#"{"read_rows":"0","written_rows":"1234","written_bytes":"9"}"#) == 1234)
        #expect(ClickHouseClient.writtenRows("{}") == nil)
    }

    @Test func sqlQuoting() {
        #expect(SQL.string("it's a \\ test\n") == #"'it\'s a \\ test\n'"#)
        #expect(SQL.identifier("we`ird") == "`we\\`ird`")
        #expect(TableName("db.t.x") == TableName(database: "db", table: "t.x"))
        #expect(TableName("nodot") == nil)
    }

    @Test func loadIDsAreRestricted() throws {
        let client = ClickHouseClient(configuration: try ClickHouseConfiguration(url: "http://127.0.0.1:1"), logger: .init(label: "t"))
        defer { Task { try? await client.shutdown() } }
        let target = TableName(database: "db", table: "t")
        #expect(throws: ClickHouseError.self) { try StagedLoad(client: client, target: target, loadID: "a-b") }
        #expect(throws: ClickHouseError.self) { try StagedLoad(client: client, target: target, loadID: "") }
        #expect(throws: ClickHouseError.self) { try StagedLoad(client: client, target: target, loadID: String(repeating: "a", count: 65)) }
        #expect(try StagedLoad(client: client, target: target, loadID: "abc_123").stage == TableName(database: "db", table: "_sluice_stage_abc_123"))
    }

    @Test func bodyPipeHandsOverInOrderAndReportsTheEnd() async throws {
        let pipe = BodyPipe()
        let producer = Task {
            for index in 0..<5 { try await pipe.write(ByteBuffer(bytes: [UInt8(index)])) }
            pipe.finish()
        }
        var received: [UInt8] = []
        for try await buffer in pipe { received.append(contentsOf: buffer.readableBytesView) }
        try await producer.value
        #expect(received == [0, 1, 2, 3, 4])
    }

    @Test func closingThePipeFailsTheWaitingWriter() async throws {
        let pipe = BodyPipe()
        let producer = Task { try await pipe.write(ByteBuffer(bytes: [1])) }
        try await Task.sleep(for: .milliseconds(50))
        pipe.close()
        await #expect(throws: ClickHouseBodyWriterClosed.self) { try await producer.value }
        await #expect(throws: ClickHouseBodyWriterClosed.self) { try await pipe.write(ByteBuffer(bytes: [2])) }
    }

    @Test func aFailingProducerFailsTheReader() async throws {
        struct SourceBroke: Error {}
        let pipe = BodyPipe()
        pipe.finish(error: SourceBroke())
        var iterator = pipe.makeAsyncIterator()
        await #expect(throws: SourceBroke.self) { _ = try await iterator.next() }
    }
}

@testable import AWS
import AWSSigV4
import Foundation
import Logging
import NIOCore
import Synchronization
import Testing

/// S3 against the moto server (`SLUICE_TEST_S3_ENDPOINT`), signatures not verified.
@Suite("S3 against moto", .enabled(if: TestServers.motoShouldRun, "SLUICE_TEST_S3_ENDPOINT is not set"))
struct S3MotoTests {
    let logger = TestServers.logger

    func withBucket<T>(
        versioned: Bool = false,
        maxObjectBytes: Int64 = S3Configuration.defaultMaxObjectBytes,
        _ body: (S3Client, String) async throws -> T
    ) async throws -> T {
        let endpoint = try AWSEndpoint(url: try TestServers.requireMoto())
        return try await TestServers.withTransport { transport in
            let client = S3Client(
                configuration: S3Configuration(region: "us-east-1", endpoint: endpoint, pathStyle: true, maxObjectBytes: maxObjectBytes),
                credentials: TestServers.motoCredentials,
                transport: transport
            )
            let bucket = TestServers.uniqueName("sluice-s3")
            try await client.createBucket(bucket, logger: self.logger)
            if versioned { try await client.enableVersioning(bucket, logger: self.logger) }
            return try await body(client, bucket)
        }
    }

    static func pattern(_ count: Int, seed: UInt8 = 0) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 8 &+ Int(seed)) }
    }

    @Test("HeadObject reports size, ETag and last-modified")
    func head() async throws {
        try await self.withBucket { client, bucket in
            let body = Self.pattern(4096)
            let put = try await client.putObject(bucket: bucket, key: "data/file.parquet", body: body, logger: self.logger)
            let info = try await client.headObject(bucket: bucket, key: "data/file.parquet", logger: self.logger)
            #expect(info.size == 4096)
            #expect(info.eTag == put.eTag)
            #expect(info.eTag.hasPrefix("\"") && info.eTag.count > 10)
            #expect(info.versionID == nil)
            let modified = try #require(info.lastModified)
            #expect(abs(modified.timeIntervalSinceNow) < 3600)
        }
    }

    @Test("ranged GetObject reads exact byte ranges, the footer included")
    func rangedGet() async throws {
        try await self.withBucket { client, bucket in
            let body = Self.pattern(10_000)
            _ = try await client.putObject(bucket: bucket, key: "r.bin", body: body, logger: self.logger)
            let middle = try await client.getObjectRange(bucket: bucket, key: "r.bin", offset: 1234, length: 567, logger: self.logger)
            #expect(middle == Array(body[1234..<1801]))
            let reader = try await client.rangeReader(bucket: bucket, key: "r.bin", logger: self.logger)
            #expect(reader.size == 10_000)
            let footer = try await reader.read(offset: reader.size - 8, length: 8)
            #expect(footer == Array(body[9992..<10_000]))
            #expect(try await reader.read(offset: 0, length: 0) == [])
            let error = await #expect(throws: AWSError.self) {
                try await reader.read(offset: 9990, length: 20)
            }
            #expect(error?.code == AWSError.Code.invalidRange)
            let pastEnd = await #expect(throws: AWSError.self) {
                try await client.getObjectRange(bucket: bucket, key: "r.bin", offset: 9990, length: 20, logger: self.logger)
            }
            #expect(pastEnd?.code == AWSError.Code.invalidRange)
            #expect(pastEnd?.category == .permanent)
        }
    }

    @Test("streaming GetObject of a 50 MB object keeps memory bounded")
    func streamingLargeObject() async throws {
        let blockSize = 1024 * 1024
        let blocks = 50
        try await self.withBucket { client, bucket in
            // 50 distinct 1 MiB blocks, built by copying so a debug build stays quick.
            let base = Self.pattern(blockSize, seed: 7)
            var body: [UInt8] = []
            body.reserveCapacity(blockSize * blocks)
            for block in 0..<blocks {
                body.append(UInt8(block))
                body.append(contentsOf: base[1...])
            }
            _ = try await client.putObject(bucket: bucket, key: "big/object.parquet", body: body, logger: self.logger)
            let expected = Data(body)

            let baseline = Self.residentBytes()
            var peak = baseline
            let stream = try await client.getObject(bucket: bucket, key: "big/object.parquet", logger: self.logger)
            #expect(stream.info.size == Int64(body.count))
            var received = 0
            var largestChunk = 0
            var mismatches = 0
            var chunks = 0
            for try await chunk in stream.body {
                let bytes = Data(chunk.readableBytesView)
                if received + bytes.count > expected.count || expected[received..<(received + bytes.count)] != bytes {
                    mismatches += 1
                }
                received += bytes.count
                largestChunk = max(largestChunk, bytes.count)
                chunks += 1
                if chunks % 32 == 0 { peak = max(peak, Self.residentBytes()) }
            }
            peak = max(peak, Self.residentBytes())
            #expect(received == body.count)
            #expect(mismatches == 0)
            #expect(largestChunk <= 4 * 1024 * 1024)
            // The object is 50 MiB; a streaming read must hold only a few chunks at a time.
            #expect(peak - baseline < 24 * 1024 * 1024, "resident memory grew by \(peak - baseline) bytes")
        }
    }

    @Test("a missing key is a permanent NoSuchKey")
    func missingKey() async throws {
        try await self.withBucket { client, bucket in
            let getError = await #expect(throws: AWSError.self) {
                try await client.getObjectRange(bucket: bucket, key: "absent.parquet", offset: 0, length: 10, logger: self.logger)
            }
            #expect(getError?.code == "NoSuchKey")
            #expect(getError?.httpStatus == 404)
            #expect(getError?.category == .permanent)
            #expect(getError?.isNotFound == true)
            #expect(getError?.sluiceCode == nil)
            let headError = await #expect(throws: AWSError.self) {
                try await client.headObject(bucket: bucket, key: "absent.parquet", logger: self.logger)
            }
            #expect(headError?.isNotFound == true)
            #expect(headError?.category == .permanent)
            let streamError = await #expect(throws: AWSError.self) {
                try await client.getObject(bucket: bucket, key: "absent.parquet", logger: self.logger)
            }
            #expect(streamError?.code == "NoSuchKey")
        }
    }

    @Test("keys with spaces and unicode round-trip through put, head, get and list")
    func spacesAndUnicode() async throws {
        try await self.withBucket { client, bucket in
            let key = "market/prices ü/ds=2025-09-10/データ part 001.parquet"
            let body = Self.pattern(300)
            _ = try await client.putObject(bucket: bucket, key: key, body: body, logger: self.logger)
            let info = try await client.headObject(bucket: bucket, key: key, logger: self.logger)
            #expect(info.size == 300)
            #expect(try await client.getObjectRange(bucket: bucket, key: key, offset: 100, length: 50, logger: self.logger) == Array(body[100..<150]))
            let page = try await client.listObjectsV2(bucket: bucket, prefix: "market/prices ü/", logger: self.logger)
            #expect(page.objects.map(\.key) == [key])
        }
    }

    @Test("a version-pinned reader keeps reading the version it started with after an overwrite")
    func versionPinnedRead() async throws {
        try await self.withBucket(versioned: true) { client, bucket in
            let first = Self.pattern(2048, seed: 1)
            let second = Self.pattern(4096, seed: 2)
            let put1 = try await client.putObject(bucket: bucket, key: "v/file.parquet", body: first, logger: self.logger)
            let reader = try await client.rangeReader(bucket: bucket, key: "v/file.parquet", logger: self.logger)
            #expect(reader.pin.versionID != nil)
            #expect(reader.pin.versionID == put1.versionID)
            _ = try await client.putObject(bucket: bucket, key: "v/file.parquet", body: second, logger: self.logger)

            // The pinned reader still sees the first version, byte for byte.
            #expect(reader.size == 2048)
            #expect(try await reader.read(offset: 2040, length: 8) == Array(first[2040..<2048]))
            // The current object is the second one.
            let current = try await client.headObject(bucket: bucket, key: "v/file.parquet", logger: self.logger)
            #expect(current.size == 4096)
            #expect(current.versionID != put1.versionID)

            // Pinned by ETag alone (no version id), the replacement is detected.
            let etagOnly = S3ObjectPin(eTag: put1.eTag)
            let error = await #expect(throws: AWSError.self) {
                try await client.getObjectRange(bucket: bucket, key: "v/file.parquet", offset: 0, length: 8, pin: etagOnly, logger: self.logger)
            }
            #expect(error?.code == AWSError.Code.preconditionFailed)
            #expect(error?.httpStatus == 412)
            #expect(error?.category == .permanent)
        }
    }

    @Test("objects over s3.max_object_bytes are refused before download")
    func maxObjectBytes() async throws {
        try await self.withBucket(maxObjectBytes: 1000) { client, bucket in
            _ = try await client.putObject(bucket: bucket, key: "small.bin", body: Self.pattern(1000), logger: self.logger)
            _ = try await client.putObject(bucket: bucket, key: "large.bin", body: Self.pattern(1001), logger: self.logger)
            _ = try await client.rangeReader(bucket: bucket, key: "small.bin", logger: self.logger)
            let readerError = await #expect(throws: AWSError.self) {
                try await client.rangeReader(bucket: bucket, key: "large.bin", logger: self.logger)
            }
            #expect(readerError?.code == AWSError.Code.objectTooLarge)
            #expect(readerError?.category == .permanent)
            let streamError = await #expect(throws: AWSError.self) {
                try await client.getObject(bucket: bucket, key: "large.bin", logger: self.logger)
            }
            #expect(streamError?.code == AWSError.Code.objectTooLarge)
            // The client still works after abandoning that response.
            #expect(try await client.headObject(bucket: bucket, key: "small.bin", logger: self.logger).size == 1000)
        }
    }

    @Test("ListObjectsV2 with prefix, start-after and continuation")
    func listing() async throws {
        try await self.withBucket { client, bucket in
            let keys = ["a/1.parquet", "a/2.parquet", "a/3 + x=y.parquet", "a/4.parquet", "b/1.parquet"]
            for key in keys {
                _ = try await client.putObject(bucket: bucket, key: key, body: [1, 2, 3], logger: self.logger)
            }
            var collected: [String] = []
            var token: String?
            var pages = 0
            repeat {
                let page = try await client.listObjectsV2(bucket: bucket, prefix: "a/", continuationToken: token, maxKeys: 2, logger: self.logger)
                collected += page.objects.map(\.key)
                token = page.nextContinuationToken
                pages += 1
                #expect(page.objects.allSatisfy { $0.size == 3 })
            } while token != nil && pages < 10
            #expect(collected == ["a/1.parquet", "a/2.parquet", "a/3 + x=y.parquet", "a/4.parquet"])
            #expect(pages == 2)
            let after = try await client.listObjectsV2(bucket: bucket, prefix: "a/", startAfter: "a/2.parquet", logger: self.logger)
            #expect(after.objects.map(\.key) == ["a/3 + x=y.parquet", "a/4.parquet"])
            #expect(!after.isTruncated)
            let delimited = try await client.listObjectsV2(bucket: bucket, delimiter: "/", logger: self.logger)
            #expect(delimited.commonPrefixes == ["a/", "b/"])
        }
    }

    @Test("AWSClients built from configuration and environment reach moto")
    func clientsFromConfiguration() async throws {
        let endpoint = try TestServers.requireMoto()
        let environment = fakeEnvironment([
            "AWS_ENDPOINT_URL_S3": endpoint, "AWS_ENDPOINT_URL_SQS": endpoint, "AWS_REGION": "eu-west-1",
            "AWS_ACCESS_KEY_ID": "AKIDFROMENV", "AWS_SECRET_ACCESS_KEY": "env-secret", "AWS_EC2_METADATA_DISABLED": "true",
        ])
        let configuration = try AWSConfiguration(values: ["s3.max_object_bytes": "1000000"], environment: environment)
        let seen = Mutex<[String]>([])
        let clients = AWSClients(
            configuration: configuration, environment: environment,
            observer: { service, operation, outcome, _ in seen.withLock { $0.append("\(service) \(operation) \(outcome)") } })
        do {
            let bucket = TestServers.uniqueName("sluice-clients")
            try await clients.s3.createBucket(bucket, logger: self.logger)
            _ = try await clients.s3.putObject(bucket: bucket, key: "k.parquet", body: [1, 2, 3, 4], logger: self.logger)
            let reader = try await clients.s3.rangeReader(bucket: bucket, key: "k.parquet", logger: self.logger)
            #expect(try await reader.read(offset: 1, length: 2) == [2, 3])
            #expect(try await clients.credentials.credentials(logger: self.logger).source == "environment")
            let queue = try await clients.sqs.createQueue(name: TestServers.uniqueName("sluice-clients"), logger: self.logger)
            #expect(queue.contains("eu-west-1") || queue.hasPrefix(endpoint))
            await #expect(throws: AWSError.self) { try await clients.s3.headObject(bucket: bucket, key: "missing.parquet", logger: self.logger) }
            #expect(seen.withLock { $0 }.filter { $0.hasPrefix("s3 ") } == [
                "s3 CreateBucket ok", "s3 PutObject ok", "s3 HeadObject ok", "s3 GetObject ok", "s3 HeadObject client_error",
            ])
            try await clients.shutdown()
        } catch {
            try? await clients.shutdown()
            throw error
        }
    }

    /// Resident set size from /proc/self/statm (Linux).
    static func residentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * 4096
    }
}

import EventPattern
import Testing

@Suite("S3 Object Created pattern")
struct S3ObjectCreatedPatternTests {
    static let bucket = "data-pipeline-curated-dev"

    /// An EventBridge "Object Created" event in the shape AWS documents.
    static func event(
        bucket: String = bucket,
        key: String,
        size: JSONValue = 1_048_576,
        source: String = "aws.s3",
        detailType: String = "Object Created"
    ) -> JSONValue {
        [
            "version": "0",
            "id": "17793124-05d4-b198-2fde-7ededc63b103",
            "detail-type": .string(detailType),
            "source": .string(source),
            "account": "111122223333",
            "time": "2025-09-10T08:00:00Z",
            "region": "ap-northeast-2",
            "resources": [.string("arn:aws:s3:::\(bucket)")],
            "detail": [
                "version": "0",
                "bucket": ["name": .string(bucket)],
                "object": [
                    "key": .string(key),
                    "size": size,
                    "etag": "b1946ac92492d2347c6235b4d2611184",
                    "sequencer": "617f08299329d189",
                ],
                "request-id": "N4N7GDK58NMKJ12R",
                "requester": "123456789012",
                "source-ip-address": "1.2.3.4",
                "reason": "PutObject",
            ],
        ]
    }

    static let domains = ["market/", "customer/", "product/", "analytics/"]

    func pattern(prefixes: [String] = domains, suffix: String = ".parquet", minSize: Int = 1024) throws -> EventPattern {
        try EventPattern(json: EventPattern.s3ObjectCreated(
            bucket: Self.bucket,
            keyPrefixes: prefixes,
            suffix: suffix,
            minSizeExclusive: minSize
        ))
    }

    @Test("the pattern's exact shape")
    func shape() {
        let json = EventPattern.s3ObjectCreated(bucket: "b", keyPrefixes: ["market/", "customer/"], minSizeExclusive: 1024)
        #expect(
            json.serialized()
                == #"{"source":["aws.s3"],"detail-type":["Object Created"],"detail":{"bucket":{"name":["b"]},"object":{"key":[{"wildcard":"market/*.parquet"},{"wildcard":"customer/*.parquet"}],"size":[{"numeric":[">",1024]}]}}}"#
        )
    }

    @Test("matching events", arguments: [
        "market/prices/ds=2025-09-10/part-001.parquet",
        "customer/accounts/year=2025/month=09/day=10/part-00000-3f1c.snappy.parquet",
        "product/catalog/part.parquet",
        "analytics/sessions/ds=2025-09-10/hour=08/données 日本語 ✓.parquet",
        "market/.parquet",
        "market/with*star/and\\backslash.parquet",
    ])
    func matching(_ key: String) throws {
        #expect(try pattern().matches(Self.event(key: key)), "\(key)")
    }

    @Test("non-matching keys", arguments: [
        "market/prices/ds=2025-09-10/part-001.csv",
        "market/prices/ds=2025-09-10/part-001.PARQUET",
        "market/prices/ds=2025-09-10/part-001.parquet.tmp",
        "market/prices/_SUCCESS",
        "Market/prices/part-001.parquet",
        "marketing/prices/part-001.parquet",
        "raw/market/part-001.parquet",
        "market",
        "",
    ])
    func nonMatchingKeys(_ key: String) throws {
        #expect(try !pattern().matches(Self.event(key: key)), "\(key)")
    }

    @Test("size must exceed the minimum, as a number")
    func size() throws {
        let key = "market/prices/part-001.parquet"
        let pattern = try pattern()
        #expect(!pattern.matches(Self.event(key: key, size: 0)))
        #expect(!pattern.matches(Self.event(key: key, size: 1024)))
        #expect(pattern.matches(Self.event(key: key, size: 1025)))
        #expect(pattern.matches(Self.event(key: key, size: 5_497_558_138_880)), "5 TiB")
        #expect(pattern.matches(Self.event(key: key, size: 1025.0)))
        #expect(!pattern.matches(Self.event(key: key, size: "1048576")), "a size given as a string is not a number")
        #expect(!pattern.matches(Self.event(key: key, size: nil)))
        var missing = Self.event(key: key)
        if case .object(var members) = missing, let detail = members.firstIndex(where: { $0.key == "detail" }),
            case .object(var detailMembers) = members[detail].value,
            let object = detailMembers.firstIndex(where: { $0.key == "object" }),
            case .object(let objectMembers) = detailMembers[object].value
        {
            detailMembers[object].value = .object(objectMembers.filter { $0.key != "size" })
            members[detail].value = .object(detailMembers)
            missing = .object(members)
        }
        #expect(missing["detail"]?["object"]?["size"] == nil)
        #expect(!pattern.matches(missing))
    }

    @Test("other bucket, source or detail type")
    func envelope() throws {
        let key = "market/prices/part-001.parquet"
        let pattern = try pattern()
        #expect(!pattern.matches(Self.event(bucket: "data-pipeline-raw-dev", key: key)))
        #expect(!pattern.matches(Self.event(bucket: "DATA-PIPELINE-CURATED-DEV", key: key)))
        #expect(!pattern.matches(Self.event(key: key, source: "custom.app")))
        #expect(!pattern.matches(Self.event(key: key, detailType: "Object Deleted")))
        #expect(!pattern.matches(["detail-type": "Object Created", "source": "aws.s3"]))
    }

    @Test("prefixes: duplicates dropped, none means any key, literal stars escaped")
    func prefixes() throws {
        let json = EventPattern.s3ObjectCreated(bucket: "b", keyPrefixes: ["a/", "a/"], minSizeExclusive: 0)
        #expect(json["detail"]?["object"]?["key"]?.arrayValue?.count == 1)

        let any = try pattern(prefixes: [])
        #expect(any.matches(Self.event(key: "anything/at/all.parquet")))
        #expect(!any.matches(Self.event(key: "anything/at/all.json")))

        let starry = try pattern(prefixes: ["we*rd\\/"])
        #expect(starry.matches(Self.event(key: "we*rd\\/x.parquet")))
        #expect(!starry.matches(Self.event(key: "weeeerd\\/x.parquet")), "the star in the prefix is literal")

        let anySuffix = try pattern(prefixes: ["market/"], suffix: "")
        #expect(anySuffix.matches(Self.event(key: "market/x.csv")))
        #expect(EventPattern.wildcardLiteral(#"a*b\c"#) == #"a\*b\\c"#)
        #expect(EventPattern.wildcardLiteral("plain") == "plain")
    }

    @Test("a minimum beyond 2^53 still gives a valid pattern")
    func hugeMinimum() throws {
        let pattern = try pattern(minSize: Int.max)
        #expect(!pattern.matches(Self.event(key: "market/x.parquet", size: 5_497_558_138_880)))
        #expect(try pattern.matches(Self.event(key: "market/x.parquet", size: JSONValue.parse("1e19"))))
    }
}

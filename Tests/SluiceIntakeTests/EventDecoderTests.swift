import EventPattern
import SluiceCore
import SluiceIntake
import Testing

@Suite("Event shapes")
struct EventDecoderTests {
    func objects(_ decoded: [DecodedEvent]) -> [ObjectCreated] {
        decoded.compactMap { if case .object(let o, _) = $0 { o } else { nil } }
    }

    @Test func eventBridgeSingle() throws {
        let decoded = try EventDecoder.decodeEvents(Fixtures.parse(Fixtures.eventBridge()))
        let o = try #require(objects(decoded).first)
        #expect(o.source == .eventBridge)
        #expect(o.bucket == Fixtures.bucket)
        #expect(o.key == "market/prices/ds=2025-09-10/part-001.parquet")
        #expect(o.size == 1_048_576)
        #expect(o.etag == "b1946ac92492d2347c6235b4d2611184")
        #expect(o.eventID == "17793124-05d4-b198-2fde-7ededc63b103")
        #expect(o.versionIdentity == "e:b1946ac92492d2347c6235b4d2611184")
    }

    @Test func eventBridgeKeysAreNotFormDecoded() throws {
        let decoded = try EventDecoder.decodeEvents(Fixtures.parse(Fixtures.eventBridge(key: "market/prices/ds=2025-09-10/a+b%20c.parquet")))
        #expect(objects(decoded).first?.key == "market/prices/ds=2025-09-10/a+b%20c.parquet")
    }

    @Test func eventBridgeArray() throws {
        let body = "[\(Fixtures.eventBridge(key: "market/prices/ds=1/a.parquet")),\(Fixtures.eventBridge(key: "market/prices/ds=1/b.parquet", etag: "x"))]"
        let decoded = try EventDecoder.decodeEvents(Fixtures.parse(body))
        #expect(objects(decoded).map(\.key) == ["market/prices/ds=1/a.parquet", "market/prices/ds=1/b.parquet"])
    }

    @Test func s3NotificationKeysAreFormDecoded() throws {
        let body = "{\"Records\":[\(Fixtures.s3Record(key: "market/prices/ds%3D2025-09-10/my+file%2B1.parquet"))]}"
        let o = try #require(objects(try EventDecoder.decodeEvents(Fixtures.parse(body))).first)
        #expect(o.source == .s3Notification)
        #expect(o.key == "market/prices/ds=2025-09-10/my file+1.parquet")
        #expect(o.eventName == "ObjectCreated:Put")
        #expect(o.eventID == "C3D13FE58DE4C810")
    }

    @Test func snsEnvelopeAroundEventBridgeAndS3() throws {
        let inner = Fixtures.eventBridge()
        let sns = "{\"Type\":\"Notification\",\"MessageId\":\"m\",\"TopicArn\":\"arn:aws:sns:us-east-1:1:t\",\"Message\":\(Fixtures.quoted(inner))}"
        #expect(objects(try EventDecoder.decodeEvents(Fixtures.parse(sns))).first?.source == .eventBridge)
        let s3 = "{\"Records\":[\(Fixtures.s3Record(key: "market/prices/ds=1/x.parquet"))]}"
        let sns2 = "{\"Type\":\"Notification\",\"TopicArn\":\"arn:aws:sns:us-east-1:1:t\",\"Message\":\(Fixtures.quoted(s3))}"
        #expect(objects(try EventDecoder.decodeEvents(Fixtures.parse(sns2))).first?.key == "market/prices/ds=1/x.parquet")
    }

    @Test func snsSubscriptionConfirmationIsIgnoredNotFollowed() throws {
        let body = "{\"Type\":\"SubscriptionConfirmation\",\"TopicArn\":\"arn:aws:sns:us-east-1:1:t\",\"SubscribeURL\":\"http://169.254.169.254/\",\"Message\":\"x\"}"
        let decoded = try EventDecoder.decodeEvents(Fixtures.parse(body))
        guard case .other(_, _, let reason) = decoded.first else { Issue.record("expected ignored"); return }
        #expect(reason.contains("SubscriptionConfirmation"))
    }

    @Test func transformedMessageSingleArrayAndBatch() throws {
        let single = try EventDecoder.decodeMessages(Fixtures.parse(Fixtures.message()))
        let o = try #require(objects(single).first)
        #expect(o.source == .sqsMessage)
        #expect(o.size == 2048)
        #expect(o.correlationID == "550e8400-e29b-41d4-a716-446655440000")
        #expect(o.declaredDomain == nil)
        #expect(o.versionIdentity == "c:550e8400-e29b-41d4-a716-446655440000")

        let array = try EventDecoder.decodeMessages(Fixtures.parse("[\(Fixtures.message()),\(Fixtures.message(size: "\"4096\"", correlationID: "b"))]"))
        #expect(objects(array).map(\.size) == [2048, 4096])

        let batch = "{\"Records\":[{\"messageId\":\"059f36b4\",\"receiptHandle\":\"r\",\"body\":\(Fixtures.quoted(Fixtures.message())),\"eventSource\":\"aws:sqs\"}]}"
        let fromBatch = try #require(objects(try EventDecoder.decodeMessages(Fixtures.parse(batch))).first)
        #expect(fromBatch.key == "customer/accounts/ds=2025-09-10/part-002.parquet")
    }

    @Test(arguments: [
        ("{\"source\":\"aws.s3\",\"detail-type\":\"Object Created\"}", "detail"),
        ("{\"source\":\"aws.s3\",\"detail-type\":\"Object Created\",\"detail\":{\"bucket\":{\"name\":\"data-pipeline-curated-dev\"},\"object\":{}}}", "detail.object.key"),
        ("{\"source\":\"aws.s3\",\"detail-type\":\"Object Created\",\"detail\":{\"bucket\":{\"name\":\"data-pipeline-curated-dev\"},\"object\":{\"key\":\"k\",\"size\":\"10\"}}}", "detail.object.size"),
        ("{\"source\":\"aws.s3\",\"detail-type\":\"Object Created\",\"detail\":{\"bucket\":{\"name\":\"Bad_Bucket\"},\"object\":{\"key\":\"k\"}}}", "detail.bucket.name"),
        ("{\"source\":\"aws.s3\",\"detail-type\":\"Object Created\",\"detail\":{\"bucket\":{\"name\":\"evil.com/x\"},\"object\":{\"key\":\"k\"}}}", "detail.bucket.name"),
        ("{\"detail-type\":\"Object Created\",\"detail\":{}}", "source"),
        ("[1]", "[0]"),
        ("[]", "$"),
        ("\"text\"", "$"),
        ("{\"Records\":[{\"eventSource\":\"aws:s3\",\"eventName\":\"ObjectCreated:Put\",\"s3\":{\"bucket\":{\"name\":\"data-pipeline-curated-dev\"},\"object\":{\"key\":\"a%zz\"}}}]}", "Records[0].s3.object.key"),
    ])
    func invalidEventsNameTheField(body: String, field: String) throws {
        do {
            _ = try EventDecoder.decodeEvents(Fixtures.parse(body))
            Issue.record("accepted \(body)")
        } catch let error as SluiceError {
            #expect(error.code == .invalidEvent)
            #expect(error.field == field, "\(error)")
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test(arguments: [
        ("{\"key\":\"a\"}", "bucket"),
        ("{\"bucket\":\"data-pipeline-curated-dev\"}", "key"),
        ("{\"bucket\":\"data-pipeline-curated-dev\",\"key\":\"k\",\"file_size\":-1}", "file_size"),
        ("{\"bucket\":\"data-pipeline-curated-dev\",\"key\":\"k\",\"file_size\":1.5}", "file_size"),
        ("{\"bucket\":\"data-pipeline-curated-dev\",\"key\":\"k\",\"correlation_id\":\"has space\"}", "correlation_id"),
        ("{\"bucket\":7,\"key\":\"k\"}", "bucket"),
        ("[{\"bucket\":\"data-pipeline-curated-dev\",\"key\":\"k\"},{\"bucket\":\"data-pipeline-curated-dev\"}]", "[1].key"),
        ("{\"Records\":[{\"messageId\":\"1\",\"body\":7}]}", "Records[0].body"),
        ("{\"Records\":[{\"messageId\":\"1\"}]}", "Records[0].body"),
    ])
    func invalidMessagesNameTheField(body: String, field: String) throws {
        do {
            _ = try EventDecoder.decodeMessages(Fixtures.parse(body))
            Issue.record("accepted \(body)")
        } catch let error as SluiceError {
            #expect(error.code == .invalidEvent)
            #expect(error.field == field, "\(error)")
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func payloadsInsideEnvelopesAreInvalidItemsNotRequestErrors() throws {
        let batch = """
            {"Records":[{"messageId":"m1","body":"not json"},{"messageId":"m2","body":\(Fixtures.quoted(Fixtures.message()))},\
            {"messageId":"m3","body":"{\\"key\\":\\"k\\"}"}]}
            """
        let decoded = try EventDecoder.decodeMessages(Fixtures.parse(batch))
        #expect(decoded.count == 3)
        guard case .invalid(let e1, let p1) = decoded[0], case .object = decoded[1], case .invalid(let e3, _) = decoded[2] else {
            Issue.record("unexpected decoding \(decoded)")
            return
        }
        #expect(e1.field == "Records[0].body")
        #expect(p1 == "not json")
        #expect(e3.field == "Records[2].body.bucket")

        let sns = "{\"Type\":\"Notification\",\"TopicArn\":\"arn:aws:sns:us-east-1:1:t\",\"Message\":\"hello\"}"
        guard case .invalid(let e, let payload) = try EventDecoder.decodeEvents(Fixtures.parse(sns)).first else {
            Issue.record("expected invalid")
            return
        }
        #expect(e.field == "Message")
        #expect(payload == "hello")
    }

    @Test func recordsOfOtherSourcesAreTypeCheckedButNeedNoS3Fields() throws {
        let other = "{\"Records\":[{\"eventSource\":\"aws:sqs\",\"eventName\":\"x\"}]}"
        guard case .other = try EventDecoder.decodeEvents(Fixtures.parse(other)).first else {
            Issue.record("expected other")
            return
        }
        let badType = "{\"Records\":[{\"eventSource\":\"aws:sqs\",\"eventName\":\"x\",\"s3\":{\"object\":{\"sequencer\":{}}}}]}"
        #expect(throws: SluiceError.self) { try EventDecoder.decodeEvents(Fixtures.parse(badType)) }
    }

    @Test func tooManyEvents() throws {
        let body = "[" + Array(repeating: Fixtures.eventBridge(), count: EventDecoder.maxEventsPerRequest + 1).joined(separator: ",") + "]"
        #expect(throws: SluiceError.self) { try EventDecoder.decodeEvents(Fixtures.parse(body)) }
    }
}

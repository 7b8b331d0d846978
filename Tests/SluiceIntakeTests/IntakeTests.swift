import EventPattern
import SluiceCore
import SluiceIntake
import Testing

@Suite("Pattern filter and routing")
struct IntakeTests {
    let intake = try! Intake(configuration: Fixtures.configuration)

    func decide(events body: String, fallback: String = "fallback-id") throws -> IntakeDecision {
        let decoded = try EventDecoder.decodeEvents(Fixtures.parse(body))
        return try intake.decide(decoded[0], fallbackCorrelationID: fallback)
    }

    func decide(message body: String, fallback: String = "fallback-id") throws -> IntakeDecision {
        let decoded = try EventDecoder.decodeMessages(Fixtures.parse(body))
        return try intake.decide(decoded[0], fallbackCorrelationID: fallback)
    }

    @Test func acceptsTheSeedExample() throws {
        guard case .accept(let file) = try decide(events: Fixtures.eventBridge()) else {
            Issue.record("filtered")
            return
        }
        #expect(file.domain == "market")
        #expect(file.target == TableReference(database: "market", table: "prices"))
        #expect(file.parsedKey.partitionPath == "ds=2025-09-10")
        #expect(file.priority == .high)
        #expect(file.size == 1_048_576)
        // The EventBridge event id is the correlation id, so redeliveries keep it.
        #expect(file.correlationID == "17793124-05d4-b198-2fde-7ededc63b103")
        #expect(file.deliveryKey != nil)
    }

    @Test(arguments: [
        (Fixtures.eventBridge(bucket: "other-bucket"), "is not the curated bucket"),
        (Fixtures.eventBridge(key: "market/prices/ds=1/a.csv"), "does not end with .parquet"),
        (Fixtures.eventBridge(key: "finance/ledger/ds=1/a.parquet"), "does not start with a domain prefix"),
        (Fixtures.eventBridge(size: 1024), "is not over 1024 bytes"),
        (Fixtures.eventBridge(size: 0), "is not over 1024 bytes"),
        (Fixtures.eventBridge(detailType: "Object Deleted"), "not aws.s3 \"Object Created\""),
        (Fixtures.eventBridge(source: "aws.ec2"), "not aws.s3"),
    ])
    func filteredWithAReason(body: String, reason: String) throws {
        guard case .filter(let r, _) = try decide(events: body) else {
            Issue.record("accepted")
            return
        }
        #expect(r.contains(reason), "\(r)")
    }

    @Test func sizeJustOverTheFloorIsAccepted() throws {
        guard case .accept = try decide(events: Fixtures.eventBridge(size: 1025)) else {
            Issue.record("filtered")
            return
        }
    }

    @Test func deletedS3RecordIsFiltered() throws {
        let body = "{\"Records\":[\(Fixtures.s3Record(key: "market/prices/ds=1/x.parquet", eventName: "ObjectRemoved:Delete"))]}"
        guard case .filter(let reason, _) = try decide(events: body) else {
            Issue.record("accepted")
            return
        }
        #expect(reason.contains("ObjectRemoved:Delete"))
    }

    @Test func s3NotificationRoutes() throws {
        let body = "{\"Records\":[\(Fixtures.s3Record(key: "product/catalog/ds%3D2025-09-10/part+1.parquet"))]}"
        guard case .accept(let file) = try decide(events: body) else {
            Issue.record("filtered")
            return
        }
        #expect(file.key == "product/catalog/ds=2025-09-10/part 1.parquet")
        #expect(file.target.description == "product.catalog")
        #expect(file.priority == .low)
    }

    @Test func messageWithoutSizeIsAcceptedForTheLoaderToCheck() throws {
        let body = "{\"bucket\":\"\(Fixtures.bucket)\",\"key\":\"analytics/events/ds=1/p.parquet\"}"
        guard case .accept(let file) = try decide(message: body) else {
            Issue.record("filtered")
            return
        }
        #expect(file.size == nil)
        #expect(file.correlationID == "fallback-id")
    }

    @Test func messageCorrelationIDWins() throws {
        guard case .accept(let file) = try decide(message: Fixtures.message()) else {
            Issue.record("filtered")
            return
        }
        #expect(file.correlationID == "550e8400-e29b-41d4-a716-446655440000")
        #expect(file.priority == .medium)
    }

    @Test func smallMessageIsFiltered() throws {
        guard case .filter(let reason, let id) = try decide(message: Fixtures.message(size: "100")) else {
            Issue.record("accepted")
            return
        }
        #expect(reason.contains("not over 1024"))
        #expect(id == "550e8400-e29b-41d4-a716-446655440000")
    }

    @Test(arguments: [
        (",\"table_name\":\"orders\"", "table_name"),
        (",\"domain\":\"market\"", "domain"),
        (",\"partition\":\"ds=2024-01-01\"", "partition"),
    ])
    func declaredFieldsMustAgreeWithTheKey(extra: String, field: String) throws {
        // The fixture's empty domain/table_name/partition come first; the later duplicate key wins.
        let body = Fixtures.message(extra: extra)
        do {
            _ = try decide(message: body)
            Issue.record("accepted a contradicting \(field)")
        } catch let error as SluiceError {
            #expect(error.code == .invalidEvent)
            #expect(error.field == field)
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func matchingKeyWithoutTableLayoutIsE001() throws {
        do {
            _ = try decide(events: Fixtures.eventBridge(key: "market/only.parquet"))
            Issue.record("accepted")
        } catch let error as SluiceError {
            #expect(error.code == .invalidEvent)
            #expect(error.field == "detail.object.key")
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func customPatternFileIsEnforced() throws {
        let pattern = try Fixtures.parse("{\"source\":[\"aws.s3\"],\"detail\":{\"object\":{\"key\":[{\"prefix\":\"market/\"}]}}}")
        let custom = try Intake(configuration: Fixtures.configuration, patternJSON: pattern)
        let decoded = try EventDecoder.decodeEvents(Fixtures.parse(Fixtures.eventBridge(key: "customer/accounts/ds=1/a.parquet")))
        guard case .filter(let reason, _) = try custom.decide(decoded[0], fallbackCorrelationID: "x") else {
            Issue.record("accepted")
            return
        }
        #expect(reason.contains("intake pattern"))
    }

    @Test func defaultPatternIsTheSeedRule() throws {
        let pattern = Intake.defaultPattern(Fixtures.configuration)
        #expect(pattern["source"] == .array([.string("aws.s3")]))
        #expect(pattern["detail-type"] == .array([.string("Object Created")]))
        #expect(pattern["detail"]?["bucket"]?["name"] == .array([.string(Fixtures.bucket)]))
    }
}

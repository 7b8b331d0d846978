import EventPattern
import SluiceIntake

enum Fixtures {
    static let bucket = "data-pipeline-curated-dev"

    static func eventBridge(
        key: String = "market/prices/ds=2025-09-10/part-001.parquet",
        bucket: String = bucket,
        size: Int = 1_048_576,
        etag: String = "b1946ac92492d2347c6235b4d2611184",
        id: String = "17793124-05d4-b198-2fde-7ededc63b103",
        source: String = "aws.s3",
        detailType: String = "Object Created"
    ) -> String {
        """
        {"version":"0","id":"\(id)","detail-type":"\(detailType)","source":"\(source)","account":"111122223333",\
        "time":"2025-09-10T00:00:00Z","region":"us-east-1","resources":["arn:aws:s3:::\(bucket)"],\
        "detail":{"version":"0","bucket":{"name":"\(bucket)"},"object":{"key":\(quoted(key)),"size":\(size),\
        "etag":"\(etag)","sequencer":"617f08299329d189"},"request-id":"N4N7GDK58NMKJ12R","requester":"123456789012",\
        "source-ip-address":"1.2.3.4","reason":"PutObject"}}
        """
    }

    static func s3Record(key: String, bucket: String = bucket, size: Int = 4096, eventName: String = "ObjectCreated:Put") -> String {
        """
        {"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1","eventTime":"2025-09-10T00:00:00.000Z",\
        "eventName":"\(eventName)","responseElements":{"x-amz-request-id":"C3D13FE58DE4C810"},\
        "s3":{"s3SchemaVersion":"1.0","bucket":{"name":"\(bucket)","arn":"arn:aws:s3:::\(bucket)"},\
        "object":{"key":\(quoted(key)),"size":\(size),"eTag":"d41d8cd98f00b204e9800998ecf8427e","sequencer":"0055AED6DCD90281E5"}}}
        """
    }

    static func message(key: String = "customer/accounts/ds=2025-09-10/part-002.parquet", size: String = "2048", correlationID: String? = "550e8400-e29b-41d4-a716-446655440000", extra: String = "") -> String {
        let cid = correlationID.map { ",\"correlation_id\":\"\($0)\"" } ?? ""
        return "{\"bucket\":\"\(bucket)\",\"key\":\(quoted(key)),\"domain\":\"\",\"table_name\":\"\",\"partition\":\"\",\"file_size\":\(size)\(cid)\(extra)}"
    }

    static func quoted(_ s: String) -> String {
        JSONValue.string(s).serialized()
    }

    static func parse(_ text: String) throws -> JSONValue {
        try JSONValue.parse(Array(text.utf8), maxDepth: 64)
    }

    static var configuration: IntakeConfiguration {
        IntakeConfiguration(bucket: bucket)
    }
}

@testable import AWS
import AWSSigV4
import AsyncHTTPClient
import Foundation
import NIOHTTP1
import NIOSSL
import Testing

@Suite("XML reader")
struct XMLReaderTests {
    @Test("S3 error documents")
    func s3Error() throws {
        let xml = """
            <?xml version="1.0" encoding="UTF-8"?>
            <Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Key>a &amp; b &lt;c&gt; &#233;&#x65E5;</Key><RequestId>4442587FB7D0A2F9</RequestId></Error>
            """
        let root = try XMLReader.parse(Array(xml.utf8))
        #expect(root.name == "Error")
        #expect(root.string("Code") == "NoSuchKey")
        #expect(root.string("Key") == "a & b <c> é日")
        let parsed = XMLErrorParser.parse(status: 404, headers: [:], body: Array(xml.utf8))
        #expect(parsed?.code == "NoSuchKey")
        #expect(parsed?.requestID == "4442587FB7D0A2F9")
    }

    @Test("query-protocol error documents and namespaces")
    func queryError() throws {
        let xml = """
            <ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>InvalidIdentityToken</Code><Message>bad token</Message></Error><RequestId>r-1</RequestId></ErrorResponse>
            """
        let parsed = XMLErrorParser.parse(status: 400, headers: [:], body: Array(xml.utf8))
        #expect(parsed?.code == "InvalidIdentityToken")
        #expect(parsed?.message == "bad token")
        #expect(parsed?.requestID == "r-1")
        let prefixed = try XMLReader.parse(Array("<s:A xmlns:s=\"x\"><s:B>1</s:B><C/><![CDATA[<raw>]]></s:A>".utf8))
        #expect(prefixed.name == "A")
        #expect(prefixed.string("B") == "1")
        #expect(prefixed.child("C") != nil)
        #expect(prefixed.text == "<raw>")
    }

    @Test("malformed and hostile documents are refused", arguments: [
        "<a><b></a>",
        "<a>",
        "no xml at all",
        "<a>&unknown;</a>",
        "<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>",
        "<a></a><b></b>",
        String(repeating: "<a>", count: 40) + String(repeating: "</a>", count: 40),
        "<a attr=\"unterminated></a>",
    ])
    func malformed(_ text: String) {
        #expect(throws: XMLParseError.self) { try XMLReader.parse(Array(text.utf8)) }
    }
}

@Suite("Dates, endpoints, names")
struct ParsingTests {
    @Test("ISO 8601 and HTTP dates")
    func dates() {
        #expect(AWSDate.parseISO8601("2026-11-27T08:47:23Z") == Date(timeIntervalSince1970: 1_795_769_243))
        #expect(AWSDate.parseISO8601("2026-11-27T08:47:23.500Z") == Date(timeIntervalSince1970: 1_795_769_243.5))
        #expect(AWSDate.parseISO8601("2026-11-27T10:47:23+02:00") == Date(timeIntervalSince1970: 1_795_769_243))
        #expect(AWSDate.parseISO8601("2026-13-27T08:47:23Z") == nil)
        #expect(AWSDate.parseISO8601("2026-11-27") == nil)
        #expect(AWSDate.parseISO8601("2026-11-27T08:47:23Zjunk") == nil)
        #expect(AWSDate.parseHTTPDate("Fri, 27 Nov 2026 08:47:23 GMT") == Date(timeIntervalSince1970: 1_795_769_243))
        #expect(AWSDate.parseHTTPDate("Fri, 27 Foo 2026 08:47:23 GMT") == nil)
        #expect(AWSDate.parseHTTPDate("Fri, 27 Nov 99999999999999 08:47:23 GMT") == nil)
        #expect(AWSDate.parseHTTPDate("Fri, 99 Nov 2026 08:47:23 GMT") == nil)
    }

    @Test("endpoint URLs")
    func endpoints() throws {
        let moto = try AWSEndpoint(url: "http://127.0.0.1:5000")
        #expect(moto.scheme == "http")
        #expect(moto.hostHeader == "127.0.0.1:5000")
        #expect(moto.isIPOrLocalhost)
        let aws = try AWSEndpoint(url: "https://S3.eu-west-1.amazonaws.com:443/")
        #expect(aws.hostHeader == "s3.eu-west-1.amazonaws.com")
        #expect(aws.basePath == "")
        #expect(!aws.isIPOrLocalhost)
        let v6 = try AWSEndpoint(url: "http://[fd00:ec2::23]:80/base/")
        #expect(v6.host == "fd00:ec2::23")
        #expect(v6.hostHeader == "[fd00:ec2::23]")
        #expect(v6.basePath == "/base")
        for bad in ["ftp://h", "h:80", "https://h?x=1", "https://u@h", "https://h:0", "https://h:99999", "https://", "https://h h"] {
            #expect(throws: AWSError.self, "\(bad)") { try AWSEndpoint(url: bad) }
        }
    }

    @Test("bucket names", arguments: [
        ("data-pipeline-curated-dev", true), ("a.b.c", true), ("abc", true), (String(repeating: "a", count: 63), true),
        ("ab", false), (String(repeating: "a", count: 64), false), ("Upper", false), ("under_score", false),
        ("-start", false), ("end-", false), ("a..b", false), ("192.168.5.4", false), ("xn--abc", false),
        ("evil.com/x", false), ("b?x", false), ("b#x", false), ("b@x", false), ("b:80", false), ("bucket-s3alias", false),
    ])
    func bucketNames(_ name: String, _ valid: Bool) {
        #expect(S3Names.isValidBucketName(name) == valid)
    }

    @Test("keys that could change the path are refused")
    func keyProblems() {
        #expect(S3Names.keyProblem("a/b c/d+e=f%g") == nil)
        #expect(S3Names.keyProblem("odd//double") == nil)
        #expect(S3Names.keyProblem("") != nil)
        #expect(S3Names.keyProblem("../other-bucket/x") != nil)
        #expect(S3Names.keyProblem("a/./b") != nil)
        #expect(S3Names.keyProblem("a/..") != nil)
        #expect(S3Names.keyProblem(String(repeating: "é", count: 513)) != nil)
    }

    @Test("Content-Range")
    func contentRange() {
        #expect(S3Client.parseContentRange("bytes 0-9/100")! == (0, 9, 100))
        #expect(S3Client.parseContentRange("bytes 5-9/*")! == (5, 9, nil))
        #expect(S3Client.parseContentRange("bytes 9-5/100") == nil)
        #expect(S3Client.parseContentRange("items 0-9/100") == nil)
        #expect(S3Client.parseContentRange("bytes 0-9/x") == nil)
    }
}

@Suite("S3 addressing")
struct S3AddressingTests {
    func client(_ configuration: S3Configuration) -> S3Client {
        // Never used for I/O: only the address is computed.
        S3Client(configuration: configuration, credentials: TestServers.motoCredentials, transport: Self.transport)
    }

    static let transport = AWSHTTPTransport()

    @Test("virtual-hosted by default, path style when configured or needed")
    func styles() throws {
        let aws = self.client(S3Configuration(region: "eu-west-1"))
        let virtual = try aws.address(bucket: "data-lake", key: "a b/ü+=.parquet")
        #expect(virtual.endpoint.hostHeader == "data-lake.s3.eu-west-1.amazonaws.com")
        #expect(virtual.endpoint.scheme == "https")
        #expect(virtual.path == "/a%20b/%C3%BC%2B%3D.parquet")
        let dotted = try aws.address(bucket: "my.bucket", key: "k")
        #expect(dotted.endpoint.hostHeader == "s3.eu-west-1.amazonaws.com")
        #expect(dotted.path == "/my.bucket/k")

        let minio = self.client(S3Configuration(region: "us-east-1", endpoint: try AWSEndpoint(url: "https://minio.internal:9000"), pathStyle: true))
        let path = try minio.address(bucket: "bucket", key: "x?y#z")
        #expect(path.endpoint.hostHeader == "minio.internal:9000")
        #expect(path.path == "/bucket/x%3Fy%23z")
        let moto = self.client(S3Configuration(region: "us-east-1", endpoint: try AWSEndpoint(url: "http://127.0.0.1:5000")))
        #expect(try moto.address(bucket: "bucket", key: nil).path == "/bucket")
        #expect(try moto.address(bucket: "bucket", key: "k").endpoint.hostHeader == "127.0.0.1:5000")
    }

    @Test("bad bucket names and keys never reach the network")
    func refused() {
        let aws = self.client(S3Configuration(region: "us-east-1"))
        for bucket in ["evil.com#", "169.254.169.254", "a/b", "x@attacker"] {
            let error = #expect(throws: AWSError.self) { try aws.address(bucket: bucket, key: "k") }
            #expect(error?.code == AWSError.Code.invalidBucketName)
        }
        let error = #expect(throws: AWSError.self) { try aws.address(bucket: "bucket", key: "../escape") }
        #expect(error?.code == AWSError.Code.invalidObjectKey)
    }
}

@Suite("Configuration")
struct ConfigurationTests {
    @Test("documented keys and their environment fallbacks")
    func keys() throws {
        let environment = fakeEnvironment(["AWS_REGION": "eu-west-1", "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:5000", "AWS_ENDPOINT_URL_SQS": "http://127.0.0.1:5001"])
        let fromEnvironment = try AWSConfiguration(environment: environment)
        #expect(fromEnvironment.region == "eu-west-1")
        #expect(fromEnvironment.s3.region == "eu-west-1")
        #expect(fromEnvironment.s3.endpoint?.hostHeader == "127.0.0.1:5000")
        #expect(fromEnvironment.sqs.endpoint?.hostHeader == "127.0.0.1:5001")
        #expect(fromEnvironment.sts.endpoint == nil)
        #expect(fromEnvironment.s3.maxObjectBytes == S3Configuration.defaultMaxObjectBytes)
        #expect(fromEnvironment.s3.pathStyle == false)

        let configured = try AWSConfiguration(
            values: [
                "aws.region": "us-west-2", "s3.region": "eu-central-1", "s3.endpoint": "https://s3.example.net",
                "s3.path_style": "TRUE", "s3.max_object_bytes": "1048576", "sqs.endpoint": "https://sqs.example.net",
                "sts.region": "us-east-1", "aws.read_timeout_seconds": "120",
            ],
            environment: environment
        )
        #expect(configured.region == "us-west-2")
        #expect(configured.s3.region == "eu-central-1")
        #expect(configured.s3.endpoint?.hostHeader == "s3.example.net")
        #expect(configured.s3.pathStyle)
        #expect(configured.s3.maxObjectBytes == 1_048_576)
        #expect(configured.sqs.endpoint?.scheme == "https")
        #expect(configured.sqs.region == "us-west-2")
        #expect(configured.sts.region == "us-east-1")
        #expect(configured.http.readTimeoutSeconds == 120)

        let defaults = try AWSConfiguration(environment: fakeEnvironment([:]))
        #expect(defaults.region == "us-east-1")
        #expect(defaults.sqs.resolvedEndpoint(service: "sqs").description == "https://sqs.us-east-1.amazonaws.com")
    }

    @Test("a bad value names its key", arguments: [
        ("s3.path_style", "maybe"), ("s3.max_object_bytes", "-1"), ("s3.max_object_bytes", "lots"), ("s3.endpoint", "s3.example.net"),
        ("aws.region", "EU West"), ("aws.connect_timeout_seconds", "0"), ("sqs.endpoint", "ftp://x"),
    ])
    func badValue(_ key: String, _ value: String) {
        let error = #expect(throws: AWSError.self) { try AWSConfiguration(values: [key: value], environment: fakeEnvironment([:])) }
        #expect(error?.code == AWSError.Code.invalidConfiguration)
        #expect(error?.message.contains(key) == true)
    }
}

@Suite("Errors and transport")
struct ErrorTests {
    @Test("classification follows AWS's guidance")
    func classification() {
        #expect(AWSError.category(code: "SlowDown", status: 503) == .throttled)
        #expect(AWSError.category(code: "ThrottlingException", status: 400) == .throttled)
        #expect(AWSError.category(code: "Whatever", status: 429) == .throttled)
        #expect(AWSError.category(code: "InternalError", status: 500) == .retryable)
        #expect(AWSError.category(code: "Unknown", status: 502) == .retryable)
        #expect(AWSError.category(code: "RequestTimeout", status: 400) == .retryable)
        #expect(AWSError.category(code: "NoSuchKey", status: 404) == .permanent)
        #expect(AWSError.category(code: "AccessDenied", status: 403) == .permanent)
        #expect(AWSError.category(code: "PreconditionFailed", status: 412) == .permanent)
    }

    @Test("descriptions name what failed and nothing secret")
    func description() {
        let error = AWSError(
            code: "NoSuchKey", httpStatus: 404, category: .permanent, requestID: "R1", message: "The specified key does not exist.",
            service: "s3", operation: "GetObject", resource: "s3://bucket/market/x.parquet"
        )
        #expect(error.description == "s3 GetObject s3://bucket/market/x.parquet failed: NoSuchKey (HTTP 404) [permanent]: The specified key does not exist. (request id R1)")
        #expect(error.isNotFound)
        #expect(!error.isRetryable)
    }

    @Test("SQS JSON errors")
    func sqsErrors() {
        let body = Array(#"{"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"The specified queue does not exist."}"#.utf8)
        #expect(SQSClient.parseError(status: 400, headers: [:], body: body)?.code == "QueueDoesNotExist")
        let headerOnly = SQSClient.parseError(status: 400, headers: ["x-amzn-query-error": "AWS.SimpleQueueService.NonExistentQueue;Sender"], body: [])
        #expect(headerOnly?.code == "AWS.SimpleQueueService.NonExistentQueue")
        #expect(SQSClient.parseError(status: 500, headers: [:], body: Array("<html>".utf8)) == nil)
    }

    @Test("https verifies certificates and requires TLS 1.2; redirects are not followed")
    func tls() {
        let tls = AWSHTTPTransport.tlsConfiguration()
        #expect(tls.minimumTLSVersion == .tlsv12)
        #expect(tls.certificateVerification == .fullVerification)
        let configuration = AWSHTTPTransport.clientConfiguration(AWSHTTPConfiguration())
        #expect(configuration.tlsConfiguration?.minimumTLSVersion == .tlsv12)
        #expect(configuration.tlsConfiguration?.certificateVerification == .fullVerification)
        #expect("\(configuration.redirectConfiguration)".contains("disallow"))
    }

    @Test("shared config INI parsing")
    func ini() {
        let sections = SharedConfig.parseINI("""
            ; comment
            [default]
            aws_access_key_id=AKID
            aws_secret_access_key = se#cret ; trailing comment
            s3 =
              max_concurrent_requests = 20
            [profile dev]
            region = eu-west-1
            """)
        #expect(sections.map(\.0) == ["default", "profile dev"])
        #expect(sections[0].1 == ["aws_access_key_id": "AKID", "aws_secret_access_key": "se#cret", "s3": ""])
        #expect(sections[1].1 == ["region": "eu-west-1"])
    }
}

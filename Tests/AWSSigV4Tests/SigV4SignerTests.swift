import AWSSigV4
import Foundation
import Testing

@Suite("SigV4 signer")
struct SigV4SignerTests {
    let credentials = SigV4Credentials(
        accessKeyID: "AKIAIOSFODNN7EXAMPLE",
        secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        sessionToken: "FQoGZXIvYXdzEXAMPLETOKEN"
    )

    @Test("timestamps format in UTC", arguments: [
        (0.0, "19700101", "19700101T000000Z"),
        (1_440_938_160.0, "20150830", "20150830T123600Z"),
        (951_782_400.0, "20000229", "20000229T000000Z"),
        (4_102_444_799.9, "20991231", "20991231T235959Z"),
        (-1.0, "19691231", "19691231T235959Z"),
    ])
    func timestamp(_ seconds: Double, _ date: String, _ dateTime: String) {
        let stamp = SigV4Timestamp(Date(timeIntervalSince1970: seconds))
        #expect(stamp.date == date)
        #expect(stamp.dateTime == dateTime)
    }

    @Test("out-of-range dates are clamped instead of trapping")
    func extremeDates() {
        #expect(SigV4Timestamp(Date(timeIntervalSince1970: .infinity)).dateTime == "19700101T000000Z")
        #expect(SigV4Timestamp(Date(timeIntervalSince1970: .nan)).dateTime == "19700101T000000Z")
        #expect(SigV4Timestamp(Date(timeIntervalSince1970: 1e18)).dateTime == "99991231T235959Z")
        #expect(SigV4Timestamp(Date(timeIntervalSince1970: -1e18)).dateTime == "00010101T000000Z")
    }

    @Test("credential descriptions never reveal the secret or the token")
    func redaction() {
        for text in [credentials.description, credentials.debugDescription, "\(credentials)", String(reflecting: credentials)] {
            #expect(!text.contains(credentials.secretAccessKey))
            #expect(!text.contains("FQoGZXIvYXdzEXAMPLETOKEN"))
            #expect(!text.contains("AKIAIOSFODNN7EXAMPLE"))
            #expect(text.contains("AKIA"))
        }
    }

    @Test("object keys encode so they cannot change the URL structure")
    func keyEncoding() {
        #expect(SigV4URIEncoding.encodePath("a b/c+d=e%f?g#h~i") == "a%20b/c%2Bd%3De%25f%3Fg%23h~i")
        #expect(SigV4URIEncoding.encodePath("../x") == "../x")
        #expect(SigV4URIEncoding.encodePath("données") == "donn%C3%A9es")
        #expect(SigV4URIEncoding.encode("a/b") == "a%2Fb")
        #expect(SigV4URIEncoding.decode("a%2Fb+c") == "a/b+c")
        #expect(SigV4URIEncoding.decode("bad%2") == nil)
        #expect(SigV4URIEncoding.decode("bad%zz") == nil)
        #expect(SigV4URIEncoding.decode("%FF") == nil)
    }

    @Test("S3 mode keeps the path as sent; standard mode normalises and encodes twice")
    func pathModes() {
        let request = SigV4Request(method: "GET", path: "/a//b/./c%20d", headers: [SigV4Header("Host", "h")])
        let date = Date(timeIntervalSince1970: 0)
        let s3 = SigV4Signer(credentials: credentials, region: "us-east-1", service: "s3", options: .s3)
            .signHeaders(request, payload: .unsigned, date: date)
        #expect(s3.canonicalRequest.split(separator: "\n")[1] == "/a//b/./c%20d")
        let standard = SigV4Signer(credentials: credentials, region: "us-east-1", service: "sqs", options: .standard)
            .signHeaders(request, payload: .empty, date: date)
        #expect(standard.canonicalRequest.split(separator: "\n")[1] == "/a/b/c%2520d")
    }

    @Test("S3 signing adds date, token and payload hash, and replaces stale copies")
    func addedHeaders() {
        let request = SigV4Request(
            method: "GET",
            path: "/k",
            headers: [SigV4Header("Host", "b.s3.amazonaws.com"), SigV4Header("x-amz-date", "stale"), SigV4Header("Authorization", "old")]
        )
        let signed = SigV4Signer(credentials: credentials, region: "eu-west-1", service: "s3", options: .s3)
            .signHeaders(request, payload: .unsigned, date: Date(timeIntervalSince1970: 1_440_938_160))
        let names = signed.headers.map { $0.name.lowercased() }
        #expect(names == ["host", "x-amz-date", "x-amz-security-token", "x-amz-content-sha256", "authorization"])
        #expect(signed.headers.first { $0.name == "X-Amz-Content-SHA256" }?.value == "UNSIGNED-PAYLOAD")
        #expect(signed.authorization.hasPrefix("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20150830/eu-west-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token, Signature="))
        #expect(signed.canonicalRequest.hasSuffix("\nUNSIGNED-PAYLOAD"))
    }

    @Test("the signature depends on every input")
    func sensitivity() {
        let request = SigV4Request(method: "GET", path: "/k", headers: [SigV4Header("Host", "h")])
        let date = Date(timeIntervalSince1970: 1_440_938_160)
        let base = SigV4Signer(credentials: credentials, region: "us-east-1", service: "s3", options: .s3)
        let reference = base.signHeaders(request, payload: .empty, date: date).signature
        var other = base
        other.region = "us-east-2"
        #expect(other.signHeaders(request, payload: .empty, date: date).signature != reference)
        #expect(base.signHeaders(request, payload: .empty, date: date.addingTimeInterval(1)).signature != reference)
        #expect(base.signHeaders(request, payload: .unsigned, date: date).signature != reference)
        var changed = request
        changed.path = "/K"
        #expect(base.signHeaders(changed, payload: .empty, date: date).signature != reference)
        #expect(base.signHeaders(request, payload: .empty, date: date).signature == reference)
    }
}

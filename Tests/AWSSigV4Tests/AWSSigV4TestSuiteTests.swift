import AWSSigV4
import Foundation
import Testing

/// The classic AWS SigV4 test suite (`aws-sig-v4-test-suite/`): generic-service rules, header
/// signing, every case including the four botocore skips.
@Suite("AWS SigV4 test suite", .enabled(if: Corpus.shouldRun, "corpus not found; set SLUICE_CORPUS"))
struct AWSSigV4TestSuiteTests {
    static let base = "aws-sig-v4-test-suite"

    static var cases: [String] {
        var result: [String] = []
        for name in Corpus.directories(in: base) {
            if name == "normalize-path" || name == "post-sts-token" {
                result += Corpus.directories(in: "\(base)/\(name)").map { "\(name)/\($0)" }
            } else {
                result.append(name)
            }
        }
        return result
    }

    static func sessionToken() throws -> String {
        let readme = try Corpus.read("\(base)/post-sts-token/readme.txt")
        let lines = readme.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        return try #require(lines.last(where: { !$0.isEmpty }))
    }

    @Test("the suite has 34 cases")
    func caseCount() {
        #expect(Self.cases.count == 34)
    }

    @Test("header signing matches", arguments: cases)
    func vector(_ relative: String) throws {
        let name = (relative as NSString).lastPathComponent
        let prefix = "\(Self.base)/\(relative)/\(name)"
        let request = try RawRequest(parsing: Corpus.read("\(prefix).req"))
        var credentials = Fixed.suiteCredentials
        var options = SigV4Options.standard
        let expected = try RawRequest(parsing: Corpus.read("\(prefix).sreq"))
        if let token = expected.headers.first(where: { $0.name.lowercased() == "x-amz-security-token" }) {
            // get-vanilla-with-session-token names its token only in the signed request.
            credentials.sessionToken = token.value
        }
        if relative.hasPrefix("post-sts-token/") {
            credentials.sessionToken = try Self.sessionToken()
            options.signsSessionToken = name == "post-sts-header-before"
        }
        let signer = SigV4Signer(credentials: credentials, region: "us-east-1", service: "service", options: options)
        let signed = signer.signHeaders(request.sigV4Request, payload: .bytes(request.body), date: Fixed.suiteDate)

        #expect(signed.canonicalRequest == (try Corpus.read("\(prefix).creq")), "\(relative): canonical request")
        #expect(signed.stringToSign == (try Corpus.read("\(prefix).sts")), "\(relative): string to sign")
        #expect(signed.authorization == (try Corpus.read("\(prefix).authz")), "\(relative): authorization")
        // `.authz` is authoritative for the Authorization value: in get-vanilla-with-session-token
        // the `.sreq` copy carries a garbled signature (its hex digits rotated).
        let withoutAuthorization = { (headers: [SigV4Header]) in headers.filter { $0.name.lowercased() != "authorization" } }
        #expect(
            RawRequest.normalized(withoutAuthorization(signed.headers)) == RawRequest.normalized(withoutAuthorization(expected.headers)),
            "\(relative): signed headers"
        )
    }
}

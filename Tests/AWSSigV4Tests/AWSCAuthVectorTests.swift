import AWSSigV4
import Foundation
import Testing

/// The aws-c-auth signing suite (`aws-c-auth-v4/`): header and query (presigned) variants, with
/// the per-case `normalize`, `sign_body` and `omit_session_token` switches.
@Suite("aws-c-auth SigV4 vectors", .enabled(if: Corpus.shouldRun, "corpus not found; set SLUICE_CORPUS"))
struct AWSCAuthVectorTests {
    static let base = "aws-c-auth-v4"
    static var cases: [String] { Corpus.directories(in: base) }

    struct Context {
        var signer: SigV4Signer
        var date: Date
        var expires: Int
        var request: RawRequest
        var signsBody: Bool
    }

    static func context(_ name: String) throws -> Context {
        let json = try #require(try Corpus.readJSON("\(base)/\(name)/context.json") as? [String: Any])
        let credentials = try #require(json["credentials"] as? [String: Any])
        let normalize = try #require(json["normalize"] as? Bool)
        let signBody = (json["sign_body"] as? Bool) ?? false
        let omitToken = (json["omit_session_token"] as? Bool) ?? false
        let options = SigV4Options(
            normalizesPath: normalize,
            encodesPathTwice: true,
            signsSessionToken: !omitToken,
            addsContentSHA256Header: signBody
        )
        let signer = SigV4Signer(
            credentials: SigV4Credentials(
                accessKeyID: try #require(credentials["access_key_id"] as? String),
                secretAccessKey: try #require(credentials["secret_access_key"] as? String),
                sessionToken: credentials["token"] as? String
            ),
            region: try #require(json["region"] as? String),
            service: try #require(json["service"] as? String),
            options: options
        )
        let timestamp = try #require(json["timestamp"] as? String)
        return Context(
            signer: signer,
            date: try #require(Fixed.date(timestamp)),
            expires: try #require(json["expiration_in_seconds"] as? Int),
            request: try RawRequest(parsing: Corpus.read("\(base)/\(name)/request.txt")),
            signsBody: signBody
        )
    }

    @Test("header signing matches", arguments: cases)
    func header(_ name: String) throws {
        let context = try Self.context(name)
        let signed = context.signer.signHeaders(
            context.request.sigV4Request,
            payload: .bytes(context.request.body),
            date: context.date
        )
        let dir = "\(Self.base)/\(name)"
        #expect(signed.canonicalRequest == (try Corpus.read("\(dir)/header-canonical-request.txt")), "\(name)")
        #expect(signed.stringToSign == (try Corpus.read("\(dir)/header-string-to-sign.txt")), "\(name)")
        #expect(signed.signature == (try Corpus.read("\(dir)/header-signature.txt")), "\(name)")
        let expected = try RawRequest(parsing: Corpus.read("\(dir)/header-signed-request.txt"))
        #expect(RawRequest.normalized(signed.headers) == RawRequest.normalized(expected.headers), "\(name)")
    }

    @Test("query signing matches", arguments: cases)
    func query(_ name: String) throws {
        let context = try Self.context(name)
        let signed = context.signer.presign(
            context.request.sigV4Request,
            payload: .bytes(context.request.body),
            date: context.date,
            expires: context.expires
        )
        let dir = "\(Self.base)/\(name)"
        #expect(signed.canonicalRequest == (try Corpus.read("\(dir)/query-canonical-request.txt")), "\(name)")
        #expect(signed.stringToSign == (try Corpus.read("\(dir)/query-string-to-sign.txt")), "\(name)")
        #expect(signed.signature == (try Corpus.read("\(dir)/query-signature.txt")), "\(name)")
        let expected = try RawRequest(parsing: Corpus.read("\(dir)/query-signed-request.txt"))
        let mine = signed.query.map { "\($0.name)=\($0.value)" }.sorted()
        let theirs = expected.query.map { "\($0.name)=\($0.value)" }.sorted()
        #expect(mine == theirs, "\(name): presigned query parameters")
        // The encoded query must decode back to the same parameters.
        let (_, reparsed) = try RawRequest.splitTarget("/?" + signed.encodedQuery)
        #expect(reparsed == signed.query)
    }
}

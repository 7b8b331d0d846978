import AWSSigV4
import Foundation
import Testing

/// S3 cases generated with botocore's `S3SigV4Auth` (`s3-botocore-generated/cases.json`), four of
/// them the AWS S3 documentation's published examples.
@Suite("S3 SigV4 vectors", .enabled(if: Corpus.shouldRun, "corpus not found; set SLUICE_CORPUS"))
struct S3BotocoreVectorTests {
    static var cases: [String] {
        guard let json = try? Corpus.readJSON("s3-botocore-generated/cases.json") as? [String: Any],
            let cases = json["cases"] as? [[String: Any]]
        else { return [] }
        return cases.compactMap { $0["id"] as? String }
    }

    static func testCase(_ id: String) throws -> [String: Any] {
        let json = try #require(try Corpus.readJSON("s3-botocore-generated/cases.json") as? [String: Any])
        let cases = try #require(json["cases"] as? [[String: Any]])
        return try #require(cases.first { $0["id"] as? String == id })
    }

    @Test("there are 16 cases")
    func caseCount() {
        #expect(Self.cases.count == 16)
    }

    @Test("S3 header signing matches", arguments: cases)
    func vector(_ id: String) throws {
        let c = try Self.testCase(id)
        let expected = try #require(c["expected"] as? [String: Any])
        let host = try #require(c["host"] as? String)
        var headers = [SigV4Header("Host", host)]
        for (name, value) in (c["headers"] as? [String: String] ?? [:]).sorted(by: { $0.key < $1.key }) {
            headers.append(SigV4Header(name, value))
        }
        let query = (c["query"] as? [[String]] ?? []).map { SigV4QueryItem($0[0], $0[1]) }
        let path = try #require(c["input_url_path"] as? String)
        let body = Array((c["body_utf8"] as? String ?? "").utf8)
        let payload: SigV4Payload = (c["sign_payload"] as? Bool) == false ? .unsigned : .bytes(body)
        let signer = SigV4Signer(
            credentials: SigV4Credentials(
                accessKeyID: try #require(c["access_key_id"] as? String),
                secretAccessKey: try #require(c["secret_access_key"] as? String),
                sessionToken: c["session_token"] as? String
            ),
            region: try #require(c["region"] as? String),
            service: "s3",
            options: .s3
        )
        let timestamp = try #require(c["timestamp"] as? String)
        let date = try #require(Fixed.date(timestamp))
        let method = try #require(c["method"] as? String)
        let request = SigV4Request(method: method, path: path, query: query, headers: headers)
        let signed = signer.signHeaders(request, payload: payload, date: date)

        #expect(signed.canonicalRequest == expected["canonical_request"] as? String, "\(id)")
        #expect(signed.stringToSign == expected["string_to_sign"] as? String, "\(id)")
        #expect(signed.signature == expected["signature"] as? String, "\(id)")
        #expect(signed.authorization == expected["authorization"] as? String, "\(id)")
        if let published = c["published_signature"] as? String {
            #expect(signed.signature == published, "\(id): AWS documentation signature")
        }
        if let sent = expected["signed_request_headers"] as? [String: String] {
            let mine = Dictionary(signed.headers.map { ($0.name.lowercased(), $0.value) }, uniquingKeysWith: { a, _ in a })
            for (name, value) in sent {
                #expect(mine[name.lowercased()] == value, "\(id): header \(name)")
            }
        }
        // The URL we would send: the encoded path as given and the query in SigV4 encoding.
        // botocore writes a space in the query as `+`; both mean the same to S3.
        let scheme = try #require(c["scheme"] as? String)
        var url = "\(scheme)://\(host)\(path)"
        if !query.isEmpty { url += "?" + SigV4Signer.encodeQuery(query) }
        let wire = try #require(expected["wire_url"] as? String)
        #expect(url == wire.replacingOccurrences(of: "+", with: "%20"), "\(id): wire URL")
    }

    @Test("the object key encoder yields botocore's paths", arguments: cases)
    func keyEncoding(_ id: String) throws {
        let c = try Self.testCase(id)
        guard let key = c["key"] as? String else { return }
        let prefix = c["path_prefix"] as? String ?? "/"
        #expect(prefix + SigV4URIEncoding.encodePath(key) == c["input_url_path"] as? String, "\(id)")
    }
}

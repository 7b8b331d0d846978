import AWSSigV4
import Foundation

/// A request as written in the test suites' `.req` / `request.txt` files: a request line, header
/// lines (a line starting with whitespace continues the previous value), a blank line, a body.
struct RawRequest {
    var method: String
    var path: String
    var query: [SigV4QueryItem]
    var headers: [SigV4Header]
    var body: [UInt8]

    init(parsing text: String) throws {
        var lines = text.components(separatedBy: "\n").map { $0.hasSuffix("\r") ? String($0.dropLast()) : $0 }
        let requestLine = lines.removeFirst()
        guard let firstSpace = requestLine.firstIndex(of: " "),
            let versionRange = requestLine.range(of: " HTTP/", options: .backwards)
        else { throw ParseError(line: requestLine) }
        self.method = String(requestLine[..<firstSpace])
        let target = String(requestLine[requestLine.index(after: firstSpace)..<versionRange.lowerBound])
        (self.path, self.query) = try Self.splitTarget(target)
        self.headers = []
        var bodyLines: [String] = []
        var inBody = false
        for line in lines {
            if inBody {
                bodyLines.append(line)
            } else if line.isEmpty {
                inBody = true
            } else if line.first == " " || line.first == "\t", !self.headers.isEmpty {
                self.headers[self.headers.count - 1].value += "\n" + line
            } else if let colon = line.firstIndex(of: ":") {
                self.headers.append(SigV4Header(String(line[..<colon]), String(line[line.index(after: colon)...])))
            } else {
                throw ParseError(line: line)
            }
        }
        self.body = Array(bodyLines.joined(separator: "\n").utf8)
    }

    static func splitTarget(_ target: String) throws -> (String, [SigV4QueryItem]) {
        guard let question = target.firstIndex(of: "?") else { return (target, []) }
        let path = String(target[..<question])
        let queryString = target[target.index(after: question)...]
        var items: [SigV4QueryItem] = []
        for pair in queryString.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = SigV4URIEncoding.decode(String(parts[0])),
                let value = SigV4URIEncoding.decode(parts.count > 1 ? String(parts[1]) : "")
            else { throw ParseError(line: String(pair)) }
            items.append(SigV4QueryItem(name, value))
        }
        return (path, items)
    }

    var sigV4Request: SigV4Request {
        SigV4Request(method: self.method, path: self.path, query: self.query, headers: self.headers)
    }

    /// Headers as comparable pairs: lower-case name, trimmed value.
    static func normalized(_ headers: [SigV4Header]) -> [String] {
        headers.map { "\($0.name.lowercased()):\($0.value.trimmingCharacters(in: .whitespaces))" }.sorted()
    }

    struct ParseError: Error, CustomStringConvertible {
        var line: String
        var description: String { "cannot parse request line: \(self.line)" }
    }
}

enum Fixed {
    /// 2015-08-30T12:36:00Z, the test suites' instant.
    static let suiteDate = Date(timeIntervalSince1970: 1_440_938_160)
    static let suiteCredentials = SigV4Credentials(
        accessKeyID: "AKIDEXAMPLE",
        secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
    )

    /// Parses `YYYYMMDDTHHMMSSZ` or `YYYY-MM-DDTHH:MM:SSZ`.
    static func date(_ text: String) -> Date? {
        let digits = text.filter(\.isNumber)
        guard digits.count == 14 else { return nil }
        var components = DateComponents()
        let chars = Array(digits)
        func number(_ range: Range<Int>) -> Int { Int(String(chars[range]))! }
        components.year = number(0..<4)
        components.month = number(4..<6)
        components.day = number(6..<8)
        components.hour = number(8..<10)
        components.minute = number(10..<12)
        components.second = number(12..<14)
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar.date(from: components)
    }
}

@testable import ClickHouse
import Testing

/// The parser and the classification on real error responses recorded from both servers (ErrorBodies.swift).
@Suite("Error classification of recorded server responses")
struct ErrorClassificationTests {
    struct Expectation: Sendable, CustomStringConvertible {
        let name: String
        let ch18: (code: Int, category: ClickHouseError.Category)?
        let ch26: (code: Int, category: ClickHouseError.Category)?
        var description: String { name }
    }

    static let expectations: [Expectation] = [
        .init(name: "unknown_table", ch18: (60, .schema), ch26: (60, .schema)),
        .init(name: "unknown_database", ch18: (81, .schema), ch26: (81, .schema)),
        .init(name: "no_such_column", ch18: (16, .schema), ch26: (16, .schema)),
        .init(name: "syntax_error", ch18: (62, .rejected), ch26: (62, .rejected)),
        .init(name: "unknown_setting", ch18: (115, .rejected), ch26: (115, .rejected)),
        .init(name: "cannot_parse_tsv", ch18: (27, .schema), ch26: (27, .schema)),
        .init(name: "truncated_rowbinary", ch18: (33, .schema), ch26: (33, .schema)),
        .init(name: "truncated_native", ch18: (33, .schema), ch26: (33, .schema)),
        .init(name: "native_bad_cast", ch18: (368, .schema), ch26: nil),  // 26.9 converts and answers 200
        .init(name: "unknown_type", ch18: (50, .schema), ch26: (50, .schema)),
        .init(name: "type_mismatch", ch18: (53, .schema), ch26: (53, .schema)),
        .init(name: "memory_limit", ch18: (241, .memory), ch26: (241, .memory)),
        .init(name: "timeout", ch18: (159, .unavailable), ch26: (159, .unavailable)),
        .init(name: "too_many_parts", ch18: (252, .unavailable), ch26: (252, .unavailable)),
        .init(name: "wrong_password", ch18: (193, .permission), ch26: (516, .permission)),
        .init(name: "unknown_user", ch18: (192, .permission), ch26: (516, .permission)),
        .init(name: "readonly_user", ch18: (164, .permission), ch26: (164, .permission)),
        .init(name: "insert_via_get", ch18: (164, .permission), ch26: (164, .permission)),
        .init(name: "access_denied", ch18: (291, .permission), ch26: (497, .permission)),
        .init(name: "exception_in_stream", ch18: (395, .server), ch26: (395, .server)),
    ]

    static func response(_ name: String, _ server: String) -> ErrorBodies.Response? {
        guard let fixture = ErrorBodies.cases.first(where: { $0.name == name }) else { return nil }
        return server == "18.16" ? fixture.ch18 : fixture.ch26
    }

    static func error(_ name: String, _ server: String) throws -> ClickHouseError {
        let response = try #require(Self.response(name, server))
        return try #require(classify(response))
    }

    static func classify(_ response: ErrorBodies.Response) -> ClickHouseError? {
        let body = Array(response.body.utf8)
        guard response.status >= 300 || response.exceptionCode != nil || ClickHouseClient.hasStreamedException(body) else { return nil }
        return ClickHouseError.fromResponse(status: response.status, exceptionCodeHeader: response.exceptionCode, body: body, queryID: "q-1")
    }

    @Test(arguments: expectations)
    func classifiesBothServers(_ expectation: Expectation) throws {
        for (server, expected) in [("18.16", expectation.ch18), ("26.9", expectation.ch26)] {
            let response = try #require(Self.response(expectation.name, server))
            let error = Self.classify(response)
            guard let expected else {
                #expect(error == nil, "\(server) \(expectation.name) is not an error")
                continue
            }
            let classified = try #require(error, "\(server) \(expectation.name) must be an error")
            #expect(classified.serverCode == expected.code, "\(server) \(expectation.name)")
            #expect(classified.category == expected.category, "\(server) \(expectation.name)")
            #expect(classified.httpStatus == response.status)
            #expect(!classified.message.isEmpty)
            #expect(!classified.message.hasPrefix("Code:"), "the message drops the code prefix")
        }
    }

    @Test func messagesAndNamesFromBothFormats() throws {
        let old = try Self.error("unknown_table", "18.16")
        #expect(old.message == "Table errfix.nope doesn't exist.")
        #expect(old.serverCodeName == nil)
        let new = try Self.error("unknown_table", "26.9")
        #expect(new.message == "Table errfix.nope does not exist. Maybe you meant system.one?")
        #expect(new.serverCodeName == "UNKNOWN_TABLE")
        let auth = try Self.error("wrong_password", "26.9")
        #expect(auth.serverCodeName == "AUTHENTICATION_FAILED")
        #expect(auth.message == "writer: Authentication failed: password is incorrect, or there is no user with such name")
    }

    @Test func exceptionAfterA200IsFoundAndMarkedUncertain() throws {
        let response = try #require(Self.response("exception_in_stream", "26.9"))
        #expect(response.status == 200)
        let error = try #require(Self.classify(response))
        #expect(error.serverCode == 395)
        #expect(error.serverCodeName == "FUNCTION_THROW_IF_VALUE_IS_NON_ZERO")
        #expect(error.outcomeUnknown)
        // Ordinary data is not mistaken for an exception.
        #expect(!ClickHouseClient.hasStreamedException(Array("0\n1\nCode: 5 apples\n".utf8)))
        #expect(ClickHouseClient.hasStreamedException(Array("0\n1\nCode: 241, e.displayText() = DB::Exception: x, e.what() = DB::Exception\n".utf8)))
    }

    @Test func pipelineCodesAndRetries() {
        let cases: [(ClickHouseError.Category, String, Bool)] = [
            (.connection, "E004", true), (.unavailable, "E005", true), (.memory, "E006", true), (.server, "E005", true),
            (.schema, "E003", false), (.permission, "E005", false), (.rejected, "E005", false),
        ]
        for (category, code, retry) in cases {
            let error = ClickHouseError(category: category, message: "m")
            #expect(error.code == code)
            #expect(error.isRetryable == retry)
        }
        #expect(ClickHouseError.category(serverCode: nil, httpStatus: 503) == .unavailable)
        #expect(ClickHouseError.category(serverCode: nil, httpStatus: 401) == .permission)
        #expect(ClickHouseError.category(serverCode: 173, httpStatus: 500) == .memory)
        #expect(ClickHouseError.category(serverCode: 9999, httpStatus: 500) == .server)
    }

    @Test func bodiesWithoutACodeStillClassify() {
        let error = ClickHouseError.fromResponse(status: 503, exceptionCodeHeader: nil, body: Array("Service Unavailable".utf8), queryID: nil)
        #expect(error.category == .unavailable)
        #expect(error.serverCode == nil)
        #expect(error.message == "Service Unavailable")
        let header = ClickHouseError.fromResponse(status: 500, exceptionCodeHeader: "241", body: [UInt8](), queryID: nil)
        #expect(header.serverCode == 241)
        #expect(header.category == .memory)
    }
}

import EventPattern
import Testing

@Suite("Event pattern validation")
struct PatternValidationTests {
    @Test("refused patterns name the offending path", arguments: [
        (#"[1, 2]"#, "$", "must be a JSON object"),
        (#"{}"#, "$", "empty objects"),
        (#"{"a": {}}"#, "$.a", "empty objects"),
        (#"{"a": 1}"#, "$.a", "write [1]"),
        (#"{"a": "x"}"#, "$.a", "an object (to match nested fields) or an array"),
        (#"{"a": []}"#, "$.a", "empty arrays"),
        (#"{"a": [[1]]}"#, "$.a[0]", "found an array"),
        (#"{"a": [{}]}"#, "$.a[0]", "needs an operator"),
        (#"{"a": [{"x": 2}]}"#, "$.a[0].x", "unknown operator \"x\""),
        (#"{"a": [{"prefix": "x", "suffix": "y"}]}"#, "$.a[0]", "exactly one operator"),
        (#"{"a": [{"prefix": 5}]}"#, "$.a[0].prefix", "takes a string"),
        (#"{"a": [{"prefix": {"wildcard": "x"}}]}"#, "$.a[0].prefix.wildcard", "only combines with equals-ignore-case"),
        (#"{"a": [{"suffix": {}}]}"#, "$.a[0].suffix", "empty object"),
        (#"{"a": [{"equals-ignore-case": ["x"]}]}"#, "$.a[0].equals-ignore-case", "takes a string"),
        (#"{"a": [{"exists": "true"}]}"#, "$.a[0].exists", "true or false"),
        (#"{"a": [{"exists": true, "extra": 1}]}"#, "$.a[0]", "exactly one operator"),
        (#"{"a": [{"wildcard": "a**b"}]}"#, "$.a[0].wildcard", "consecutive '*'"),
        (#"{"a": [{"wildcard": "a\\b"}]}"#, "$.a[0].wildcard", "invalid escape"),
        (#"{"a": [{"wildcard": "ab\\"}]}"#, "$.a[0].wildcard", "invalid escape"),
        (#"{"a": [{"numeric": [">", "5"]}]}"#, "$.a[0].numeric[1]", "must be numbers"),
        (#"{"a": [{"numeric": ["=", true]}]}"#, "$.a[0].numeric[1]", "must be numbers"),
        (#"{"a": [{"numeric": [">="]}]}"#, "$.a[0].numeric", "needs a number"),
        (#"{"a": [{"numeric": []}]}"#, "$.a[0].numeric", "first element must be an operator"),
        (#"{"a": [{"numeric": "> 5"}]}"#, "$.a[0].numeric", "found a string"),
        (#"{"a": [{"numeric": ["<>", 1]}]}"#, "$.a[0].numeric[0]", "not a numeric operator"),
        (#"{"a": [{"numeric": ["=", 1, 2]}]}"#, "$.a[0].numeric[2]", "too many elements"),
        (#"{"a": [{"numeric": ["<", 1, ">", 0]}]}"#, "$.a[0].numeric[2]", "too many elements"),
        (#"{"a": [{"numeric": [">", 1, ">", 5]}]}"#, "$.a[0].numeric[2]", "only \"<\" or \"<=\""),
        (#"{"a": [{"numeric": [">", 1, "<", 5, "<", 6]}]}"#, "$.a[0].numeric[4]", "too many elements"),
        (#"{"a": [{"numeric": [">", 5, "<", 5]}]}"#, "$.a[0].numeric", "lower bound must be less"),
        (#"{"a": [{"numeric": [">=", 6, "<=", 5]}]}"#, "$.a[0].numeric", "lower bound must be less"),
        (#"{"a": [{"numeric": ["=", 1E309]}]}"#, "$.a[0].numeric[1]", "cannot be compared"),
        (#"{"a": [{"numeric": ["<", 0.30000000000000001]}]}"#, "$.a[0].numeric[1]", "cannot be compared"),
        (#"{"a": [{"anything-but": []}]}"#, "$.a[0].anything-but", "must not be empty"),
        (#"{"a": [{"anything-but": ["x", 1]}]}"#, "$.a[0].anything-but", "only strings or only numbers"),
        (#"{"a": [{"anything-but": [null]}]}"#, "$.a[0].anything-but[0]", "strings or numbers"),
        (#"{"a": [{"anything-but": true}]}"#, "$.a[0].anything-but", "found a boolean"),
        (#"{"a": [{"anything-but": 1e400}]}"#, "$.a[0].anything-but", "cannot be compared"),
        (#"{"a": [{"anything-but": {}}]}"#, "$.a[0].anything-but", "takes a value"),
        (#"{"a": [{"anything-but": {"prefix": "x", "suffix": "y"}}]}"#, "$.a[0].anything-but", "exactly one operator"),
        (#"{"a": [{"anything-but": {"numeric": [">", 1]}}]}"#, "$.a[0].anything-but.numeric", "supports prefix, suffix"),
        (#"{"a": [{"anything-but": {"prefix": ""}}]}"#, "$.a[0].anything-but.prefix", "empty anything-but prefix"),
        (#"{"a": [{"anything-but": {"suffix": ["x", ""]}}]}"#, "$.a[0].anything-but.suffix[1]", "empty anything-but suffix"),
        (#"{"a": [{"anything-but": {"prefix": 5}}]}"#, "$.a[0].anything-but.prefix", "takes a string or a list"),
        (#"{"a": [{"anything-but": {"equals-ignore-case": [1]}}]}"#, "$.a[0].anything-but.equals-ignore-case[0]", "must be strings"),
        (#"{"a": [{"anything-but": {"wildcard": ["ok*", "a**"]}}]}"#, "$.a[0].anything-but.wildcard", "consecutive"),
        (#"{"a": [{"cidr": "10.0.0.0"}]}"#, "$.a[0].cidr", "exactly one '/'"),
        (#"{"a": [{"cidr": "10.0.0.0/x"}]}"#, "$.a[0].cidr", "must be an integer"),
        (#"{"a": [{"cidr": "10.0.0.0/-1"}]}"#, "$.a[0].cidr", "must not be negative"),
        (#"{"a": [{"cidr": "10.0.0.0/32"}]}"#, "$.a[0].cidr", "below 32"),
        (#"{"a": [{"cidr": "2001:db8::/128"}]}"#, "$.a[0].cidr", "below 128"),
        (#"{"a": [{"cidr": "host.example/8"}]}"#, "$.a[0].cidr", "is not an IPv4 or IPv6 address"),
        (#"{"a": [{"cidr": "300.0.0.0/8"}]}"#, "$.a[0].cidr", "not a valid IP address"),
        (#"{"a": [{"cidr": 10}]}"#, "$.a[0].cidr", "takes a string"),
        (#"{"$or": [{"a": [1]}]}"#, "$.$or", "at least two objects"),
        (#"{"$or": []}"#, "$.$or", "at least two objects"),
        (#"{"$or": {"a": [1], "b": [2]}}"#, "$.$or", "must be an array"),
        (#"{"$or": [{"a": [1]}, [{"b": [2]}]]}"#, "$.$or[1]", "must be an object"),
        (#"{"$or": [{"a": [1]}, {}]}"#, "$.$or[1]", "empty objects"),
        (#"{"d": {"$or": [{"numeric": [">", 0]}, {"cidr": "10.0.0.0/8"}]}}"#, "$.d.$or[0].numeric", "is an operator"),
        (#"{"$or": [{"a": {"prefix": ["x"]}}, {"b": [1]}]}"#, "$.$or[0].a.prefix", "is an operator"),
        (#"{"detail": {"c.count": [{"numeric": ["<>", 1]}]}}"#, #"$.detail["c.count"][0].numeric[0]"#, "not a numeric operator"),
    ])
    func refused(_ text: String, _ path: String, _ phrase: String) throws {
        let error = try #require(refusal(text), "\(text) must be refused")
        #expect(error.kind == .invalid)
        #expect(error.path == path, "\(text): \(error)")
        #expect(error.message.contains(phrase), "\(text): \(error)")
    }

    @Test("accepted edge cases", arguments: [
        #"{"a": [{"numeric": ["=", 1E-320]}]}"#,
        #"{"a": [{"numeric": [">", -0, "<", 0]}]}"#,
        #"{"a": [{"anything-but": [111, 222, 333]}]}"#,
        #"{"a": [{"exists":  false }]}"#,
        #"{"a": [{"prefix": ""}]}"#,
        #"{"a": [1e400, 123456789012345678901234567890]}"#,
        #"{"a": [{"anything-but": {"equals-ignore-case": []}}]}"#,
        #"{"a": [{"cidr": "0.0.0.0/0"}, {"cidr": "::/0"}, {"cidr": "10.0.0.0/31"}]}"#,
        #"{"prefix": ["operator names are fine as fields outside $or"], "numeric": {"=": [1]}}"#,
        #"{"a": [{"wildcard": "\\*\\\\*"}]}"#,
        #"{"": [""]}"#,
    ])
    func accepted(_ text: String) {
        #expect(throws: Never.self, "\(text) must be accepted") { try EventPattern(jsonText: text) }
    }

    @Test("error descriptions print as is")
    func descriptions() throws {
        let invalid = try #require(refusal(#"{"detail": {"object": {"size": [{"numeric": ["<>", 1]}]}}}"#))
        #expect(
            invalid.description
                == #"invalid event pattern at $.detail.object.size[0].numeric[0]: "<>" is not a numeric operator; use =, <, <=, > or >="#
        )
        let syntax = try #require(refusal(#"{"source": ["aws.s3"],}"#))
        #expect(syntax.kind == .syntax)
        #expect(syntax.offset == 22)
        #expect(syntax.description == #"the event pattern is not valid JSON: at byte offset 22: expected a string key in double quotes, found '}'"#)
        #expect(throws: EventPatternError.self) { try EventPattern(jsonBytes: Array("[".utf8)) }
    }

    @Test("$or expansion is capped")
    func orExpansionCap() throws {
        // Eleven sibling $or arrays of two branches each: 2^11 = 2048 alternatives.
        var members: [(key: String, value: JSONValue)] = []
        for index in 0..<11 {
            members.append((key: "f\(index)", value: ["$or": [["a": [1]], ["b": [2]]]]))
        }
        let tooMany = JSONValue.object(members)
        do {
            _ = try EventPattern(json: tooMany)
            Issue.record("2048 alternatives must be refused")
        } catch {
            #expect(error.kind == .tooComplex)
            #expect(error.message.contains("more than 1024 alternatives"))
        }
        let tenLevels = JSONValue.object(Array(members.prefix(10)))
        #expect(try EventPattern(json: tenLevels).alternativeCount == 1024)
    }

    @Test("patterns built in code deeper than the supported depth are refused, not crashed on")
    func deepPatternBuiltInCode() {
        var value: JSONValue = ["leaf": [1]]
        for _ in 0..<600 { value = ["n": value] }
        #expect(throws: EventPatternError.self) { try EventPattern(json: value) }
    }
}

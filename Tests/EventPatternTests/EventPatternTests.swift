import EventPattern
import Testing

/// Compiles `patternText` and reports whether it matches `eventText`.
func match(_ patternText: String, _ eventText: String) throws -> Bool {
    let pattern = try EventPattern(jsonText: patternText)
    return pattern.matches(try JSONValue.parse(eventText))
}

/// The error refusing `patternText`, or `nil` when it compiles.
func refusal(_ patternText: String) -> EventPatternError? {
    do {
        _ = try EventPattern(jsonText: patternText)
        return nil
    } catch {
        return error
    }
}

@Suite("Event pattern operators")
struct EventPatternOperatorTests {
    @Test("exact strings, numbers, booleans and null match only their own type")
    func exactValues() throws {
        #expect(try match(#"{"a": ["x", "y"]}"#, #"{"a": "y"}"#))
        #expect(try !match(#"{"a": ["x"]}"#, #"{"a": "X"}"#))
        #expect(try match(#"{"a": [5]}"#, #"{"a": 5}"#))
        #expect(try match(#"{"a": [5]}"#, #"{"a": 5.0}"#), "numbers match numerically")
        #expect(try match(#"{"a": [5.0]}"#, #"{"a": 5e0}"#))
        #expect(try !match(#"{"a": [5]}"#, #"{"a": "5"}"#), "a number never matches a string")
        #expect(try !match(#"{"a": ["5"]}"#, #"{"a": 5}"#), "a string never matches a number")
        #expect(try match(#"{"a": [true]}"#, #"{"a": true}"#))
        #expect(try !match(#"{"a": [true]}"#, #"{"a": "true"}"#))
        #expect(try match(#"{"a": [null]}"#, #"{"a": null}"#))
        #expect(try !match(#"{"a": [null]}"#, #"{"b": 1}"#), "null does not match an absent field")
        #expect(try !match(#"{"a": [null]}"#, #"{"a": "null"}"#))
        #expect(try match(#"{"a": [{"exactly": "x"}]}"#, #"{"a": "x"}"#))
    }

    @Test("numbers beyond a double's precision match by their exact text only")
    func largeNumbers() throws {
        let account = #"{"account": [123456789012345678901]}"#
        #expect(try match(account, #"{"account": 123456789012345678901}"#))
        #expect(try !match(account, #"{"account": 123456789012345678900}"#), "same double, different number")
        #expect(try match(#"{"a": [1e400]}"#, #"{"a": 1e400}"#))
        #expect(try !match(#"{"a": [1e400]}"#, #"{"a": 1E400}"#))
        #expect(try !match(#"{"a": [{"numeric": [">", 0]}]}"#, #"{"a": 1e400}"#), "1e400 cannot be compared")
        #expect(try match(#"{"a": [{"numeric": [">", 5000000000]}]}"#, #"{"a": 5497558138880}"#))
    }

    @Test("strings compare by bytes, without Unicode normalisation")
    func byteExactStrings() throws {
        #expect(try match("{\"a\": [\"caf\u{E9}\"]}", "{\"a\": \"caf\u{E9}\"}"))
        #expect(try !match("{\"a\": [\"caf\u{E9}\"]}", "{\"a\": \"cafe\u{301}\"}"))
        #expect(try match(#"{"a": ["caf\u00e9"]}"#, "{\"a\": \"caf\u{E9}\"}"), "escapes and raw UTF-8 are the same string")
    }

    @Test("prefix and suffix, plain and ignoring case")
    func prefixSuffix() throws {
        #expect(try match(#"{"k": [{"prefix": "raw/"}]}"#, #"{"k": "raw/x.parquet"}"#))
        #expect(try !match(#"{"k": [{"prefix": "raw/"}]}"#, #"{"k": "RAW/x.parquet"}"#))
        #expect(try match(#"{"k": [{"prefix": ""}]}"#, #"{"k": ""}"#))
        #expect(try !match(#"{"k": [{"prefix": "1"}]}"#, #"{"k": 123}"#), "prefix never matches numbers")
        #expect(try match(#"{"k": [{"suffix": ".parquet"}]}"#, #"{"k": "a/b.parquet"}"#))
        #expect(try !match(#"{"k": [{"suffix": ".parquet"}]}"#, #"{"k": "a/b.parquet.tmp"}"#))
        #expect(try match(#"{"k": [{"prefix": {"equals-ignore-case": "RAW/"}}]}"#, #"{"k": "raw/x"}"#))
        #expect(try match(#"{"k": [{"suffix": {"equals-ignore-case": ".PARQUET"}}]}"#, #"{"k": "x.Parquet"}"#))
        #expect(try !match(#"{"k": [{"suffix": {"equals-ignore-case": ".PARQUET"}}]}"#, #"{"k": "x.Parquets"}"#))
        // Entries of one array are alternatives.
        #expect(try match(#"{"k": [{"prefix": "x/"}, {"suffix": ".csv"}]}"#, #"{"k": "a.csv"}"#))
    }

    @Test("equals-ignore-case uses per-character Unicode case mappings")
    func equalsIgnoreCase() throws {
        #expect(try match(#"{"a": [{"equals-ignore-case": "aBc"}]}"#, #"{"a": "ABC"}"#))
        #expect(try !match(#"{"a": [{"equals-ignore-case": "aBc"}]}"#, #"{"a": "ABCD"}"#))
        #expect(try match(#"{"a": [{"equals-ignore-case": "Straße"}]}"#, #"{"a": "STRASSE"}"#))
        #expect(try match(#"{"a": [{"equals-ignore-case": "Straße"}]}"#, #"{"a": "straße"}"#))
        #expect(try match(#"{"a": [{"equals-ignore-case": "ΣΊΣΥΦΟΣ"}]}"#, #"{"a": "σίσυφοσ"}"#))
        #expect(try match(#"{"a": [{"equals-ignore-case": "données"}]}"#, #"{"a": "DONNÉES"}"#))
        #expect(try !match(#"{"a": [{"equals-ignore-case": "1"}]}"#, #"{"a": 1}"#))
    }

    @Test("wildcard, with escaped stars and backslashes")
    func wildcard() throws {
        let p = #"{"k": [{"wildcard": "market/*/part-*.parquet"}]}"#
        #expect(try match(p, #"{"k": "market/prices/part-001.parquet"}"#))
        #expect(try match(p, #"{"k": "market//part-.parquet"}"#), "a star matches nothing too")
        #expect(try !match(p, #"{"k": "market/prices/part-001.csv"}"#))
        #expect(try !match(p, #"{"k": "customer/prices/part-001.parquet"}"#))
        #expect(try match(#"{"k": [{"wildcard": "*"}]}"#, #"{"k": ""}"#))
        #expect(try match(#"{"k": [{"wildcard": "a*a"}]}"#, #"{"k": "aa"}"#))
        #expect(try !match(#"{"k": [{"wildcard": "a*a"}]}"#, #"{"k": "a"}"#), "prefix and suffix must not overlap")
        #expect(try match(#"{"k": [{"wildcard": "*ab*ab*"}]}"#, #"{"k": "xabyab"}"#))
        #expect(try !match(#"{"k": [{"wildcard": "*ab*ab*"}]}"#, #"{"k": "xaby"}"#))
        #expect(try match(#"{"k": [{"wildcard": "no-star"}]}"#, #"{"k": "no-star"}"#))
        let escaped = #"{"k": [{"wildcard": "a\\*b*"}]}"#
        #expect(try match(escaped, #"{"k": "a*b"}"#))
        #expect(try match(escaped, #"{"k": "a*bcd"}"#))
        #expect(try !match(escaped, #"{"k": "axb"}"#))
        #expect(try match(#"{"k": [{"wildcard": "a\\\\b"}]}"#, #"{"k": "a\\b"}"#))
        #expect(try match(#"{"k": [{"wildcard": "日本*"}]}"#, #"{"k": "日本語"}"#))
    }

    @Test("numeric: every operator and range form")
    func numeric() throws {
        func numeric(_ terms: String, _ value: String) throws -> Bool {
            try match(#"{"n": [{"numeric": \#(terms)}]}"#, #"{"n": \#(value)}"#)
        }
        #expect(try numeric(#"["=", 5]"#, "5.0"))
        #expect(try !numeric(#"["=", 5]"#, "5.000001"))
        #expect(try numeric(#"["<", 5]"#, "4.999"))
        #expect(try !numeric(#"["<", 5]"#, "5"))
        #expect(try numeric(#"["<=", 5]"#, "5"))
        #expect(try numeric(#"[">", 5]"#, "5.0000001"))
        #expect(try !numeric(#"[">", 5]"#, "5"))
        #expect(try numeric(#"[">=", 5]"#, "5"))
        #expect(try numeric(#"[">", 0, "<", 1]"#, "0.5"))
        #expect(try !numeric(#"[">", 0, "<", 1]"#, "0"))
        #expect(try !numeric(#"[">", 0, "<", 1]"#, "1"))
        #expect(try numeric(#"[">=", 0, "<=", 1]"#, "0"))
        #expect(try numeric(#"[">=", 0, "<=", 1]"#, "1"))
        #expect(try numeric(#"[">=", -1e300, "<", -1e299]"#, "-5e299"))
        #expect(try numeric(#"[">=", 2.0e-6, "<=", 4.0e-6]"#, "0.000003"))
        #expect(try numeric(#"[">", 1024]"#, "5497558138880"))
        #expect(try !numeric(#"[">", 0]"#, #""5""#), "numeric never matches a string")
        #expect(try !numeric(#"[">", 0]"#, "true"))
        #expect(try !numeric(#"[">=", 0]"#, "-0"), "-0 sorts below 0, as in the reference engine")
        #expect(try !numeric(#"[">", 0]"#, "9007199254740993"), "a number a double cannot hold exactly is not compared")
    }

    @Test("anything-but: values, lists, numbers and operator forms")
    func anythingBut() throws {
        #expect(try match(#"{"a": [{"anything-but": "x"}]}"#, #"{"a": "y"}"#))
        #expect(try !match(#"{"a": [{"anything-but": "x"}]}"#, #"{"a": "x"}"#))
        #expect(try match(#"{"a": [{"anything-but": "x"}]}"#, #"{"a": 5}"#), "other types are not excluded")
        #expect(try match(#"{"a": [{"anything-but": "x"}]}"#, #"{"a": null}"#))
        #expect(try !match(#"{"a": [{"anything-but": "x"}]}"#, #"{"b": "y"}"#), "an absent field matches nothing")
        #expect(try !match(#"{"a": [{"anything-but": ["x", "y"]}]}"#, #"{"a": "y"}"#))
        #expect(try !match(#"{"a": [{"anything-but": [1, 2]}]}"#, #"{"a": 2.0}"#))
        #expect(try match(#"{"a": [{"anything-but": [1, 2]}]}"#, #"{"a": "2"}"#))
        #expect(try !match(#"{"a": [{"anything-but": 7}]}"#, #"{"a": 7}"#))
        #expect(try !match(#"{"a": [{"anything-but": {"prefix": "tmp/"}}]}"#, #"{"a": "tmp/x"}"#))
        #expect(try match(#"{"a": [{"anything-but": {"prefix": ["tmp/", "_"]}}]}"#, #"{"a": "data/x"}"#))
        #expect(try match(#"{"a": [{"anything-but": {"prefix": "tmp/"}}]}"#, #"{"a": 5}"#))
        #expect(try !match(#"{"a": [{"anything-but": {"suffix": [".tmp", "_SUCCESS"]}}]}"#, #"{"a": "x/_SUCCESS"}"#))
        #expect(try !match(#"{"a": [{"anything-but": {"equals-ignore-case": ["Yes", "No"]}}]}"#, #"{"a": "nO"}"#))
        #expect(try match(#"{"a": [{"anything-but": {"equals-ignore-case": []}}]}"#, #"{"a": "anything"}"#))
        #expect(try !match(#"{"a": [{"anything-but": {"wildcard": ["*.tmp", "tmp/*"]}}]}"#, #"{"a": "tmp/x.parquet"}"#))
        #expect(try match(#"{"a": [{"anything-but": {"wildcard": "*.tmp"}}]}"#, #"{"a": "x.parquet"}"#))
        // Several values of an array field: one value outside the exclusions is enough.
        #expect(try match(#"{"a": [{"anything-but": "x"}]}"#, #"{"a": ["x", "y"]}"#))
        #expect(try !match(#"{"a": [{"anything-but": "x"}]}"#, #"{"a": ["x", "x"]}"#))
    }

    @Test("exists: null exists, objects and empty arrays do not")
    func exists() throws {
        let present = #"{"a": [{"exists": true}]}"#
        let absent = #"{"a": [{"exists": false}]}"#
        #expect(try match(present, #"{"a": null}"#))
        #expect(try match(present, #"{"a": ""}"#))
        #expect(try match(present, #"{"a": [1]}"#))
        #expect(try !match(present, #"{"a": []}"#))
        #expect(try !match(present, #"{"a": {"b": 1}}"#), "an object is not a value")
        #expect(try !match(present, #"{"b": 1}"#))
        #expect(try match(absent, #"{"b": 1}"#))
        #expect(try match(absent, #"{"a": []}"#))
        #expect(try match(absent, #"{"a": {"b": 1}}"#))
        #expect(try !match(absent, #"{"a": null}"#))
        #expect(try match(#"{"x": {"y": [{"exists": false}]}}"#, #"{"x": "scalar"}"#))
        #expect(try match(#"{"a": [{"exists": false}, "v"]}"#, #"{"a": "v"}"#), "absence or a value")
        #expect(try match(#"{"a": [{"exists": false}, "v"]}"#, #"{}"#))
        #expect(try !match(#"{"a": [{"exists": false}, "v"]}"#, #"{"a": "w"}"#))
    }

    @Test("cidr and exact IP addresses, IPv4 and IPv6")
    func ipAddresses() throws {
        let v4 = #"{"ip": [{"cidr": "10.0.0.0/24"}]}"#
        #expect(try match(v4, #"{"ip": "10.0.0.255"}"#))
        #expect(try !match(v4, #"{"ip": "10.0.1.0"}"#))
        #expect(try !match(v4, #"{"ip": "10.0.0.256"}"#))
        #expect(try !match(v4, #"{"ip": "not an ip"}"#))
        #expect(try match(v4, #"{"ip": "::ffff:a00:1"}"#), "an IPv4-mapped IPv6 address is its IPv4 address")
        #expect(try match(#"{"ip": [{"cidr": "10.0.0.77/24"}]}"#, #"{"ip": "10.0.0.1"}"#), "host bits are ignored")
        #expect(try match(#"{"ip": [{"cidr": "0.0.0.0/0"}]}"#, #"{"ip": "255.255.255.255"}"#))
        let v6 = #"{"ip": [{"cidr": "2001:db8::/32"}]}"#
        #expect(try match(v6, #"{"ip": "2001:DB8:0:0:0:0:0:1"}"#))
        #expect(try match(v6, #"{"ip": "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"}"#))
        #expect(try !match(v6, #"{"ip": "2001:db9::"}"#))
        #expect(try !match(v6, #"{"ip": "10.0.0.1"}"#), "families never mix")
        #expect(try match(#"{"ip": ["2400:6500:FF00::36FB:1F80"]}"#, #"{"ip": "2400:6500:ff00:0:0:0:36fb:1f80"}"#))
        #expect(try match(#"{"ip": ["10.0.0.1"]}"#, #"{"ip": "10.0.0.01"}"#), "octets are decimal")
        #expect(try !match(#"{"ip": ["10.0.0.1"]}"#, #"{"ip": "10.0.0.2"}"#))
        #expect(try match(#"{"ip": ["999.1.1.1"]}"#, #"{"ip": "999.1.1.1"}"#), "not an address, so an exact string")
    }

    @Test("dotted event keys are the same path as nested keys")
    func dottedKeys() throws {
        #expect(try match(#"{"a": {"b": [1]}}"#, #"{"a.b": 1}"#))
        #expect(try match(#"{"a.b": [1]}"#, #"{"a": {"b": 1}}"#))
        #expect(try match(#"{"detail": {"c.count": [5]}}"#, #"{"detail": {"c.count": 5}}"#))
        #expect(try !match(#"{"a": {"b": [1]}}"#, #"{"ab": 1}"#))
    }

    @Test("events that are not objects match nothing")
    func nonObjectEvents() throws {
        let pattern = try EventPattern(jsonText: #"{"a": [{"exists": false}]}"#)
        #expect(pattern.matches(["a": 1]) == false)
        #expect(pattern.matches([:]))
        #expect(!pattern.matches([1, 2]))
        #expect(!pattern.matches("a"))
        #expect(!pattern.matches(nil))
    }
}

@Suite("Event pattern $or and arrays")
struct EventPatternCombinationTests {
    @Test("$or: flat, nested, with sibling fields")
    func or() throws {
        let flat = #"{"$or": [{"a": ["1"]}, {"b": ["2"]}]}"#
        #expect(try match(flat, #"{"a": "1"}"#))
        #expect(try match(flat, #"{"b": "2"}"#))
        #expect(try !match(flat, #"{"a": "2", "b": "1"}"#))
        let siblings = #"{"source": ["s3"], "$or": [{"a": ["1"]}, {"b": ["2"]}], "c": ["3"]}"#
        #expect(try match(siblings, #"{"source": "s3", "b": "2", "c": "3"}"#))
        #expect(try !match(siblings, #"{"source": "s3", "b": "2"}"#))
        #expect(try !match(siblings, #"{"b": "2", "c": "3"}"#))
        let nested = #"{"d": {"$or": [{"x": [1]}, {"$or": [{"y": [2]}, {"z": [3]}]}]}}"#
        #expect(try match(nested, #"{"d": {"z": 3}}"#))
        #expect(try !match(nested, #"{"d": {"w": 3}}"#))
        #expect(try EventPattern(jsonText: nested).alternativeCount == 3)
        let product = #"{"$or": [{"a": [1]}, {"b": [1]}], "c": {"$or": [{"d": [1]}, {"e": [1]}, {"f": [1]}]}}"#
        #expect(try EventPattern(jsonText: product).alternativeCount == 6)
        #expect(try match(product, #"{"b": 1, "c": {"f": 1}}"#))
        #expect(try !match(product, #"{"b": 1, "c": {"g": 1}}"#))
    }

    @Test("a field repeated across $or branches and siblings: the later one replaces the earlier")
    func orOverride() throws {
        let pattern = #"{"a": ["1"], "$or": [{"a": ["2"]}, {"b": ["3"]}]}"#
        #expect(try match(pattern, #"{"a": "2"}"#), "first branch: a is replaced by [\"2\"]")
        #expect(try match(pattern, #"{"a": "1", "b": "3"}"#))
        #expect(try !match(pattern, #"{"a": "1"}"#))
    }

    @Test("array-consistent matching")
    func arrays() throws {
        let pattern = #"{"employees": {"first": ["Anna"], "last": ["Jones"]}}"#
        #expect(try !match(pattern, #"{"employees": [{"first": "Anna", "last": "Smith"}, {"first": "Peter", "last": "Jones"}]}"#))
        #expect(try match(pattern, #"{"employees": [{"first": "Peter"}, {"first": "Anna", "last": "Jones"}]}"#))
        #expect(try match(pattern, #"{"employees": [[{"first": "X"}], [{"first": "Anna", "last": "Jones"}]]}"#))
        // Scalar arrays are alternatives and constrain nothing.
        #expect(try match(#"{"tags": ["admin"], "user": ["u"]}"#, #"{"tags": ["user", "admin"], "user": "u"}"#))
        #expect(try match(#"{"a": {"t": ["x"], "v": [1]}}"#, #"{"a": [{"t": ["y", "x"], "v": 1}]}"#))
        // Different arrays do not constrain each other.
        #expect(try match(#"{"a": {"x": [1]}, "b": {"y": [2]}}"#, #"{"a": [{"x": 1}], "b": [{"y": 0}, {"y": 2}]}"#))
    }

    @Test("exists:false is checked against the values chosen by the fields before it, in path order")
    func absenceOrder() throws {
        let event = #"{"d": [{"b": "x"}, {"a": 1, "b": "y"}]}"#
        // "d.b" sorts before "d.c": b picks element 0, where c is absent.
        #expect(try match(#"{"d": {"b": ["x"], "c": [{"exists": false}]}}"#, event))
        #expect(try !match(#"{"d": {"b": ["x"], "a": [{"exists": false}]}}"#, #"{"d": [{"b": "x"}, {"a": 1}]}"#))
        // "d.a" sorts before "d.b": the absence check sees every element, and d[1] has "a".
        #expect(try !match(#"{"d": {"a": [{"exists": false}], "b": ["x"]}}"#, event))
    }

    @Test("many array elements do not make matching explode")
    func largeArrays() throws {
        // Every condition has matching values, but "y.v" and "y.w.p" never hold in the same element of
        // "y". A plain backtracking search would try every element of "x" × every element of "u" ×
        // every element of "y" (8 million combinations); failures memoised on the arrays that still
        // matter keep it linear.
        var xs: [JSONValue] = []
        var us: [JSONValue] = []
        var ys: [JSONValue] = []
        for index in 0..<200 {
            xs.append(["v": "x", "i": .integer(index)])
            us.append(["v": "u"])
            ys.append(["v": "y", "w": [["p": "n"]]])
        }
        ys.append(["v": "z", "w": [["p": "q"]]])
        let event: JSONValue = ["x": .array(xs), "u": .array(us), "y": .array(ys)]
        let inconsistent = try EventPattern(jsonText: #"{"x": {"v": ["x"]}, "u": {"v": ["u"]}, "y": {"v": ["y"], "w": {"p": ["q"]}}}"#)
        #expect(!inconsistent.matches(event))
        let consistent = try EventPattern(jsonText: #"{"x": {"v": ["x"], "i": [199]}, "u": {"v": ["u"]}, "y": {"v": ["z"], "w": {"p": ["q"]}}}"#)
        #expect(consistent.matches(event))
    }
}

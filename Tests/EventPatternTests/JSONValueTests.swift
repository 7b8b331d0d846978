@testable import EventPattern
import Testing

@Suite("JSON values and serialization")
struct JSONValueTests {
    @Test("serialization is compact, ordered and keeps number text")
    func compactSerialization() throws {
        let text = #"{ "z" : 1.50 , "a" : [ true , null , -0 , 1e400 , 12345678901234567890 ] , "m" : { } }"#
        let value = try JSONValue.parse(text)
        #expect(value.serialized() == #"{"z":1.50,"a":[true,null,-0,1e400,12345678901234567890],"m":{}}"#)
        #expect(value.serializedString == value.serialized())
        #expect(value.serializedBytes() == Array(value.serialized().utf8))
        #expect(value.description == value.serialized())
    }

    @Test("strings escape only quotes, backslashes and control characters")
    func stringEscaping() throws {
        let value: JSONValue = .string("q\" b\\ n\n r\r t\t b\u{8} f\u{C} nul\u{0} us\u{1F} del\u{7F} / é 日本 😀 \u{2028}")
        let text = value.serialized()
        #expect(text == #""q\" b\\ n\n r\r t\t b\b f\f nul\u0000 us\u001F del"# + "\u{7F} / é 日本 😀 \u{2028}\"")
        #expect(try JSONValue.parse(text) == value)
    }

    @Test("parse → serialize → parse is stable on a realistic event")
    func roundTrip() throws {
        let text = """
            {"version":"0","id":"17793124-05d4-b198-2fde-7ededc63b103","detail-type":"Object Created","source":"aws.s3",
             "account":"111122223333","time":"2021-11-12T00:00:00Z","region":"ca-central-1",
             "resources":["arn:aws:s3:::example-bucket"],
             "detail":{"version":"0","bucket":{"name":"example-bucket"},
               "object":{"key":"market/prices/ds=2025-09-10/part-001.parquet","size":5242880,"etag":"b1946ac92492d2347c6235b4d2611184",
                         "version-id":"IYV3p45BT0ac8hjHg1houSdS1a.Mro8e","sequencer":"617f08299329d189"},
               "request-id":"N4N7GDK58NMKJ12R","requester":"123456789012","source-ip-address":"1.2.3.4","reason":"PutObject"}}
            """
        let value = try JSONValue.parse(text)
        let once = value.serialized()
        let again = try JSONValue.parse(once)
        #expect(again == value)
        #expect(again.serialized() == once)
        #expect(value["detail"]?["object"]?["size"]?.integerValue == 5_242_880)
    }

    @Test("deeply nested values built in code serialize without recursion")
    func deepSerialization() {
        var value: JSONValue = 0
        for _ in 0..<400 { value = ["k": [value]] }
        let text = value.serialized()
        #expect(text.hasPrefix(#"{"k":[{"k":["#))
        #expect(text.utf8.count == 400 * 8 + 1)
    }

    @Test("accessors answer only for their own type")
    func accessors() {
        let object: JSONValue = ["s": "x", "n": 5, "f": 2.5, "b": false, "z": nil, "a": [1, 2], "o": ["k": "v"]]
        #expect(object["s"]?.stringValue == "x")
        #expect(object["n"]?.integerValue == 5)
        #expect(object["n"]?.numberValue?.text == "5")
        #expect(object["f"]?.doubleValue == 2.5)
        #expect(object["f"]?.integerValue == nil)
        #expect(object["b"]?.boolValue == false)
        #expect(object["z"]?.isNull == true)
        #expect(object["a"]?.arrayValue?.count == 2)
        #expect(object["a"]?[1] == 2)
        #expect(object["a"]?[2] == nil)
        #expect(object["a"]?[-1] == nil)
        #expect(object["o"]?["k"] == "v")
        #expect(object["missing"] == nil)
        #expect(object["s"]?["k"] == nil)
        #expect(object["s"]?.integerValue == nil)
        #expect(object.objectValue?.count == 7)
        #expect(object.arrayValue == nil)
        #expect(object.typeName == "object")
        #expect(object["s"]?.string == "x")
        #expect(object["n"]?.number?.doubleValue == 5)
        #expect(object["a"]?.array == [1, 2])
        #expect(object["o"]?.object?.first?.key == "k")
        #expect(object["s"]?.number == nil && object["n"]?.string == nil && object.array == nil)
        if case .string(let text) = object["s"] { #expect(text == "x") } else { Issue.record("expected a string") }
        #expect([JSONValue.null, true, 1, "s", [], [:]].map(\.typeName) == ["null", "boolean", "number", "string", "array", "object"])
    }

    @Test("objects built in code answer the last member with a key")
    func builtObjectsLastWins() {
        let pairs: [(String, JSONValue)] = [("a", 1), ("a", 2)]
        let value = JSONValue.object(pairs.map { (key: $0.0, value: $0.1) })
        #expect(value["a"] == 2)
    }

    @Test("equality is structural and byte-exact")
    func equality() throws {
        #expect(try JSONValue.parse(#"{"a":[1,"x"]}"#) == ["a": [1, "x"]])
        #expect(try JSONValue.parse("1.0") != JSONValue.integer(1), "numbers compare by text")
        #expect(JSONValue.string("\u{E9}") != JSONValue.string("e\u{301}"), "no Unicode normalisation")
        #expect((["a": 1, "b": 2] as JSONValue) != (["b": 2, "a": 1] as JSONValue), "member order is part of the value")
        let set: Set<JSONValue> = [["a": 1], ["a": 1], ["a": "1"], .string("\u{E9}"), .string("e\u{301}")]
        #expect(set.count == 4)
    }

    @Test("numbers built in code")
    func numberConstruction() throws {
        #expect(JSONValue.integer(-42).serialized() == "-42")
        #expect(JSONValue.integer(Int64.min).integerValue == Int64.min)
        #expect(JSONValue.double(0.1)?.serialized() == "0.1")
        #expect(JSONValue.double(5_242_880)?.serialized() == "5242880.0")
        #expect(JSONValue.double(-0.0)?.serialized() == "-0.0")
        #expect(JSONValue.double(.infinity) == nil)
        #expect(JSONValue.double(.nan) == nil)
        #expect(JSONNumber("1e400")?.doubleValue == .infinity)
        #expect(JSONNumber("01") == nil)
        #expect(JSONNumber("1 ") == nil)
        #expect(JSONNumber("") == nil)
        // Every Double's own text parses back to the same Double.
        var generator = SplitMix64(seed: 7)
        for _ in 0..<2_000 {
            let double = Double(bitPattern: generator.next())
            guard double.isFinite, let number = JSONNumber(double) else { continue }
            #expect(try JSONValue.parse(number.text).doubleValue == double, "\(number.text)")
        }
    }

    @Test("comparable numbers are exactly the finite ones a double holds exactly")
    func comparableNumbers() throws {
        func key(_ text: String) -> UInt64? { JSONNumber(text)?.comparableKey }
        #expect(key("5242880") != nil)
        #expect(key("5242880") == key("5242880.0"))
        #expect(key("5242880") == key("5.24288e6"))
        #expect(key("301.8") == key("3.018e2"))
        #expect(key("0.1") != nil)
        #expect(key("1E-320") != nil, "a subnormal whose shortest text is 1e-320")
        #expect(key("5e-324") != nil)
        #expect(key("1.7976931348623157e308") != nil)
        #expect(key("9007199254740992") != nil)
        #expect(key("9007199254740993") == nil, "2^53 + 1 rounds")
        #expect(key("0.30000000000000001") == nil, "more digits than the double keeps")
        #expect(key("1e400") == nil)
        #expect(key("1E309") == nil)
        #expect(key("-0") != nil)
        #expect(try #require(key("-0")) < #require(key("0")), "-0 sorts below +0")
        #expect(key("0") == key("0.0e10"))
        let ordered = ["-1e300", "-5000000000", "-1.5", "-0.000001", "-0", "0", "1e-320", "0.000001", "3.8", "3.9", "11", "5497558138880", "1e300"]
        let keys = try ordered.map { try #require(key($0)) }
        #expect(keys == keys.sorted())
        #expect(Set(keys).count == keys.count)
    }
}

import SluiceCore
import SluiceIntake
import Testing

/// Inputs found by `scripts/fuzz keys`.
///
/// A combining mark right after `/` or `=` forms one grapheme cluster with it, so a parser that splits a key by
/// `Character` does not see the separator: a partition disappears into the file name, or a `k=v` segment is
/// refused. These keys are valid S3 keys and must parse by their Unicode scalars.
@Suite("Object keys found by fuzzing")
struct ObjectKeyFuzzRegressionTests {
    /// The fuzzer's input (crash-bc0ae702…): its decoded partition value is U+20EC, and the key rebuilt from the
    /// parsed parts (`k=` + U+20EC, which Hive escaping leaves as it is) must parse to the same parts.
    @Test func theFuzzerInputParsesAgainFromItsOwnParts() throws {
        let parsed = try ParsedKey.parse("n/etvents/k=%E2%83%AC/D\0\0\0\0")
        #expect(parsed.partitions == [ParsedKey.Partition(name: "k", value: "\u{20EC}")])
        #expect(parsed.fileName == "D\0\0\0\0")
        let rebuilt = "\(parsed.domain)/\(parsed.table)/\(parsed.partitionPath)/\(parsed.fileName)"
        #expect(try ParsedKey.parse(rebuilt) == parsed)
    }

    @Test func aCombiningMarkAfterTheEqualsSignStaysInThePartitionValue() throws {
        let parsed = try ParsedKey.parse("market/prices/k=\u{20EC}/part.parquet")
        #expect(parsed.partitions == [ParsedKey.Partition(name: "k", value: "\u{20EC}")])
        #expect(parsed.fileName == "part.parquet")
    }

    /// Split by `Character`, this key parsed without error but lost its partition (`ds=1/\u{301}part.parquet`
    /// became the file name).
    @Test func aCombiningMarkAfterASlashDoesNotJoinTwoSegments() throws {
        let parsed = try ParsedKey.parse("market/prices/ds=1/\u{301}part.parquet")
        #expect(parsed.partitions == [ParsedKey.Partition(name: "ds", value: "1")])
        #expect(parsed.fileName == "\u{301}part.parquet")
    }

    /// The domain prefix is matched by scalars too: this key is refused for its table name, not for its prefix.
    @Test func aCombiningMarkAfterTheDomainPrefixKeepsTheDomain() throws {
        let error = #expect(throws: SluiceError.self) {
            try ParsedKey.parse("market/\u{301}prices/part.parquet", domain: "market", prefix: "market/")
        }
        #expect(error?.message.contains("is not a valid table name") == true)
    }

    /// crash-8e7f7683…: U+070F is a prepended concatenation mark, so `"\u{070F}%"` is one `Character` and a
    /// `Character` search for `%` missed the escape: `\u{070F}%2F` came back undecoded.
    @Test func hiveEscapingRoundTripsAfterAPrependedMark() {
        #expect(HiveEscaping.escape("\u{070F}/") == "\u{070F}%2F")
        #expect(HiveEscaping.unescape("\u{070F}%2F") == "\u{070F}/")
    }

    /// crash-170e3a32…: a 400-byte partition value of control characters parses, but its Hive-escaped form
    /// (`%00` for each) makes the rebuilt key longer than S3 allows, which must be refused for its length.
    @Test func aRebuiltKeyOverTheLengthLimitIsRefusedForItsLength() throws {
        let value = String(repeating: "\u{07}\0", count: 200)
        let parsed = try ParsedKey.parse("a/bhc/caCter=\(value)/\u{FFFD}")
        #expect(parsed.partitions == [ParsedKey.Partition(name: "caCter", value: value)])
        let rebuilt = "\(parsed.domain)/\(parsed.table)/\(parsed.partitionPath)/\(parsed.fileName)"
        #expect(rebuilt.utf8.count > 1024)
        let error = #expect(throws: SluiceError.self) { try ParsedKey.parse(rebuilt) }
        #expect(error?.message.contains("1024-byte limit") == true)
    }

    @Test func aPartitionValueWithAPrependedMarkIsDecoded() throws {
        let parsed = try ParsedKey.parse("market/prices/k=\u{070F}%2F/part.parquet")
        #expect(parsed.partitions == [ParsedKey.Partition(name: "k", value: "\u{070F}/")])
    }
}

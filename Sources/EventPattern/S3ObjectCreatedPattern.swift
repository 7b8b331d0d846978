extension EventPattern {
    /// The EventBridge pattern Sluice enforces on S3 "Object Created" events:
    ///
    /// ```json
    /// {"source": ["aws.s3"],
    ///  "detail-type": ["Object Created"],
    ///  "detail": {"bucket": {"name": ["<bucket>"]},
    ///             "object": {"key": [{"wildcard": "market/*.parquet"}, {"wildcard": "customer/*.parquet"}],
    ///                        "size": [{"numeric": [">", 1024]}]}}}
    /// ```
    ///
    /// Why `wildcard`: the key must start with one of the domain prefixes *and* end with the suffix.
    /// In a pattern, the entries of one field's array are alternatives (`[{"prefix": "market/"},
    /// {"suffix": ".parquet"}]` accepts either), and a field can hold only one array per alternative:
    /// repeating `key` (for instance in `$or` branches merged with a sibling) replaces the earlier
    /// array instead of adding a condition. `wildcard` is the one operator that states "starts with
    /// X and ends with Y" in a single entry, and one entry per prefix keeps the domains as
    /// alternatives. The wildcard requires the prefix and the suffix not to overlap, so the key
    /// `market/.parquet` matches but a key shorter than prefix plus suffix does not. Literal `*` and
    /// `\` in prefixes or the suffix are escaped.
    ///
    /// - Parameters:
    ///   - bucket: the bucket name, matched exactly.
    ///   - keyPrefixes: the accepted key prefixes (for example one per domain, `market/`); duplicates
    ///     are dropped; an empty list accepts any key with the suffix.
    ///   - suffix: the required key suffix; empty accepts any suffix.
    ///   - minSizeExclusive: objects must be strictly larger than this many bytes. Magnitudes beyond
    ///     2^53, which a double cannot hold exactly, are rounded to the nearest double.
    public static func s3ObjectCreated(
        bucket: String,
        keyPrefixes: [String],
        suffix: String = ".parquet",
        minSizeExclusive: Int
    ) -> JSONValue {
        var prefixes: [String] = []
        for prefix in keyPrefixes where !prefixes.contains(where: { utf8Equal($0, prefix) }) {
            prefixes.append(prefix)
        }
        if prefixes.isEmpty { prefixes = [""] }
        let keyConditions: [JSONValue] = prefixes.map { prefix in
            ["wildcard": .string(wildcardLiteral(prefix) + "*" + wildcardLiteral(suffix))]
        }
        let size: JSONValue
        if minSizeExclusive.magnitude <= 1 << 53 {
            size = .integer(minSizeExclusive)
        } else {
            size = .number(JSONNumber(Double(minSizeExclusive))!)
        }
        return [
            "source": ["aws.s3"],
            "detail-type": ["Object Created"],
            "detail": [
                "bucket": ["name": [.string(bucket)]],
                "object": [
                    "key": .array(keyConditions),
                    "size": [["numeric": [">", size]]],
                ],
            ],
        ]
    }

    /// `text` with `\` and `*` escaped, so that it matches itself literally inside a `wildcard` operand.
    public static func wildcardLiteral(_ text: String) -> String {
        guard text.utf8.contains(where: { $0 == UInt8(ascii: "*") || $0 == UInt8(ascii: "\\") }) else { return text }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count + 4)
        for byte in text.utf8 {
            if byte == UInt8(ascii: "*") || byte == UInt8(ascii: "\\") { bytes.append(UInt8(ascii: "\\")) }
            bytes.append(byte)
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

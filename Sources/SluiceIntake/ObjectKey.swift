public import SluiceCore

/// What an object key says about its file: `<domain>/<table>/<k=v>/…/<file>`.
///
/// `market/prices/ds=2025-09-10/part-001.parquet` is domain `market`, table `prices`, partition
/// `ds=2025-09-10`. Partition values are Hive-escaped (`%XX`) and are decoded here.
public struct ParsedKey: Sendable, Hashable, Codable {
    /// The first segment.
    public var domain: String
    /// The second segment, a ClickHouse identifier.
    public var table: String
    /// The `k=v` segments between the table and the file name, in key order, values decoded.
    public var partitions: [Partition]
    /// The last segment.
    public var fileName: String

    public struct Partition: Sendable, Hashable, Codable {
        public var name: String
        public var value: String

        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    public init(domain: String, table: String, partitions: [Partition], fileName: String) {
        self.domain = domain
        self.table = table
        self.partitions = partitions
        self.fileName = fileName
    }

    /// The partition path as it appears in the key (`ds=2025-09-10/hour=01`), values re-escaped as stored.
    public var partitionPath: String {
        partitions.map { "\($0.name)=\(HiveEscaping.escape($0.value))" }.joined(separator: "/")
    }

    /// Parses a decoded object key whose first segment is the domain.
    public static func parse(_ key: String, field: String = "key") throws(SluiceError) -> ParsedKey {
        let domain = key.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        return try parse(key, domain: domain, prefix: domain + "/", field: field)
    }

    /// Parses a decoded object key that starts with `prefix`, the key prefix of `domain`: the rest is
    /// `<table>/[<k=v>/…]<file>`. Throws E001 naming `field` when the key does not have that layout.
    public static func parse(_ key: String, domain: String, prefix: String, field: String = "key") throws(SluiceError) -> ParsedKey {
        guard !key.isEmpty else { throw .invalidEvent("object key is empty", field: field) }
        guard key.utf8.count <= 1024 else {
            throw .invalidEvent("object key is longer than S3's 1024-byte limit", field: field)
        }
        // Keys are compared and split by Unicode scalars (as S3 and the pattern see them), not by grapheme
        // clusters: "/" or "=" followed by a combining mark is still a separator.
        guard key.utf8.starts(with: prefix.utf8) else {
            throw .invalidEvent("object key \"\(key)\" does not start with domain prefix \"\(prefix)\"", field: field)
        }
        let rest = key.unicodeScalars.dropFirst(prefix.unicodeScalars.count)
        let segments = rest.split(separator: "/", omittingEmptySubsequences: false).map { String(String.UnicodeScalarView($0)) }
        guard segments.count >= 2 else {
            throw .invalidEvent(
                "object key \"\(key)\" does not have the layout \(prefix)<table>/[<k=v>/…]<file>",
                field: field
            )
        }
        if let empty = segments.firstIndex(where: { $0.isEmpty }) {
            throw .invalidEvent("object key \"\(key)\" has an empty segment after \"\(prefix)\" at position \(empty + 1)", field: field)
        }
        let table = String(segments[0])
        guard Identifier.isValid(table) else {
            throw .invalidEvent(
                "table segment \"\(table)\" of key \"\(key)\" is not a valid table name (letters, digits, underscore)",
                field: field
            )
        }
        var partitions: [Partition] = []
        for segment in segments[1..<(segments.count - 1)] {
            let scalars = segment.unicodeScalars
            guard let eq = scalars.firstIndex(of: "="), eq != scalars.startIndex else {
                throw .invalidEvent(
                    "segment \"\(segment)\" of key \"\(key)\" is not a k=v partition",
                    field: field
                )
            }
            let name = HiveEscaping.unescape(String(String.UnicodeScalarView(scalars[..<eq])))
            guard Identifier.isValid(name) else {
                throw .invalidEvent(
                    "partition name \"\(name)\" of key \"\(key)\" is not a valid column name",
                    field: field
                )
            }
            if partitions.contains(where: { $0.name == name }) {
                throw .invalidEvent("partition \"\(name)\" appears twice in key \"\(key)\"", field: field)
            }
            let value = String(String.UnicodeScalarView(scalars[scalars.index(after: eq)...]))
            partitions.append(Partition(name: name, value: HiveEscaping.unescape(value)))
        }
        return ParsedKey(domain: domain, table: table, partitions: partitions, fileName: String(segments[segments.count - 1]))
    }
}

/// Hive's escaping of partition path segments: `%XX` for special characters.
public enum HiveEscaping {
    /// Decodes `%XX` sequences; a malformed sequence is kept as it is (Hive does the same).
    public static func unescape<S: StringProtocol>(_ s: S) -> String {
        guard s.utf8.contains(UInt8(ascii: "%")) else { return String(s) }
        return PercentDecoding.decode(s, plusIsSpace: false, strict: false) ?? String(s)
    }

    /// Escapes the characters Hive escapes in partition values.
    public static func escape(_ s: String) -> String {
        var out = ""
        for scalar in s.unicodeScalars {
            if scalar.isASCII, scalar.value < 0x20 || scalar.value == 0x7F || escaped.contains(UInt8(scalar.value)) {
                out += PercentDecoding.escape(UInt8(scalar.value))
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    private static let escaped: Set<UInt8> = Set("\"#%'*/:=?\\{[]^".utf8)
}

/// Decoding of the keys S3 puts in its notification records (`application/x-www-form-urlencoded`:
/// `+` is a space, `%XX` a byte).
public enum FormDecoding {
    /// Decodes a form-encoded key; `nil` when a `%` escape is malformed or the bytes are not UTF-8.
    public static func decode(_ s: String) -> String? {
        PercentDecoding.decode(s, plusIsSpace: true, strict: true)
    }
}

enum PercentDecoding {
    /// Decodes `%XX` (and `+` when `plusIsSpace`). A malformed escape fails when `strict`, else stays literal.
    /// Returns `nil` when strict decoding fails or the result is not UTF-8.
    static func decode<S: StringProtocol>(_ s: S, plusIsSpace: Bool, strict: Bool) -> String? {
        let bytes = Array(s.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            if b == UInt8(ascii: "%") {
                if i + 2 < bytes.count, let h = hex(bytes[i + 1]), let l = hex(bytes[i + 2]) {
                    out.append(h << 4 | l)
                    i += 3
                    continue
                }
                if strict { return nil }
            }
            out.append(plusIsSpace && b == UInt8(ascii: "+") ? UInt8(ascii: " ") : b)
            i += 1
        }
        return String(validating: out, as: UTF8.self)
    }

    static func escape(_ b: UInt8) -> String {
        let digits = Array("0123456789ABCDEF")
        return "%" + String([digits[Int(b >> 4)], digits[Int(b & 0xF)]])
    }

    private static func hex(_ b: UInt8) -> UInt8? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): b - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): b - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): b - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

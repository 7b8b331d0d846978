/// Why a pattern was refused, and where in it.
///
/// The ``description`` is meant to be printed as is, for example
/// `invalid event pattern at $.detail.object.size[0].numeric: "<>" is not a numeric operator; use =, <, <=, > or >=`.
public struct EventPatternError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of refusal.
    public struct Kind: Sendable, Hashable, CustomStringConvertible {
        let name: String

        /// The pattern text is not JSON at all.
        public static let syntax = Kind(name: "syntax")
        /// The pattern is JSON but not a valid event pattern.
        public static let invalid = Kind(name: "invalid")
        /// The pattern is valid but its `$or` alternatives multiply beyond the supported number.
        public static let tooComplex = Kind(name: "too-complex")

        /// The kind's name (`syntax`, `invalid`, `too-complex`).
        public var description: String { name }
    }

    /// The kind of refusal.
    public var kind: Kind
    /// Where in the pattern, as a path from the root `$`: `$.detail.object.key[1].anything-but.prefix`.
    /// Keys that are not plain words are quoted: `$.detail["c.count"]`.
    public var path: String
    /// What is wrong and how to fix it.
    public var message: String
    /// The byte offset in the pattern text, for ``Kind/syntax`` errors.
    public var offset: Int?

    /// Creates an error.
    public init(kind: Kind, path: String, message: String, offset: Int? = nil) {
        self.kind = kind
        self.path = path
        self.message = message
        self.offset = offset
    }

    /// A sentence naming the location and the problem.
    public var description: String {
        switch kind {
        case .syntax:
            "the event pattern is not valid JSON: at byte offset \(offset ?? 0): \(message)"
        default:
            "invalid event pattern at \(path): \(message)"
        }
    }
}

/// Builds the `$.a.b[0]` paths used in pattern errors.
struct PatternPath {
    private(set) var text: String

    static let root = PatternPath(text: "$")

    func key(_ key: String) -> PatternPath {
        let plain = !key.isEmpty && key.utf8.allSatisfy { byte in
            (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "-")
                || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "$")
        }
        if plain { return PatternPath(text: text + "." + key) }
        var quoted: [UInt8] = []
        appendQuoted(key, to: &quoted)
        return PatternPath(text: text + "[" + String(decoding: quoted, as: UTF8.self) + "]")
    }

    func index(_ index: Int) -> PatternPath {
        PatternPath(text: text + "[\(index)]")
    }
}

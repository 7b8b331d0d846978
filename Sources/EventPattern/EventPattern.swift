/// An EventBridge event pattern, validated and compiled once, then tested against many events.
///
/// The pattern language is EventBridge's, with the semantics of its open-source engine
/// (aws/event-ruler, array-consistent matching):
///
/// - Each field of the pattern names a field of the event; nested objects name nested fields. A
///   field lists its allowed values, of which one must match: exact strings, numbers (compared
///   numerically), `true`, `false`, `null`, and match objects `prefix`, `suffix`,
///   `equals-ignore-case`, `prefix`/`suffix` with `equals-ignore-case`, `wildcard` (`*`, with `\*`
///   and `\\` escapes), `numeric` (`=`, `<`, `<=`, `>`, `>=` and ranges), `anything-but` (a value, a
///   list, or `prefix`/`suffix`/`equals-ignore-case`/`wildcard`), `exists`, `cidr` and `exactly`.
///   A string that is an IP address matches that address in any notation.
/// - All fields must match. `$or` (an array of at least two objects, at any level) requires one of
///   its branches, combined with the sibling fields.
/// - When the event has an array, the pattern matches if any element does; fields that sit under
///   the same array of objects must be matched by the same element (see ``matches(_:)``).
/// - `numeric` never matches a string (`"5"`), and string operators never match numbers.
///
/// ```swift
/// let pattern = try EventPattern(jsonText: #"{"source": ["aws.s3"], "detail": {"object": {"size": [{"numeric": [">", 1024]}]}}}"#)
/// pattern.matches(event)
/// ```
public struct EventPattern: Sendable, CustomStringConvertible {
    /// The pattern as given.
    public let json: JSONValue
    private let matcher: PatternMatcher

    /// Validates and compiles a pattern; refuses exactly what EventBridge's engine refuses, with the
    /// path of the offending field and the reason.
    public init(json: JSONValue) throws(EventPatternError) {
        let rules = try PatternCompiler.compile(json)
        self.json = json
        self.matcher = PatternMatcher(rules)
    }

    /// Parses (strict JSON) and compiles a pattern.
    public init(jsonText: String) throws(EventPatternError) {
        let json: JSONValue
        do {
            json = try JSONValue.parse(jsonText)
        } catch {
            throw EventPatternError(kind: .syntax, path: "$", message: error.message, offset: error.offset)
        }
        try self.init(json: json)
    }

    /// Parses (strict JSON) and compiles a pattern from UTF-8 bytes, such as a file's contents.
    public init(jsonBytes: some Collection<UInt8>) throws(EventPatternError) {
        let json: JSONValue
        do {
            json = try JSONValue.parse(jsonBytes)
        } catch {
            throw EventPatternError(kind: .syntax, path: "$", message: error.message, offset: error.offset)
        }
        try self.init(json: json)
    }

    /// Whether `event` matches the pattern. An event that is not a JSON object matches nothing.
    ///
    /// Arrays are matched consistently: values taken from an array of objects must come from the
    /// same element. For `{"employees": {"first": ["Anna"], "last": ["Jones"]}}`, the event
    /// `{"employees": [{"first": "Anna", "last": "Smith"}, {"first": "Peter", "last": "Jones"}]}`
    /// does not match. The values of an array of scalars are alternatives: `{"tags": ["admin"]}`
    /// matches `{"tags": ["user", "admin"]}`.
    public func matches(_ event: JSONValue) -> Bool {
        matcher.matches(event)
    }

    /// How many alternatives the pattern has after expanding `$or` (1 without `$or`).
    public var alternativeCount: Int { matcher.alternatives.count }

    /// The pattern's compact JSON.
    public var description: String { json.serialized() }
}

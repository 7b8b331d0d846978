/// Why some bytes are not one strict RFC 8259 JSON value, and where.
///
/// The message names what was found and what was expected ("expected ',' or '}' after an object
/// member, found 'x'"); it quotes at most one byte of the input, so it never leaks a payload.
public struct JSONParseError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Zero-based byte offset of the first offending byte (the input's length for a premature end).
    public var offset: Int
    /// What is wrong, for a person.
    public var message: String

    /// Creates an error.
    public init(offset: Int, message: String) {
        self.offset = offset
        self.message = message
    }

    /// The service-wide error code: malformed JSON in an event is an invalid event (`E001`).
    public var code: String { "E001" }

    /// `invalid JSON at byte offset 17: expected ':' after an object key, found '}'`.
    public var description: String {
        "invalid JSON at byte offset \(offset): \(message)"
    }
}

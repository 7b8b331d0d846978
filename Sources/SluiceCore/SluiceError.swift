/// An error with an E-code and a message a person can act on.
///
/// `description` is safe to show to anyone: it never carries credentials. The message names what failed
/// (file, column, field, byte offset, ClickHouse code) so the reader knows where to look.
public struct SluiceError: Error, Sendable, CustomStringConvertible, Hashable {
    /// The seed's error code.
    public var code: ErrorCode
    /// What went wrong, for a person.
    public var message: String
    /// The input field at fault, as a path such as `detail.object.key` or `[2].bucket`, when there is one.
    public var field: String?
    /// The finer failure category that drives the retry policy.
    public var category: FailureCategory

    public init(_ code: ErrorCode, _ message: String, field: String? = nil, category: FailureCategory? = nil) {
        self.code = code
        self.message = message
        self.field = field
        self.category = category ?? SluiceError.defaultCategory(for: code)
    }

    public init(category: FailureCategory, _ message: String, field: String? = nil) {
        self.code = category.code
        self.message = message
        self.field = field
        self.category = category
    }

    public var description: String {
        if let field { return "\(code.rawValue): \(message) (field: \(field))" }
        return "\(code.rawValue): \(message)"
    }

    static func defaultCategory(for code: ErrorCode) -> FailureCategory {
        switch code {
        case .invalidEvent: .invalidInput
        case .unsupportedFormat: .unsupportedFormat
        case .parseFailure: .parse
        case .connection: .connection
        case .databaseUnavailable: .databaseUnavailable
        case .memory: .memory
        }
    }

    /// Shorthand for an E001 error about one input field.
    public static func invalidEvent(_ message: String, field: String?) -> SluiceError {
        SluiceError(.invalidEvent, message, field: field)
    }
}

/// A journal failure. `description` is safe to show: it names the file and the SQLite condition only.
public struct JournalError: Error, Sendable, CustomStringConvertible, Hashable {
    public enum Kind: String, Sendable, Hashable {
        /// The journal cannot write now (disk full, read-only file system, I/O error). Retry later.
        case unavailable
        /// The journal file is damaged; Sluice will not use it.
        case corrupt
        /// The journal is shutting down or closed.
        case closed
        /// An illegal state transition was requested.
        case illegalTransition = "illegal_transition"
        /// The requested entry does not exist.
        case notFound = "not_found"
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { "journal \(kind.rawValue): \(message)" }
}

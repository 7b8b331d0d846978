/// The life of a journal entry, as a pure state machine.
///
/// ```
/// received ──accept──▶ queued ──claim──▶ loading ──succeed──▶ loaded
///                        ▲                  │ ├──fail(retryable)──▶ retrying ──claim──▶ loading
///                        │                  │ └──fail(permanent)──▶ dead_lettered
///                        └──────release─────┘        (replay) ──▶ queued
/// ```
/// `release` parks a load back to `queued` (graceful shutdown, or recovery after a crash).
/// `retrying` entries wait for their backoff to pass before they can be claimed again.
public enum EntryState: String, Sendable, Codable, CaseIterable, Hashable {
    case received
    case queued
    case loading
    case loaded
    case retrying
    case deadLettered = "dead_lettered"

    /// States that count against the journal's capacity.
    public var isPending: Bool {
        switch self {
        case .received, .queued, .loading, .retrying: true
        case .loaded, .deadLettered: false
        }
    }

    /// States an entry never leaves by itself.
    public var isTerminal: Bool { !isPending }
}

/// What happens to an entry.
public enum EntryEvent: String, Sendable, Codable, Hashable {
    case accept
    case claim
    case succeed
    case failRetryable = "fail_retryable"
    case failPermanent = "fail_permanent"
    case release
    case replay
}

/// The transition table. Every state change in the journal goes through ``next(_:_:)``, so an illegal
/// change (loading an entry twice, reviving a loaded one) is refused instead of written.
public enum EntryStateMachine {
    /// The state after `event`, or `nil` when the event is not allowed in `state`.
    public static func next(_ state: EntryState, _ event: EntryEvent) -> EntryState? {
        switch (state, event) {
        case (.received, .accept): .queued
        case (.queued, .claim), (.retrying, .claim): .loading
        case (.loading, .succeed): .loaded
        case (.loading, .failRetryable): .retrying
        case (.loading, .failPermanent): .deadLettered
        case (.loading, .release): .queued
        case (.retrying, .failPermanent): .deadLettered
        case (.deadLettered, .replay): .queued
        default: nil
        }
    }
}

import SluiceJournal
import SluiceIntake
import Testing

@Suite("Entry state machine")
struct EntryStateMachineTests {
    @Test func allowedTransitions() {
        #expect(EntryStateMachine.next(.received, .accept) == .queued)
        #expect(EntryStateMachine.next(.queued, .claim) == .loading)
        #expect(EntryStateMachine.next(.retrying, .claim) == .loading)
        #expect(EntryStateMachine.next(.loading, .succeed) == .loaded)
        #expect(EntryStateMachine.next(.loading, .failRetryable) == .retrying)
        #expect(EntryStateMachine.next(.loading, .failPermanent) == .deadLettered)
        #expect(EntryStateMachine.next(.loading, .release) == .queued)
        #expect(EntryStateMachine.next(.deadLettered, .replay) == .queued)
    }

    @Test func everythingElseIsRefused() {
        let allowed: Set<String> = [
            "received-accept", "queued-claim", "retrying-claim", "loading-succeed", "loading-fail_retryable",
            "loading-fail_permanent", "loading-release", "retrying-fail_permanent", "dead_lettered-replay",
        ]
        let events: [EntryEvent] = [.accept, .claim, .succeed, .failRetryable, .failPermanent, .release, .replay]
        for state in EntryState.allCases {
            for event in events where !allowed.contains("\(state.rawValue)-\(event.rawValue)") {
                #expect(EntryStateMachine.next(state, event) == nil, "\(state) \(event)")
            }
        }
        // A loaded file can never be loaded again.
        #expect(EntryStateMachine.next(.loaded, .claim) == nil)
        #expect(EntryStateMachine.next(.loaded, .replay) == nil)
    }

    @Test func pendingStates() {
        #expect(EntryState.allCases.filter(\.isPending) == [.received, .queued, .loading, .retrying])
    }
}

@Suite("Weighted round robin")
struct WeightedRoundRobinTests {
    @Test func sixThreeOneAndInterleaved() {
        var wrr = WeightedRoundRobin()
        let picks = (0..<10).compactMap { _ in wrr.next(among: [.high, .medium, .low]) }
        #expect(picks.filter { $0 == .high }.count == 6)
        #expect(picks.filter { $0 == .medium }.count == 3)
        #expect(picks.filter { $0 == .low }.count == 1)
        #expect(picks.first == .high)
        // Not a run of six highs first: medium appears within the first three picks.
        #expect(picks.prefix(3).contains(.medium))
    }

    @Test func noClassIsStarved() {
        var wrr = WeightedRoundRobin()
        var lowSeen = 0
        for _ in 0..<1000 where wrr.next(among: [.high, .medium, .low]) == .low { lowSeen += 1 }
        #expect(lowSeen == 100)
    }

    @Test func onlyReadyClassesArePicked() {
        var wrr = WeightedRoundRobin()
        for _ in 0..<20 { #expect(wrr.next(among: [.low]) == .low) }
        #expect(wrr.next(among: []) == nil)
        let twoClasses = (0..<4).compactMap { _ in wrr.next(among: [.medium, .low]) }
        #expect(twoClasses.filter { $0 == .medium }.count == 3)
    }
}

public import SluiceIntake

/// Smooth weighted round robin over the priority classes (6:3:1 by default), so that high goes before
/// medium before low, and no class with work is ever starved: over any 10 picks among busy classes, high
/// gets 6, medium 3 and low 1, interleaved (H M H L H M H H M H …) rather than in runs.
public struct WeightedRoundRobin: Sendable, Hashable {
    public let weights: [Priority: Int]
    private var current: [Priority: Int] = [:]

    public init(weights: [Priority: Int] = [.high: 6, .medium: 3, .low: 1]) {
        self.weights = weights
    }

    /// Picks the next class among those that have work; `nil` when none has.
    public mutating func next(among ready: Set<Priority>) -> Priority? {
        let candidates = Priority.allCases.filter { ready.contains($0) && (weights[$0] ?? 0) > 0 }
        guard !candidates.isEmpty else { return nil }
        var total = 0
        var best: Priority?
        for p in candidates {
            let w = weights[p] ?? 0
            total += w
            current[p, default: 0] += w
            if best == nil || current[p, default: 0] > current[best!, default: 0] { best = p }
        }
        current[best!, default: 0] -= total
        return best
    }
}

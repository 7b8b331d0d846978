/// A compiled pattern ready to test events: the field paths it reads, as a trie over dot-separated
/// segments, and its alternatives, each a list of field conditions in evaluation order.
///
/// Matching follows event-ruler's array-consistent semantics:
///
/// - An event is viewed as leaf values (strings, numbers, booleans, null) at dotted paths; arrays add
///   no path segment, and an event key containing dots (`"c.count"`) is the same path as nested keys.
/// - Every element of an array of objects or arrays is a distinct "array position". Two values are
///   consistent when, for every array they both sit inside, they sit in the same element. All the
///   values an alternative uses must be pairwise consistent (so `{"a": ["x"], "b": ["y"]}` under an
///   array of objects needs one element holding both). Elements of an array of scalars impose nothing.
/// - Conditions are evaluated in the order of their paths (UTF-16 order, as Java sorts strings).
///   `{"exists": false}` holds when no value at its path is consistent with the values chosen by the
///   conditions evaluated before it; this order dependence is the reference engine's behaviour.
/// - An object or an empty array at a path is not a value: `exists: true` does not match it and
///   `exists: false` does.
struct PatternMatcher: Sendable {
    struct Node: Sendable {
        var children: [(segment: String, node: Int)] = []
        var lookup: [UTF8Key: Int]?
        var slot: Int?
    }

    struct Condition: Sendable {
        var slot: Int
        var path: String
        var spec: FieldSpec
    }

    private(set) var nodes: [Node] = [Node()]
    private(set) var slotCount = 0
    private(set) var alternatives: [[Condition]] = []

    init(_ rules: [SubRule]) {
        var slots: [UTF8Key: Int] = [:]
        for rule in rules {
            var conditions: [Condition] = []
            for (path, spec) in rule.fields {
                let slot: Int
                if let existing = slots[UTF8Key(path)] {
                    slot = existing
                } else {
                    slot = slotCount
                    slotCount += 1
                    slots[UTF8Key(path)] = slot
                    insert(path: path, slot: slot)
                }
                conditions.append(Condition(slot: slot, path: path, spec: spec))
            }
            conditions.sort { $0.path.utf16.lexicographicallyPrecedes($1.path.utf16) }
            alternatives.append(conditions)
        }
        for index in nodes.indices where nodes[index].children.count > 8 {
            var lookup: [UTF8Key: Int] = [:]
            for child in nodes[index].children { lookup[UTF8Key(child.segment)] = child.node }
            nodes[index].lookup = lookup
        }
    }

    private mutating func insert(path: String, slot: Int) {
        var current = 0
        for segment in path.split(separator: ".", omittingEmptySubsequences: false) {
            let segment = String(segment)
            if let existing = nodes[current].children.first(where: { utf8Equal($0.segment, segment) }) {
                current = existing.node
            } else {
                nodes.append(Node())
                nodes[current].children.append((segment: segment, node: nodes.count - 1))
                current = nodes.count - 1
            }
        }
        nodes[current].slot = slot
    }

    // MARK: Matching

    func matches(_ event: JSONValue) -> Bool {
        guard case .object = event else { return false }
        let index = EventIndex(event: event, matcher: self)
        return alternatives.contains { alternativeMatches($0, index) }
    }

    fileprivate func child(of node: Int, segment: String) -> Int? {
        if let lookup = nodes[node].lookup { return lookup[UTF8Key(segment)] }
        for child in nodes[node].children where utf8Equal(child.segment, segment) {
            return child.node
        }
        return nil
    }

    /// The node for an event key below `node`, following each dot-separated part of the key.
    fileprivate func child(of node: Int, key: String) -> Int? {
        if !key.utf8.contains(UInt8(ascii: ".")) {
            return child(of: node, segment: key)
        }
        var current = node
        for segment in key.split(separator: ".", omittingEmptySubsequences: false) {
            guard let next = child(of: current, segment: String(segment)) else { return nil }
            current = next
        }
        return current
    }

    private func alternativeMatches(_ conditions: [Condition], _ index: EventIndex) -> Bool {
        // Evaluate every leaf against its condition once; the search below only combines results.
        var candidates: [[Int32]] = []
        candidates.reserveCapacity(conditions.count)
        for condition in conditions {
            let leaves = index.leaves[condition.slot]
            var chains: [Int32] = []
            for leaf in leaves where condition.spec.matchers.contains(where: { $0.matches(leaf.value) }) {
                if !chains.contains(leaf.chain) { chains.append(leaf.chain) }
            }
            if chains.isEmpty, !condition.spec.matchesAbsence {
                // Nothing can satisfy this condition, whatever the other conditions choose.
                return false
            }
            candidates.append(chains)
        }
        if index.positions.isEmpty {
            // No array elements on the pattern's paths: every value is consistent with every other.
            for (offset, condition) in conditions.enumerated() {
                let absent = condition.spec.matchesAbsence && index.leaves[condition.slot].isEmpty
                if !absent, candidates[offset].isEmpty { return false }
            }
            return true
        }
        var search = ConsistentSearch(conditions: conditions, candidates: candidates, index: index)
        return search.run()
    }
}

/// The event's leaf values on the pattern's paths, with the array positions each one sits in.
struct EventIndex {
    struct Leaf {
        var value: JSONValue
        /// The innermost array position holding the value (an index into `positions`), or -1.
        var chain: Int32
    }

    /// One array position: element `element` of array `array`, itself inside position `parent`.
    struct Position {
        var array: Int32
        var element: Int32
        var parent: Int32
    }

    private(set) var leaves: [[Leaf]]
    private(set) var positions: [Position] = []
    private(set) var arrayCount: Int32 = 0

    init(event: JSONValue, matcher: PatternMatcher) {
        leaves = Array(repeating: [], count: matcher.slotCount)
        // Iterative, so that no event nesting can exhaust the stack.
        var work: [(value: JSONValue, node: Int, chain: Int32)] = [(event, 0, -1)]
        while let (value, node, chain) = work.popLast() {
            switch value {
            case .object(let members):
                guard !matcher.nodes[node].children.isEmpty else { continue }
                for member in members {
                    if let child = matcher.child(of: node, key: member.key) {
                        work.append((member.value, child, chain))
                    }
                }
            case .array(let elements):
                let array = arrayCount
                arrayCount += 1
                let slot = matcher.nodes[node].slot
                for (offset, element) in elements.enumerated() {
                    switch element {
                    case .object, .array:
                        positions.append(Position(array: array, element: Int32(truncatingIfNeeded: offset), parent: chain))
                        work.append((element, node, Int32(positions.count - 1)))
                    default:
                        // Scalars in an array take no position: they constrain nothing.
                        if let slot { leaves[slot].append(Leaf(value: element, chain: chain)) }
                    }
                }
            default:
                if let slot = matcher.nodes[node].slot {
                    leaves[slot].append(Leaf(value: value, chain: chain))
                }
            }
        }
    }
}

/// Backtracking over the conditions of one alternative, choosing for each a value (or its absence)
/// consistent with the choices before it. Failures are memoized on the part of the choices that
/// can still matter, which keeps the search polynomial even for events with many array elements.
private struct ConsistentSearch {
    let conditions: [PatternMatcher.Condition]
    /// Per condition, the distinct chains of its matching values.
    let candidates: [[Int32]]
    /// Per condition, the distinct chains of all its values (for absence checks).
    let present: [[Int32]]
    /// Per condition, the arrays that conditions from there on can constrain.
    let relevantArrays: [Set<Int32>]
    let positions: [EventIndex.Position]
    var failures: Set<FailureKey> = []

    struct FailureKey: Hashable {
        var condition: Int
        var constraints: [Int64]
    }

    init(conditions: [PatternMatcher.Condition], candidates: [[Int32]], index: EventIndex) {
        self.conditions = conditions
        self.candidates = candidates
        self.positions = index.positions
        var present: [[Int32]] = []
        for condition in conditions {
            var chains: [Int32] = []
            for leaf in index.leaves[condition.slot] where !chains.contains(leaf.chain) {
                chains.append(leaf.chain)
            }
            present.append(chains)
        }
        self.present = present
        var relevant = Array(repeating: Set<Int32>(), count: conditions.count + 1)
        for offset in stride(from: conditions.count - 1, through: 0, by: -1) {
            var arrays = relevant[offset + 1]
            for chain in present[offset] {
                var position = chain
                while position >= 0 {
                    arrays.insert(index.positions[Int(position)].array)
                    position = index.positions[Int(position)].parent
                }
            }
            relevant[offset] = arrays
        }
        self.relevantArrays = relevant
    }

    mutating func run() -> Bool {
        var constraints: [(array: Int32, element: Int32)] = []
        return search(0, &constraints)
    }

    private mutating func search(_ offset: Int, _ constraints: inout [(array: Int32, element: Int32)]) -> Bool {
        if offset == conditions.count { return true }
        let key = FailureKey(
            condition: offset,
            constraints: constraints
                .filter { relevantArrays[offset].contains($0.array) }
                .map { Int64($0.array) << 32 | Int64($0.element) }
                .sorted()
        )
        if failures.contains(key) { return false }
        if conditions[offset].spec.matchesAbsence,
            !present[offset].contains(where: { isConsistent($0, constraints) })
        {
            if search(offset + 1, &constraints) { return true }
        }
        for chain in candidates[offset] where isConsistent(chain, constraints) {
            let added = merge(chain, into: &constraints)
            let found = search(offset + 1, &constraints)
            constraints.removeLast(added)
            if found { return true }
        }
        failures.insert(key)
        return false
    }

    private func isConsistent(_ chain: Int32, _ constraints: [(array: Int32, element: Int32)]) -> Bool {
        var position = chain
        while position >= 0 {
            let step = positions[Int(position)]
            for constraint in constraints where constraint.array == step.array && constraint.element != step.element {
                return false
            }
            position = step.parent
        }
        return true
    }

    /// Adds the chain's positions that are not yet constraints; returns how many were added.
    private func merge(_ chain: Int32, into constraints: inout [(array: Int32, element: Int32)]) -> Int {
        var added = 0
        var position = chain
        while position >= 0 {
            let step = positions[Int(position)]
            if !constraints.contains(where: { $0.array == step.array }) {
                constraints.append((step.array, step.element))
                added += 1
            }
            position = step.parent
        }
        return added
    }
}

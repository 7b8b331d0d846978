/// The nested structure of one leaf column chunk, rebuilt from its definition and repetition
/// levels in the shape columnar consumers want (validity masks and list offsets).
///
/// A *depth* counts the repeated fields crossed: depth 0 slots are rows, depth 1 slots are
/// the items of the outermost list, and so on. Each node on the leaf's path (see
/// ``ParquetColumnDescriptor/pathNodes``) lives at the depth equal to its maximum repetition
/// level; a repeated node's items are the slots of its depth, grouped by `offsets` per slot
/// of the depth above.
public struct ParquetNesting: Sendable {
    /// Number of slots at each depth; index 0 is the number of rows.
    public var slotCounts: [Int]
    /// Per path node: for optional nodes, one byte per slot of the node's depth, 1 when the
    /// field is present (0 when it, or an ancestor at the same depth, is null); `nil` for
    /// required and repeated nodes.
    public var validity: [[UInt8]?]
    /// Per path node: for repeated nodes, `slotCounts[depth - 1] + 1` offsets into the slots
    /// of the node's depth, so items of parent slot `s` are `offsets[s]..<offsets[s+1]`;
    /// `nil` for other nodes.
    public var offsets: [[Int]?]
    /// For each slot at the leaf's depth, the index of its value in
    /// ``ParquetColumnData/values``, or -1 when there is no value (null here or above).
    public var valueIndex: [Int32]
}

extension ParquetColumnData {
    /// Rebuilds validity masks and list offsets from the levels; throws if the levels are
    /// inconsistent with the schema (which only a damaged file produces).
    public func nesting() throws(ParquetError) -> ParquetNesting {
        let nodes = column.pathNodes
        let maxRep = column.maxRepetitionLevel
        let maxDef = column.maxDefinitionLevel
        var repeatedNode = [Int](repeating: -1, count: maxRep + 1)
        var defAtDepth = [Int](repeating: 0, count: maxRep + 1)
        var optionalAtDepth = [[Int]](repeating: [], count: maxRep + 1)
        for (i, node) in nodes.enumerated() {
            if node.repetition == .repeated {
                repeatedNode[node.maxRepetitionLevel] = i
                defAtDepth[node.maxRepetitionLevel] = node.maxDefinitionLevel
            } else if node.repetition == .optional {
                optionalAtDepth[node.maxRepetitionLevel].append(i)
            }
        }
        var slotCounts = [Int](repeating: 0, count: maxRep + 1)
        var validity = [[UInt8]?](repeating: nil, count: nodes.count)
        var offsets = [[Int]?](repeating: nil, count: nodes.count)
        for (i, node) in nodes.enumerated() {
            if node.repetition == .optional {
                validity[i] = []
                validity[i]!.reserveCapacity(levelCount)
            }
            if node.repetition == .repeated { offsets[i] = [] }
        }
        var valueIndex: [Int32] = []
        valueIndex.reserveCapacity(levelCount)
        var nextValue: Int32 = 0
        let location = { (message: String) in
            ParquetError(.corrupt, message, rowGroup: rowGroup, columnPath: column.dottedPath)
        }
        let defs = definitionLevels
        let reps = repetitionLevels
        let hasDefs = maxDef > 0
        let hasReps = maxRep > 0
        guard !hasDefs || defs.count == levelCount, !hasReps || reps.count == levelCount else {
            throw location("level arrays do not match the entry count")
        }
        let leafDepth = maxRep
        for e in 0..<levelCount {
            let d = hasDefs ? Int(defs[e]) : 0
            let r = hasReps ? Int(reps[e]) : 0
            if r > 0 && d < defAtDepth[r] {
                throw location("entry \(e) continues a list at repetition level \(r) that its definition level \(d) leaves undefined")
            }
            var g = r
            while g <= maxRep {
                if g > 0 && d < defAtDepth[g] { break }
                slotCounts[g] += 1
                if g < maxRep { offsets[repeatedNode[g + 1]]!.append(slotCounts[g + 1]) }
                for i in optionalAtDepth[g] {
                    validity[i]!.append(d >= nodes[i].maxDefinitionLevel ? 1 : 0)
                }
                if g == leafDepth {
                    if d == maxDef {
                        valueIndex.append(nextValue)
                        nextValue += 1
                    } else {
                        valueIndex.append(-1)
                    }
                }
                g += 1
            }
        }
        for g in stride(from: 1, through: maxRep, by: 1) {
            offsets[repeatedNode[g]]!.append(slotCounts[g])
        }
        guard Int(nextValue) == values.count else {
            throw location("levels describe \(nextValue) values but \(values.count) were decoded")
        }
        return ParquetNesting(slotCounts: slotCounts, validity: validity, offsets: offsets, valueIndex: valueIndex)
    }
}

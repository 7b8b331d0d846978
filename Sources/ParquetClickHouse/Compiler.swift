import ClickHouseNative
import Parquet

/// How one file field becomes one ClickHouse column; built once per file by ``TranscodePlan``.
public struct Step: Sendable {
    indirect enum Kind: Sendable {
        /// A leaf's values converted to a scalar type, wrapped in Nullable/LowCardinality as `target` says.
        case scalar(leaf: Int, place: LeafIndex.Place, conversion: ScalarConversion, target: ClickHouseType, sameDepthOptionals: [Int])
        /// An Array whose items are the slots of `repeated`.
        case list(repeated: LeafIndex.Place, element: Step)
        /// A Map whose entries are the slots of `entries`.
        case map(entries: LeafIndex.Place, key: Step, value: Step)
        /// A Tuple of the fields' columns.
        case tuple([Step])
    }

    let kind: Kind
}

struct CompileError: Error {
    var reason: String
}

/// Checks a file field against a ClickHouse type and builds the ``Step``.
struct Compiler {
    let index: LeafIndex

    /// A field as it appears in its parent: a repeated field is a list of its values.
    func field(_ node: ParquetSchemaNode, _ type: ClickHouseType) throws(CompileError) -> Step {
        let type = Self.unwrapAggregate(type)
        if node.repetition == .repeated {
            guard case .array(let element) = type else {
                throw CompileError(reason: "a repeated field needs an Array column, not \(type)")
            }
            return Step(kind: .list(repeated: try place(node), element: try present(node, element)))
        }
        return try present(node, type)
    }

    /// A field's value where it is present.
    func present(_ node: ParquetSchemaNode, _ type: ClickHouseType) throws(CompileError) -> Step {
        let type = Self.unwrapAggregate(type)
        if node.isLeaf {
            let base = Self.scalarBase(type)
            let conversion = try ScalarConversion.make(node: node, target: base)
            let place = try place(node)
            return Step(kind: .scalar(
                leaf: place.leaf, place: place, conversion: conversion, target: type, sameDepthOptionals: sameDepthOptionals(node)))
        }
        if node.logicalType == .list, node.children.count == 1, node.children[0].repetition == .repeated {
            guard case .array(let element) = type else { throw CompileError(reason: "a LIST needs an Array column, not \(type)") }
            let repeated = node.children[0]
            if let item = Self.listElement(list: node, repeated: repeated) {
                return Step(kind: .list(repeated: try place(repeated), element: try nested(item, element, field: true)))
            }
            return Step(kind: .list(repeated: try place(repeated), element: try nested(repeated, element, field: false)))
        }
        if node.logicalType == .map, node.children.count == 1, node.children[0].repetition == .repeated, !node.children[0].isLeaf {
            let entries = node.children[0]
            guard case .map(let keyType, let valueType) = type else { throw CompileError(reason: "a MAP needs a Map column, not \(type)") }
            guard entries.children.count == 2 else { throw CompileError(reason: "the MAP has no values") }
            let key = try nested(entries.children[0], keyType, field: true)
            let value = try nested(entries.children[1], valueType, field: true)
            return Step(kind: .map(entries: try place(entries), key: key, value: value))
        }
        guard case .tuple(let elements) = type else {
            throw CompileError(reason: "a struct needs a Tuple column, not \(type)")
        }
        let named = elements.allSatisfy { $0.name != nil }
        if !named, elements.count != node.children.count {
            throw CompileError(reason: "the struct has \(node.children.count) fields but the Tuple has \(elements.count) elements")
        }
        var steps: [Step] = []
        for (position, element) in elements.enumerated() {
            let child: ParquetSchemaNode
            if let name = element.name {
                guard let match = node.children.first(where: { $0.name == name }) else {
                    throw CompileError(reason: "the struct has no field \(name)")
                }
                child = match
            } else {
                child = node.children[position]
            }
            steps.append(try nested(child, element.type, field: true))
        }
        return Step(kind: .tuple(steps))
    }

    /// One member of a list of structs as an Array column (a flattened Nested column).
    func nestedMember(
        _ node: ParquetSchemaNode, member: String, itemType: ClickHouseType, fold: (String) -> String
    ) throws(CompileError) -> Step {
        let repeated: ParquetSchemaNode
        let element: ParquetSchemaNode
        if node.repetition == .repeated {
            repeated = node
            element = node
        } else if node.logicalType == .list, node.children.count == 1, node.children[0].repetition == .repeated {
            repeated = node.children[0]
            element = Self.listElement(list: node, repeated: repeated) ?? repeated
        } else {
            throw CompileError(reason: "a Nested member needs a list of structs in the file")
        }
        guard !element.isLeaf else { throw CompileError(reason: "a Nested member needs a list of structs in the file") }
        let child: ParquetSchemaNode
        if let match = element.children.first(where: { fold($0.name) == fold(member) }) {
            child = match
        } else if let position = Int(member), position >= 1, position <= element.children.count {
            child = element.children[position - 1]
        } else {
            throw CompileError(reason: "the structs of the list have no field \(member)")
        }
        return Step(kind: .list(repeated: try place(repeated), element: try nested(child, itemType, field: true)))
    }

    /// Compiles a nested field, prefixing its errors with its name.
    func nested(_ node: ParquetSchemaNode, _ type: ClickHouseType, field isField: Bool) throws(CompileError) -> Step {
        do {
            return isField ? try field(node, type) : try present(node, type)
        } catch {
            throw CompileError(reason: "\(node.name): \(error.reason)")
        }
    }

    func place(_ node: ParquetSchemaNode) throws(CompileError) -> LeafIndex.Place {
        guard let place = index.place(node) else { throw CompileError(reason: "the field \(node.name) has no columns") }
        return place
    }

    /// Positions on the leaf's path of the optional ancestors that share the leaf's depth (a NULL there is the
    /// parent's, not the value's own).
    func sameDepthOptionals(_ leaf: ParquetSchemaNode) -> [Int] {
        guard let place = index.place(leaf) else { return [] }
        var result: [Int] = []
        // Path nodes of the leaf's column: walk from the leaf up while the repetition depth is unchanged.
        let path = pathNodes(leaf: place.leaf)
        for (position, node) in path.enumerated().reversed() where position < place.position {
            if node.maxRepetitionLevel != leaf.maxRepetitionLevel || node.repetition == .repeated { break }
            if node.repetition == .optional { result.append(position) }
        }
        return result
    }

    func pathNodes(leaf: Int) -> [ParquetSchemaNode] { index.paths[leaf] ?? [] }

    /// The element field of a LIST, or nil when the repeated field itself is the element (the format's
    /// backward-compatibility rules).
    static func listElement(list: ParquetSchemaNode, repeated: ParquetSchemaNode) -> ParquetSchemaNode? {
        if repeated.isLeaf || repeated.children.count != 1 { return nil }
        let only = repeated.children[0]
        if only.repetition == .repeated { return only }
        if repeated.name == "array" || repeated.name == list.name + "_tuple" { return nil }
        return only
    }

    static func unwrapAggregate(_ type: ClickHouseType) -> ClickHouseType {
        if case .simpleAggregateFunction(_, let inner) = type { return unwrapAggregate(inner) }
        return type
    }

    /// The value type under Nullable and LowCardinality wrappers.
    static func scalarBase(_ type: ClickHouseType) -> ClickHouseType {
        switch type {
        case .nullable(let inner), .lowCardinality(let inner), .simpleAggregateFunction(_, let inner): return scalarBase(inner)
        default: return type
        }
    }
}

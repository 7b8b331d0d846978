public import ClickHouseNative
import Synchronization

/// A `database.table` name.
public struct TableName: Hashable, Sendable, CustomStringConvertible {
    /// The database.
    public var database: String
    /// The table.
    public var table: String

    /// Creates a name.
    public init(database: String, table: String) {
        self.database = database
        self.table = table
    }

    /// Parses `database.table` (both parts required, no quoting).
    public init?(_ text: String) {
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { return nil }
        self.init(database: String(parts[0]), table: String(parts[1]))
    }

    /// The name quoted for SQL: `` `db`.`t` ``.
    public var sql: String { "\(SQL.identifier(database)).\(SQL.identifier(table))" }

    public var description: String { "\(database).\(table)" }
}

/// How a table column gets its value when an insert does not provide it.
public enum ColumnDefaultKind: String, Hashable, Sendable {
    /// No default expression: the type's default value.
    case none = ""
    /// `DEFAULT expr`: computed when the insert omits the column.
    case `default` = "DEFAULT"
    /// `MATERIALIZED expr`: always computed; an insert must not provide it.
    case materialized = "MATERIALIZED"
    /// `ALIAS expr`: not stored.
    case alias = "ALIAS"
    /// `EPHEMERAL`: only usable by other columns' defaults.
    case ephemeral = "EPHEMERAL"
}

/// One column of a table, as `system.columns` describes it.
public struct TableColumn: Hashable, Sendable {
    /// The column name.
    public var name: String
    /// The type text exactly as the server printed it.
    public var typeName: String
    /// The parsed type, or the reason it could not be parsed (a type this library cannot encode).
    public var type: Result<ClickHouseType, ClickHouseTypeParseError>
    /// How the server fills the column.
    public var defaultKind: ColumnDefaultKind
    /// Whether the column takes part in the partition key.
    public var isInPartitionKey: Bool

    /// Whether an insert may (and, without a default, must) provide the column.
    public var isInsertable: Bool { defaultKind == .none || defaultKind == .default }
}

/// A table's columns and the parts of its definition that loading depends on.
public struct TableSchema: Hashable, Sendable {
    /// The table.
    public var table: TableName
    /// The columns in definition order.
    public var columns: [TableColumn]
    /// The engine name (`MergeTree`, `ReplicatedReplacingMergeTree`, ...).
    public var engine: String
    /// The engine clause with its arguments and settings.
    public var engineFull: String
    /// The partition key expression, empty when the table is not partitioned.
    public var partitionKey: String
    /// The sorting key expression.
    public var sortingKey: String

    /// The column named `name`, if any.
    public func column(named name: String) -> TableColumn? { columns.first { $0.name == name } }

    /// Whether the engine belongs to the MergeTree family (required for staged, exactly-once loads).
    public var isMergeTreeFamily: Bool { engine.hasSuffix("MergeTree") }

    /// Whether merges keep every row (`MergeTree`, `ReplicatedMergeTree`): a row that was inserted stays countable,
    /// unlike on engines whose merges replace, collapse or aggregate rows.
    public var mergesKeepEveryRow: Bool { engine == "MergeTree" || engine == "ReplicatedMergeTree" }

    /// Whether the engine is replicated (`Replicated*MergeTree`).
    public var isReplicated: Bool { engine.hasPrefix("Replicated") }
}

extension ClickHouseClient {
    /// The schema of `table`, read from `system.columns` and `system.tables` once and cached.
    ///
    /// - Parameter refresh: read it again (after a schema error, or when the table may have changed).
    /// - Throws: a ``ClickHouseError`` of category `schema` (code 60) when the table does not exist.
    public func tableSchema(_ table: TableName, refresh: Bool = false) async throws(ClickHouseError) -> TableSchema {
        if !refresh, let cached = cache.withLock({ $0.schemas[table] }) { return cached }
        let where_ = "database = \(SQL.string(table.database)) AND \(SQL.identifier("table")) = \(SQL.string(table.table))"
        let columnRows = try await query(
            "SELECT name, type, default_kind, is_in_partition_key FROM system.columns WHERE \(where_)")
        let tableRows = try await query(
            "SELECT engine, engine_full, partition_key, sorting_key FROM system.tables "
                + "WHERE database = \(SQL.string(table.database)) AND name = \(SQL.string(table.table))")
        guard let tableRow = tableRows.first, tableRow.count >= 4, !columnRows.isEmpty else {
            throw ClickHouseError(category: .schema, serverCode: 60, serverCodeName: "UNKNOWN_TABLE", message: "table \(table) does not exist")
        }
        var columns: [TableColumn] = []
        for row in columnRows where row.count >= 4 {
            let parsed: Result<ClickHouseType, ClickHouseTypeParseError>
            do {
                parsed = .success(try ClickHouseType(parsing: row[1]))
            } catch {
                parsed = .failure(error)
            }
            columns.append(TableColumn(
                name: row[0], typeName: row[1], type: parsed,
                defaultKind: ColumnDefaultKind(rawValue: row[2]) ?? .default, isInPartitionKey: row[3] == "1"))
        }
        let schema = TableSchema(
            table: table, columns: columns, engine: tableRow[0], engineFull: tableRow[1], partitionKey: tableRow[2], sortingKey: tableRow[3])
        cache.withLock { $0.schemas[table] = schema }
        return schema
    }

    /// Forgets the cached schema of `table` (the next ``tableSchema(_:refresh:)`` reads it again).
    public func invalidateSchema(_ table: TableName) {
        _ = cache.withLock { $0.schemas.removeValue(forKey: table) }
    }
}

/// Quoting for SQL text.
package enum SQL {
    /// A single-quoted string literal.
    package static func string(_ text: String) -> String {
        var out = "'"
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "'": out += "\\'"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\0": out += "\\0"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "'"
    }

    /// A back-quoted identifier.
    package static func identifier(_ name: String) -> String {
        var out = "`"
        for scalar in name.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "`": out += "\\`"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "`"
    }
}

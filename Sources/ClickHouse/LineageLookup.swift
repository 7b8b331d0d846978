/// A column that holds the same value in every row of a file (a Hive partition value of its key), which narrows a
/// lineage lookup to the parts that can hold the file's rows (partition pruning, the min-max indexes).
public struct ColumnValue: Sendable, Hashable {
    /// The column name.
    public var column: String
    /// The column type as the server prints it; the value is converted with `CAST(value, type)`.
    public var type: String
    /// The value as text.
    public var value: String

    public init(column: String, type: String, value: String) {
        self.column = column
        self.type = type
        self.value = value
    }
}

extension ClickHouseClient {
    /// The rows of `table` whose lineage columns hold `values` (e.g. `["_source_key": key, "_source_etag": etag]`), counted
    /// per partition id; partitions without such rows are absent. Lineage is compared as text (`toString`), so any
    /// column type that renders the value works.
    ///
    /// `narrowedBy` limits the scan to rows that also hold these values. When the server cannot convert one of them to
    /// its column's type, the lookup is repeated without them (a slower answer, never a wrong one).
    public func rowsWithLineage(_ table: TableName, values: [String: String], narrowedBy: [ColumnValue] = []) async throws(ClickHouseError)
        -> [String: Int]
    {
        precondition(!values.isEmpty, "rowsWithLineage needs at least one lineage column")
        let narrowing = narrowedBy.map { "\(SQL.identifier($0.column)) = CAST(\(SQL.string($0.value)), \(SQL.string($0.type)))" }
        let rows: [[String]]
        do {
            rows = try await query(
                "SELECT _partition_id, count() FROM \(table.sql) WHERE \(([SQL.lineageCondition(values)] + narrowing).joined(separator: " AND ")) "
                    + "GROUP BY _partition_id")
        } catch where !narrowing.isEmpty && !error.isRetryable {
            return try await rowsWithLineage(table, values: values)
        }
        var counts: [String: Int] = [:]
        for row in rows where row.count == 2 {
            if let count = Int(row[1]), count > 0 { counts[row[0]] = count }
        }
        return counts
    }
}

extension SQL {
    /// `toString(col) = 'value' AND …` over the lineage values, in column order.
    static func lineageCondition(_ values: [String: String]) -> String {
        values.sorted { $0.key < $1.key }
            .map { "toString(\(identifier($0.key))) = \(string($0.value))" }.joined(separator: " AND ")
    }
}

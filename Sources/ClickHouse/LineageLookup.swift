extension ClickHouseClient {
    /// The rows of `table` whose lineage columns hold `values` (e.g. `["_source_key": key, "_source_etag": etag]`), counted
    /// per partition id; partitions without such rows are absent. Compared as text (`toString`), so any column type
    /// that renders the value works.
    ///
    /// The query reads the named columns of every part of the table: it is meant for rare questions ("did another
    /// consumer load this file?"), not for every load.
    public func rowsWithLineage(_ table: TableName, values: [String: String]) async throws(ClickHouseError) -> [String: Int] {
        precondition(!values.isEmpty, "rowsWithLineage needs at least one lineage column")
        let rows = try await query(
            "SELECT _partition_id, count() FROM \(table.sql) WHERE \(SQL.lineageCondition(values)) GROUP BY _partition_id")
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

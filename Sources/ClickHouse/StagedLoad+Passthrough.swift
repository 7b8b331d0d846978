public import NIOCore

extension StagedLoad {
    /// Streams a Parquet file into the staging table and lets the server decode it, instead of transcoding it here
    /// (`INSERT INTO stage (...) SELECT ... FROM input('...') FORMAT Parquet`). The staging table keeps the exactly-once
    /// protocol unchanged: seal, commit and verify work the same afterwards.
    ///
    /// - Parameters:
    ///   - fileColumns: the file's columns to load, each read as the type of the table column of the same name.
    ///   - constants: values for table columns that the file lacks (Hive partition and lineage values), as text
    ///     converted by the server to the column type.
    ///   - body: the Parquet file's bytes, in order.
    /// - Throws: ``ClickHouseError`` (category `rejected` when the server cannot read Parquet through `input()`,
    ///   `schema` when a column is not in the table), or the body's own error unchanged.
    public func insertParquet<Body: AsyncSequence & Sendable>(
        fileColumns: [String], constants: [String: String] = [:], body: Body, queryID: String? = nil
    ) async throws where Body.Element == ByteBuffer {
        let capabilities = try await client.capabilities()
        guard capabilities.hasParquetInputFunction else {
            throw ClickHouseError(
                category: .rejected, message: "ClickHouse \(capabilities.version) cannot insert Parquet through input(); use the Native path")
        }
        let schema = try await client.tableSchema(target)
        var structure: [String] = []
        var names: [String] = []
        var expressions: [String] = []
        for name in fileColumns {
            guard let column = schema.column(named: name) else {
                throw ClickHouseError(category: .schema, serverCode: 16, message: "table \(target) has no column \(name)")
            }
            structure.append("\(SQL.identifier(name)) \(column.typeName)")
            names.append(SQL.identifier(name))
            expressions.append(SQL.identifier(name))
        }
        for (name, value) in constants.sorted(by: { $0.key < $1.key }) {
            guard let column = schema.column(named: name) else {
                throw ClickHouseError(category: .schema, serverCode: 16, message: "table \(target) has no column \(name)")
            }
            names.append(SQL.identifier(name))
            expressions.append("CAST(\(SQL.string(value)) AS \(column.typeName))")
        }
        let statement = "INSERT INTO \(stage.sql) (\(names.joined(separator: ", "))) SELECT \(expressions.joined(separator: ", ")) "
            + "FROM input(\(SQL.string(structure.joined(separator: ", ")))) FORMAT Parquet"
        try await client.insert(statement, body: body, settings: try await insertSettings(), queryID: queryID)
    }
}

extension ServerCapabilities {
    /// `INSERT ... SELECT ... FROM input(structure) FORMAT Parquet` (the `input` table function, 19.15).
    public var hasParquetInputFunction: Bool { atLeast(19, 15) }
}

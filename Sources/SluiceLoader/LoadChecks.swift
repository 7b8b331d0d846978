package import ClickHouse
package import Foundation
package import SluiceCore
import SluiceIntake

/// Checks and values of a load that do not need a server: table requirements, partition values, timestamps.
package enum LoadChecks {
    /// `ds=2025-09-10/hour=01` (as stored, Hive-escaped) to `["ds": "2025-09-10", "hour": "01"]`.
    package static func partitionValues(_ path: String) -> [String: String] {
        var values: [String: String] = [:]
        for segment in path.split(separator: "/") {
            guard let eq = segment.firstIndex(of: "="), eq != segment.startIndex else { continue }
            values[HiveEscaping.unescape(segment[..<eq])] = HiveEscaping.unescape(segment[segment.index(after: eq)...])
        }
        return values
    }

    /// Refuses tables the protocol cannot load exactly once: engines outside the MergeTree family, and partition keys
    /// that are not a function of the rows (a file staged again must land in the same partitions).
    package static func checkTable(_ schema: TableSchema) throws(SluiceError) {
        try checkTable(table: schema.table.description, engine: schema.engine, partitionKey: schema.partitionKey)
    }

    /// ``checkTable(_:)`` on the parts of a table's definition.
    package static func checkTable(table: String, engine: String, partitionKey: String) throws(SluiceError) {
        guard engine.hasSuffix("MergeTree") else {
            throw SluiceError(
                category: .schema,
                "table \(table) has engine \(engine); exactly-once loads need a MergeTree-family engine")
        }
        let key = partitionKey.lowercased()
        let volatile = ["rand", "now", "today", "yesterday", "generateuuid", "uptime", "rownumberinblock", "blocknumber", "randomstring"]
        for name in volatile {
            var searchStart = key.startIndex
            while let range = key.range(of: name, range: searchStart..<key.endIndex) {
                let before = range.lowerBound == key.startIndex ? nil : key[key.index(before: range.lowerBound)]
                let rest = key[range.upperBound...].drop { $0.isLetter || $0.isNumber || $0 == "_" }
                let wordStart = before.map { !($0.isLetter || $0.isNumber || $0 == "_") } ?? true
                if wordStart, rest.first == "(" {
                    throw SluiceError(
                        category: .schema,
                        "table \(table) is partitioned by \(partitionKey), which is not a function of the rows; "
                            + "Sluice cannot load it exactly once (a file loaded again must fall into the same partitions)")
                }
                searchStart = range.upperBound
            }
        }
    }

    /// `YYYY-MM-DD hh:mm:ss` in UTC.
    package static func timestamp(_ date: Date) -> String {
        let seconds = Int64(date.timeIntervalSince1970.rounded(.down))
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let time = seconds - days * 86_400
        // Civil date from days since 1970-01-01 (proleptic Gregorian).
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        func two(_ n: Int64) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let yearText = String(year)
        return String(repeating: "0", count: max(0, 4 - yearText.count)) + yearText
            + "-\(two(month))-\(two(day)) \(two(time / 3600)):\(two(time % 3600 / 60)):\(two(time % 60))"
    }
}

public import SluiceCore

/// How urgently a domain's files are loaded. The journal dequeues by weighted round robin over these
/// classes, so a lower class is never starved.
public enum Priority: String, Sendable, CaseIterable, Codable, Comparable, Hashable {
    case high
    case medium
    case low

    /// The class's rank: 0 for high, 2 for low. Stored in the journal.
    public var rank: Int {
        switch self {
        case .high: 0
        case .medium: 1
        case .low: 2
        }
    }

    public init?(rank: Int) {
        switch rank {
        case 0: self = .high
        case 1: self = .medium
        case 2: self = .low
        default: return nil
        }
    }

    public static func < (lhs: Priority, rhs: Priority) -> Bool { lhs.rank < rhs.rank }
}

/// One domain of the curated bucket: which keys belong to it, where its rows go, and how its files are queued.
public struct DomainConfiguration: Sendable, Hashable {
    /// The domain's name, the first segment of its keys (`market`).
    public var name: String
    /// The key prefix that selects the domain's objects (default `<name>/`).
    public var prefix: String
    /// The ClickHouse database of the domain's tables (default: the domain's name).
    public var database: String
    /// The table name inside ``database``; `{table_name}` and `{domain}` are replaced. A pattern that
    /// contains a dot (`analytics.{table_name}`) names the database too.
    public var tablePattern: String
    /// The domain's priority class.
    public var priority: Priority
    /// The fewest files of one table the loader batches into one insert.
    public var batchMin: Int
    /// The most files of one table the loader batches into one insert.
    public var batchMax: Int
    /// The most entries of this domain that may wait in the journal (its budget); `nil` means only the
    /// journal-wide limit applies.
    public var maxPending: Int?

    public init(
        name: String,
        prefix: String? = nil,
        database: String? = nil,
        tablePattern: String = "{table_name}",
        priority: Priority,
        batchMin: Int,
        batchMax: Int,
        maxPending: Int? = nil
    ) {
        self.name = name
        self.prefix = prefix ?? "\(name)/"
        self.database = database ?? name
        self.tablePattern = tablePattern
        self.priority = priority
        self.batchMin = batchMin
        self.batchMax = batchMax
        self.maxPending = maxPending
    }

    /// The seed's four domains: market (high, 5–10), customer (medium, 3–7), product (low, 1–5),
    /// analytics (low, 1–3).
    public static let seedDefaults: [DomainConfiguration] = [
        DomainConfiguration(name: "market", priority: .high, batchMin: 5, batchMax: 10),
        DomainConfiguration(name: "customer", priority: .medium, batchMin: 3, batchMax: 7),
        DomainConfiguration(name: "product", priority: .low, batchMin: 1, batchMax: 5),
        DomainConfiguration(name: "analytics", priority: .low, batchMin: 1, batchMax: 3),
    ]

    /// The ClickHouse table (`database`, `table`) that rows of `tableName` go to.
    public func target(tableName: String) -> TableReference {
        let resolved = tablePattern
            .replacing("{table_name}", with: tableName)
            .replacing("{domain}", with: name)
        if let dot = resolved.firstIndex(of: ".") {
            return TableReference(
                database: String(resolved[..<dot]),
                table: String(resolved[resolved.index(after: dot)...])
            )
        }
        return TableReference(database: database, table: resolved)
    }
}

/// A ClickHouse table, by database and name. Both parts are checked identifiers, safe to quote in SQL.
public struct TableReference: Sendable, Hashable, Codable, CustomStringConvertible {
    public var database: String
    public var table: String

    public init(database: String, table: String) {
        self.database = database
        self.table = table
    }

    /// Parses `db.table`.
    public init?(qualified: String) {
        let parts = qualified.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, Identifier.isValid(parts[0]), Identifier.isValid(parts[1]) else { return nil }
        self.database = String(parts[0])
        self.table = String(parts[1])
    }

    public var description: String { "\(database).\(table)" }
}

/// The identifiers Sluice accepts for databases, tables and columns derived from object keys:
/// ASCII letters, digits and underscores, not starting with a digit, at most 128 characters.
/// Anything else in a key would end up in SQL, so it is refused with E001.
public enum Identifier {
    public static func isValid<S: StringProtocol>(_ s: S) -> Bool {
        guard !s.isEmpty, s.utf8.count <= 128 else { return false }
        for (i, b) in s.utf8.enumerated() {
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "_"):
                continue
            case UInt8(ascii: "0")...UInt8(ascii: "9") where i > 0:
                continue
            default:
                return false
            }
        }
        return true
    }
}

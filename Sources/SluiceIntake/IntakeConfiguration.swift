public import Configuration
public import SluiceCore

/// What Sluice accepts: the curated bucket, the size floor, the domains and (optionally) the pattern file.
public struct IntakeConfiguration: Sendable {
    /// `intake.bucket`: the curated bucket; events for other buckets are filtered.
    public var bucket: String
    /// `intake.min_size`: objects of this size or smaller are filtered (default 1024).
    public var minSize: Int64
    /// `intake.pattern_file`: an EventBridge pattern file used instead of the one built from this configuration.
    public var patternFile: String?
    /// The domains, from `domains.<name>.*` (default: the seed's four).
    public var domains: [DomainConfiguration]

    public init(bucket: String, minSize: Int64 = 1024, patternFile: String? = nil, domains: [DomainConfiguration] = DomainConfiguration.seedDefaults) {
        self.bucket = bucket
        self.minSize = minSize
        self.patternFile = patternFile
        self.domains = domains.sorted { ($0.priority.rank, $0.name) < ($1.priority.rank, $1.name) }
    }

    /// Reads the intake keys.
    ///
    /// ## Configuration keys
    /// - `intake.bucket` (string, required to serve): the curated bucket.
    /// - `intake.min_size` (int, default `1024`): objects must be larger than this many bytes.
    /// - `intake.pattern_file` (string, optional): path of an EventBridge pattern JSON file to enforce instead of
    ///   the pattern built from the keys here.
    /// - `intake.domains` (string list, optional): the domains to enable; default: the names under `domains`
    ///   in the file, else `market, customer, product, analytics`.
    /// - `domains.<name>.prefix` (string, default `<name>/`), `domains.<name>.database` (string, default
    ///   `<name>`), `domains.<name>.table_pattern` (string, default `{table_name}`; a dotted pattern names the
    ///   database too), `domains.<name>.priority` (`high|medium|low`), `domains.<name>.batch_min`,
    ///   `domains.<name>.batch_max` (int), `domains.<name>.max_pending` (int, optional domain budget).
    ///
    /// - Parameter domainNames: the domain names found in the configuration file, if any.
    public init(values: ConfigValues, domainNamesInFile: [String]) {
        let intake = values.scoped("intake")
        bucket = intake.string("bucket", default: "")
        if !bucket.isEmpty {
            do {
                try EventDecoder.validateBucket(bucket, field: "intake.bucket")
            } catch {
                intake.problem("bucket", "\"\(bucket)\" is not a valid S3 bucket name")
            }
        }
        minSize = Int64(intake.int("min_size", default: 1024, range: 0...Int(Int32.max)))
        patternFile = intake.optionalString("pattern_file")
        var names = intake.stringArray("domains", default: domainNamesInFile)
        if names.isEmpty { names = DomainConfiguration.seedDefaults.map(\.name) }
        var domains: [DomainConfiguration] = []
        var seen = Set<String>()
        for name in names {
            guard seen.insert(name).inserted else {
                intake.problem("domains", "domain \"\(name)\" is listed twice")
                continue
            }
            guard Identifier.isValid(name) else {
                values.problem("domains.\(name)", "domain names must be letters, digits and underscores")
                continue
            }
            let base = DomainConfiguration.seedDefaults.first { $0.name == name }
                ?? DomainConfiguration(name: name, priority: .low, batchMin: 1, batchMax: 5)
            let d = values.scoped("domains.\(name)")
            var domain = base
            domain.prefix = d.string("prefix", default: base.prefix)
            if domain.prefix.isEmpty { d.problem("prefix", "must not be empty") }
            domain.database = d.string("database", default: base.database)
            if !Identifier.isValid(domain.database) { d.problem("database", "\"\(domain.database)\" is not a valid database name") }
            domain.tablePattern = d.string("table_pattern", default: base.tablePattern)
            let probe = domain.target(tableName: "t")
            if !Identifier.isValid(probe.database) || !Identifier.isValid(probe.table) || !domain.tablePattern.contains("{table_name}") {
                d.problem("table_pattern", "\"\(domain.tablePattern)\" must contain {table_name} and give a valid [database.]table name")
            }
            domain.priority = d.choice("priority", default: base.priority)
            domain.batchMin = d.int("batch_min", default: base.batchMin, range: 1...10_000)
            domain.batchMax = d.int("batch_max", default: base.batchMax, range: 1...10_000)
            if domain.batchMin > domain.batchMax {
                d.problem("batch_min", "must not exceed batch_max (\(domain.batchMin) > \(domain.batchMax))")
            }
            domain.maxPending = d.optionalInt("max_pending", range: 1...100_000_000)
            domains.append(domain)
        }
        for (i, a) in domains.enumerated() {
            for b in domains[(i + 1)...] where a.prefix.hasPrefix(b.prefix) || b.prefix.hasPrefix(a.prefix) {
                values.problem("domains.\(b.name).prefix", "prefix \"\(b.prefix)\" overlaps with domain \(a.name)'s \"\(a.prefix)\"")
            }
        }
        self.domains = domains.sorted { ($0.priority.rank, $0.name) < ($1.priority.rank, $1.name) }
    }

    /// The domain whose prefix the key starts with.
    public func domain(forKey key: String) -> DomainConfiguration? {
        domains.first { key.utf8.starts(with: $0.prefix.utf8) }
    }
}

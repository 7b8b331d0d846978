public import Configuration

/// One configuration key that Sluice could not accept, and why.
public struct ConfigProblem: Sendable, Hashable, CustomStringConvertible {
    /// The full dotted key, for example `http.port`.
    public var key: String
    /// Why the value was refused.
    public var reason: String

    public init(key: String, reason: String) {
        self.key = key
        self.reason = reason
    }

    public var description: String { "\(key): \(reason)" }
}

/// The configuration could not be accepted; every bad key is listed.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    public var problems: [ConfigProblem]

    public init(problems: [ConfigProblem]) {
        self.problems = problems
    }

    public var description: String {
        "invalid configuration:\n" + problems.map { "  - \($0)" }.joined(separator: "\n")
    }
}

/// Reads typed values from a `ConfigReader` and records each missing, malformed or out-of-range key
/// instead of silently falling back to a default, so `sluice config check` can list them all at once.
///
/// Components build their `Configuration` through one of these, then the caller throws
/// ``ConfigurationError`` if ``problems`` is not empty.
public final class ConfigValues {
    /// The reader values come from.
    public let reader: ConfigReader
    /// The dotted prefix of the reader's scope, used in problem messages.
    public let prefix: String
    private let sink: ProblemSink

    final class ProblemSink {
        var problems: [ConfigProblem] = []
    }

    public convenience init(_ reader: ConfigReader) {
        self.init(reader: reader, prefix: "", sink: ProblemSink())
    }

    init(reader: ConfigReader, prefix: String, sink: ProblemSink) {
        self.reader = reader
        self.prefix = prefix
        self.sink = sink
    }

    /// Every problem recorded so far, by this object and every scope made from it.
    public var problems: [ConfigProblem] { sink.problems }

    /// A view on a sub-tree, sharing the list of problems.
    public func scoped(_ key: String) -> ConfigValues {
        ConfigValues(reader: reader.scoped(to: ConfigKey(key)), prefix: fullKey(key), sink: sink)
    }

    /// Records a problem with a key of this scope.
    public func problem(_ key: String, _ reason: String) {
        sink.problems.append(ConfigProblem(key: fullKey(key), reason: reason))
    }

    /// The full dotted name of a key of this scope.
    public func fullKey(_ key: String) -> String {
        prefix.isEmpty ? key : "\(prefix).\(key)"
    }

    /// Whether any provider has a value for the key (of any type).
    public func isSet(_ key: String) -> Bool {
        let k = ConfigKey(key)
        return reader.string(forKey: k) != nil || reader.stringArray(forKey: k) != nil
    }

    public func string(_ key: String, default value: String, isSecret: Bool = false) -> String {
        optionalString(key, isSecret: isSecret) ?? value
    }

    public func optionalString(_ key: String, isSecret: Bool = false) -> String? {
        guard let value = reader.string(forKey: ConfigKey(key), isSecret: isSecret) else { return nil }
        return value
    }

    public func int(_ key: String, default value: Int, range: ClosedRange<Int>? = nil) -> Int {
        optionalInt(key, range: range) ?? value
    }

    public func optionalInt(_ key: String, range: ClosedRange<Int>? = nil) -> Int? {
        guard isSet(key) else { return nil }
        guard let value = reader.int(forKey: ConfigKey(key)) else {
            let raw = reader.string(forKey: ConfigKey(key)).map { " (got \"\($0)\")" } ?? ""
            problem(key, "must be an integer\(raw)")
            return nil
        }
        if let range, !range.contains(value) {
            problem(key, "must be between \(range.lowerBound) and \(range.upperBound) (got \(value))")
            return nil
        }
        return value
    }

    public func double(_ key: String, default value: Double, range: ClosedRange<Double>? = nil) -> Double {
        guard isSet(key) else { return value }
        guard let parsed = reader.double(forKey: ConfigKey(key)) else {
            let raw = reader.string(forKey: ConfigKey(key)).map { " (got \"\($0)\")" } ?? ""
            problem(key, "must be a number\(raw)")
            return value
        }
        if let range, !range.contains(parsed) {
            problem(key, "must be between \(range.lowerBound) and \(range.upperBound) (got \(parsed))")
            return value
        }
        return parsed
    }

    public func bool(_ key: String, default value: Bool) -> Bool {
        guard isSet(key) else { return value }
        guard let parsed = reader.bool(forKey: ConfigKey(key)) else {
            problem(key, "must be true or false")
            return value
        }
        return parsed
    }

    /// A list of strings: a YAML sequence, or a comma-separated string (environment variables).
    public func stringArray(_ key: String, default value: [String], isSecret: Bool = false) -> [String] {
        let k = ConfigKey(key)
        if let array = reader.stringArray(forKey: k, isSecret: isSecret) {
            return array.map { $0.trimmingWhitespace() }.filter { !$0.isEmpty }
        }
        if let single = reader.string(forKey: k, isSecret: isSecret) {
            return single.split(separator: ",").map { String($0).trimmingWhitespace() }.filter { !$0.isEmpty }
        }
        return value
    }

    /// A value from a fixed set of choices.
    public func choice<T: RawRepresentable<String>>(_ key: String, default value: T) -> T {
        guard let raw = optionalString(key) else { return value }
        if let parsed = T(rawValue: raw.lowercased()) { return parsed }
        problem(key, "unknown value \"\(raw)\"")
        return value
    }
}

extension String {
    package func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s.removeFirst() }
        while let l = s.last, l.isWhitespace { s.removeLast() }
        return String(s)
    }
}

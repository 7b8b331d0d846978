import Foundation

/// The shared `config` and `credentials` files (INI format).
struct SharedConfig: Sendable {
    /// Section name to key/value pairs. Config-file sections are stored under the bare profile
    /// name (`[profile dev]` becomes `dev`).
    var config: [String: [String: String]] = [:]
    var credentials: [String: [String: String]] = [:]

    init(config: [String: [String: String]] = [:], credentials: [String: [String: String]] = [:]) {
        self.config = config
        self.credentials = credentials
    }

    static func load(environment: AWSEnvironment) throws -> SharedConfig {
        var shared = SharedConfig()
        if let text = try environment.readText(environment.configFilePath) {
            for (section, values) in Self.parseINI(text) {
                let name: String
                if section == "default" {
                    name = "default"
                } else if section.hasPrefix("profile ") {
                    name = String(section.dropFirst("profile ".count)).trimmingWhitespace
                } else {
                    continue  // sso-session, services, …
                }
                shared.config[name, default: [:]].merge(values) { $1 }
            }
        }
        if let text = try environment.readText(environment.credentialsFilePath) {
            for (section, values) in Self.parseINI(text) {
                shared.credentials[section, default: [:]].merge(values) { $1 }
            }
        }
        return shared
    }

    /// The region of the active profile, if the config file has one.
    static func region(environment: AWSEnvironment) throws -> String? {
        let shared = try self.load(environment: environment)
        return shared.config[environment.profileName]?["region"]
    }

    /// A profile's settings: credentials-file values win over config-file values.
    func profile(_ name: String) -> [String: String]? {
        let fromConfig = self.config[name]
        let fromCredentials = self.credentials[name]
        if fromConfig == nil && fromCredentials == nil { return nil }
        return (fromConfig ?? [:]).merging(fromCredentials ?? [:]) { $1 }
    }

    /// Parses INI text: `[section]` headers, `key = value` lines, `#` and `;` comments.
    /// Indented lines (sub-sections such as `s3 =` blocks) are skipped.
    static func parseINI(_ text: String) -> [(String, [String: String])] {
        var sections: [(String, [String: String])] = []
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            var line = Substring(rawLine)
            if line.hasSuffix("\r") { line = line.dropLast() }
            if line.first == " " || line.first == "\t" { continue }
            let trimmed = String(line).trimmingWhitespace
            if trimmed.isEmpty || trimmed.hasPrefix("#") || trimmed.hasPrefix(";") { continue }
            if trimmed.hasPrefix("[") {
                guard let close = trimmed.firstIndex(of: "]") else { continue }
                let name = trimmed[trimmed.index(after: trimmed.startIndex)..<close]
                sections.append((String(name).trimmingWhitespace, [:]))
                continue
            }
            guard !sections.isEmpty, let equals = trimmed.firstIndex(of: "=") else { continue }
            let key = String(trimmed[..<equals]).trimmingWhitespace.lowercased()
            var value = String(trimmed[trimmed.index(after: equals)...]).trimmingWhitespace
            // An inline comment needs whitespace before it, so `#` inside a secret survives.
            for marker in [" #", "\t#", " ;", "\t;"] {
                if let range = value.range(of: marker) { value = String(value[..<range.lowerBound]).trimmingWhitespace }
            }
            sections[sections.count - 1].1[key] = value
        }
        return sections
    }
}

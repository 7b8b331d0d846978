public import Foundation

/// The process's environment variables and file system, injected so that tests decide what the
/// credential chain and the configuration see.
///
/// Its description lists variable names only: values such as `AWS_SECRET_ACCESS_KEY` are never
/// printed.
public struct AWSEnvironment: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// Environment variables (`AWS_REGION`, `AWS_ACCESS_KEY_ID`, …).
    public var variables: [String: String]
    /// Reads a whole file; returns nil when it does not exist. Files read this way are small
    /// (shared config, tokens), and the reader must refuse anything over a few megabytes.
    public var readFile: @Sendable (String) throws -> [UInt8]?

    /// Creates an environment from a dictionary and a file reader.
    public init(variables: [String: String], readFile: @escaping @Sendable (String) throws -> [UInt8]?) {
        self.variables = variables
        self.readFile = readFile
    }

    /// The real process environment and file system.
    public static var process: AWSEnvironment {
        AWSEnvironment(variables: ProcessInfo.processInfo.environment) { path in
            guard FileManager.default.fileExists(atPath: path) else { return nil }
            let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
            defer { try? handle.close() }
            let limit = 4 * 1024 * 1024
            let data = try handle.read(upToCount: limit + 1) ?? Data()
            guard data.count <= limit else {
                throw AWSError(
                    code: AWSError.Code.invalidConfiguration,
                    category: .permanent,
                    message: "file \(path) is larger than \(limit) bytes",
                    service: "config",
                    operation: "readFile"
                )
            }
            return Array(data)
        }
    }

    public var description: String {
        "AWSEnvironment(variables: [" + self.variables.keys.sorted().joined(separator: ", ") + "])"
    }

    public var debugDescription: String { self.description }

    /// A variable's value, nil when unset or empty.
    public subscript(_ name: String) -> String? {
        guard let value = self.variables[name], !value.isEmpty else { return nil }
        return value
    }

    /// Reads a file as UTF-8 text; nil when it does not exist.
    func readText(_ path: String) throws -> String? {
        guard let bytes = try self.readFile(path) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// `~` expanded against `HOME`.
    func expandingHome(_ path: String) -> String {
        guard path.hasPrefix("~/"), let home = self["HOME"] else { return path }
        return home + path.dropFirst()
    }

    /// The shared config file: `AWS_CONFIG_FILE` or `~/.aws/config`.
    var configFilePath: String { self.expandingHome(self["AWS_CONFIG_FILE"] ?? "~/.aws/config") }
    /// The shared credentials file: `AWS_SHARED_CREDENTIALS_FILE` or `~/.aws/credentials`.
    var credentialsFilePath: String { self.expandingHome(self["AWS_SHARED_CREDENTIALS_FILE"] ?? "~/.aws/credentials") }
    /// `AWS_PROFILE`, else `default`.
    var profileName: String { self["AWS_PROFILE"] ?? self["AWS_DEFAULT_PROFILE"] ?? "default" }
}

import Foundation
import Testing

/// The built `sluice` executable: `$SLUICE_BIN`, else the one next to this test bundle.
enum SluiceBinary {
    static var path: String? {
        if let env = ProcessInfo.processInfo.environment["SLUICE_BIN"], FileManager.default.isExecutableFile(atPath: env) { return env }
        let bundleDir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [bundleDir, bundleDir.deletingLastPathComponent()] {
            let p = candidate.appendingPathComponent("sluice").path
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let p = root.appendingPathComponent(".build/debug/sluice").path
        return FileManager.default.isExecutableFile(atPath: p) ? p : nil
    }

    static var available: Bool { path != nil }
}

/// The shared test corpus: `$SLUICE_CORPUS`, else `<package>/../shared/corpus`.
enum Corpus {
    static var root: URL? {
        let fm = FileManager.default
        if let env = ProcessInfo.processInfo.environment["SLUICE_CORPUS"], fm.fileExists(atPath: env) { return URL(fileURLWithPath: env) }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let p = root.appendingPathComponent("../shared/corpus").standardizedFileURL
        return fm.fileExists(atPath: p.path) ? p : nil
    }

    /// Present, or required (then the tests run and fail loudly).
    static var enabled: Bool { root != nil || ProcessInfo.processInfo.environment["SLUICE_REQUIRE_CORPUS"] == "1" }
}

struct ProcessResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs a command to completion.
func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws -> ProcessResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let environment { process.environment = environment }
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return ProcessResult(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self), stderr: String(decoding: errData, as: UTF8.self))
}

func temporaryDirectory(_ name: String) throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-\(name)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
}

import Foundation
import Parquet
import Testing

/// Where the shared test corpus lives: `SLUICE_CORPUS`, else `<package root>/../shared/corpus`.
enum Corpus {
    static let packageRoot: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    static let root: URL = {
        if let path = ProcessInfo.processInfo.environment["SLUICE_CORPUS"], !path.isEmpty {
            return URL(fileURLWithPath: path)
        }
        return packageRoot.deletingLastPathComponent().appendingPathComponent("shared/corpus")
    }()

    static let parquet = root.appendingPathComponent("parquet")

    static var isAvailable: Bool {
        FileManager.default.fileExists(atPath: parquet.appendingPathComponent("MANIFEST.json").path)
    }

    static var required: Bool { ProcessInfo.processInfo.environment["SLUICE_REQUIRE_CORPUS"] == "1" }

    /// Tests run when the corpus is present, or when it is required (and then fail without it).
    static var enabled: Bool { isAvailable || required }

    struct Entry: Decodable {
        let file: String
        let readable: Bool
        let notes: [String]?
    }

    static func manifest() throws -> [Entry] {
        let data = try Data(contentsOf: parquet.appendingPathComponent("MANIFEST.json"))
        return try JSONDecoder().decode([Entry].self, from: data)
    }

    static func bytes(_ relative: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: parquet.appendingPathComponent(relative)))
    }
}

/// Decodes a whole file held in memory into JSON Lines text, synchronously.
func jsonLines(_ bytes: [UInt8], options: ParquetReadOptions = ParquetReadOptions()) async throws -> String {
    let file = try ParquetFile.openSynchronously(bytes: bytes, options: options)
    var out: [UInt8] = []
    try await writeJSONLines(file: file) { out.append(contentsOf: $0) }
    return String(decoding: out, as: UTF8.self)
}

/// Parses JSON Lines into values that compare like Python's `==` on parsed JSON.
func parsedLines(_ text: String) throws -> [NSObject] {
    try text.split(separator: "\n", omittingEmptySubsequences: true).map { line in
        try JSONSerialization.jsonObject(with: Data(line.utf8), options: [.fragmentsAllowed]) as! NSObject
    }
}

/// A small deterministic generator (SplitMix64) so hostile-input tests are repeatable.
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Decodes every column of every row group and renders every row; any failure must be a ParquetError.
func decodeEverything(_ bytes: [UInt8], options: ParquetReadOptions = ParquetReadOptions()) async -> ParquetError? {
    do {
        _ = try await jsonLines(bytes, options: options)
        return nil
    } catch let error as ParquetError {
        return error
    } catch {
        Issue.record("non-Parquet error: \(error)")
        return nil
    }
}

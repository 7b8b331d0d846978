import ArgumentParser
import Foundation
import Parquet

struct ParquetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "parquet",
        abstract: "Inspect a local Parquet file with Sluice's own reader.",
        subcommands: [Cat.self, Schema.self]
    )

    struct Cat: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print every row as one JSON object per line.",
            discussion: """
                Floats print as their shortest round-trip text (NaN and infinities as strings), decimals as strings, \
                binary as base64, timestamps as ISO 8601 UTC, maps as arrays of [key, value]. Exit status 1 with the \
                error code (E002: not Parquet, E003: damaged) on standard error when the file cannot be read.
                """
        )

        @Argument(help: "The Parquet file.")
        var file: String

        @Flag(help: "Skip the page checksum verification.")
        var noVerifyChecksums = false

        func run() async throws {
            let parquet = try await openParquet(file, verifyChecksums: !noVerifyChecksums)
            let output = FileHandle.standardOutput
            do {
                try await writeJSONLines(file: parquet) { bytes in output.write(Data(bytes)) }
            } catch {
                printError("sluice parquet cat: \(file): \(describeParquetError(error))")
                throw ExitCode(1)
            }
        }
    }

    struct Schema: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the schema tree and each row group's column chunks (codec, encodings, sizes)."
        )

        @Argument(help: "The Parquet file.")
        var file: String

        func run() async throws {
            let parquet = try await openParquet(file, verifyChecksums: true)
            print(describeSchema(parquet), terminator: "")
        }
    }
}

/// Opens a local Parquet file, or prints the error with its code and exits 1.
func openParquet(_ path: String, verifyChecksums: Bool) async throws -> ParquetFile {
    guard FileManager.default.isReadableFile(atPath: path) else {
        printError("sluice parquet: cannot read \(path)")
        throw ExitCode(1)
    }
    do {
        return try await ParquetFile.open(path: path, options: ParquetReadOptions(verifyChecksums: verifyChecksums))
    } catch {
        printError("sluice parquet: \(path): \(describeParquetError(error))")
        throw ExitCode(1)
    }
}

/// `E00N category: message (location)` for Parquet errors, the plain description otherwise.
func describeParquetError(_ error: any Error) -> String {
    if let error = error as? ParquetError { return error.description }
    return "\(error)"
}

import ArgumentParser
import Foundation
import Logging
import SluiceCore
import SluiceIntake
import SluiceJournal
import SluiceLoader
import SluiceServer
import Yams

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

struct LoadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "load",
        abstract: "Load one file into ClickHouse now, exactly as the service would, and print a JSON summary.",
        usage: """
            sluice load s3://BUCKET/KEY [--config FILE] [--table DB.TABLE]
            sluice load --file PATH --table DB.TABLE [--config FILE]
            """,
        discussion: """
            The file goes through the service's own path: a journal entry, the ledger check (an object version that \
            was already loaded is a duplicate), the staged exactly-once insert. The journal is journal.path when the \
            configuration sets it (the service must not be running on it), else a temporary one.

            Without --table, the table comes from the key and the domains (intake.domains, domains.*). With --file, \
            the "key" is the local path: its name=value directories give partition values.

            Standard output gets one JSON object: status (loaded, duplicate, skipped or failed), rows, bytes, table, \
            correlation_id, duration_s, and code and error on failure. On failure the error code and message also go \
            to standard error and the exit status is 1. Progress (bytes, rows, row groups) is shown on standard error \
            only when it is a terminal.
            """
    )

    @Argument(help: "The object, as s3://BUCKET/KEY.")
    var uri: String?

    @Option(name: .long, help: "A local Parquet file to load instead of an S3 object (needs --table).")
    var file: String?

    @Option(name: .long, help: "The target table as DB.TABLE (default: from the key's domain).")
    var table: String?

    @Option(name: .shortAndLong, help: "YAML configuration file; SLUICE_* environment variables override it.")
    var config: String?

    @Flag(name: .long, help: "Log at the configured log.level on standard error (default: only the summary and the error).")
    var verbose = false

    func validate() throws {
        if (uri == nil) == (file == nil) { throw ValidationError("give either s3://BUCKET/KEY or --file PATH") }
        if file != nil, table == nil { throw ValidationError("--file needs --table DB.TABLE") }
        if let table, TableReference(qualified: table) == nil {
            throw ValidationError("--table must be DB.TABLE with letters, digits and underscores (got \"\(table)\")")
        }
    }

    func run() async throws {
        let started = ContinuousClock.now
        let environment = ProcessInfo.processInfo.environment
        let (configuration, problems) = try await loadConfiguration(file: config, environment: environment)
        guard problems.isEmpty else {
            printError(ConfigurationError(problems: problems).description)
            throw ExitCode(1)
        }
        var logSettings = configuration.log
        if !verbose { logSettings.level = "critical" }
        bootstrapLogging(logSettings)
        let logger = Logger(label: "sluice.load")

        let correlationID = UUID().uuidString.lowercased()
        let tableReference = table.flatMap(TableReference.init(qualified:))
        let queued: QueuedFile
        do {
            let intake = try Intake(configuration: configuration.intake)
            if let file {
                // A local file goes through the same routing, its absolute path standing for the key.
                let path = URL(fileURLWithPath: file).standardizedFileURL.path
                queued = try intake.manualLoad(
                    ManualLoadRequest(bucket: LocalFileObjectStore.bucket, key: path, table: tableReference), correlationID: correlationID)
            } else {
                queued = try intake.manualLoad(ManualLoadRequest(uri: uri ?? "", table: tableReference), correlationID: correlationID)
            }
        } catch let error as SluiceError {
            Self.fail(error, table: table, correlationID: correlationID, started: started)
        } catch {
            printError("sluice load: invalid configuration: \(error)")
            throw ExitCode(1)
        }
        let clients: LoadClients
        do {
            clients = try LoadClients(configuration: configuration.load, localFiles: file != nil, logger: logger)
        } catch {
            printError("sluice load: invalid configuration: \(error)")
            throw ExitCode(1)
        }

        // The service's journal when one is configured (its ledger answers duplicates), else a temporary one.
        var temporary: URL?
        var journalConfiguration = configuration.journal
        if !journalPathIsSet(file: config, environment: environment) {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-load-\(correlationID)")
            temporary = directory
            journalConfiguration = JournalConfiguration(path: directory.appendingPathComponent("journal.db").path)
        }
        defer { if let temporary { try? FileManager.default.removeItem(at: temporary) } }
        let journal: Journal
        do {
            journal = try Journal(configuration: journalConfiguration, logger: logger)
        } catch {
            printError("sluice load: cannot open the journal: \(error)")
            throw ExitCode(1)
        }
        let reporter = ProgressReporter(enabled: isatty(STDERR_FILENO) == 1)

        let outcome: LoadResult = await withTaskGroup(of: LoadResult?.self) { group in
            group.addTask {
                try? await journal.run()
                return nil
            }
            let loader = clients.loader(
                configuration: configuration.load, journal: journal, minimumObjectBytes: configuration.intake.minSize, logger: logger)
            let result = await Self.loadOne(queued, journal: journal, loader: loader, reporter: reporter)
            journal.close()
            for await _ in group {}
            return result
        }
        reporter.finish()
        await clients.shutdown()

        let target = queued.target.description
        switch outcome {
        case .finished(let result):
            var fields: [(String, String)] = [("status", Self.quoted(result.label))]
            var rows: Int64 = 0
            var bytes: Int64 = 0
            if case .loaded(let r, let b, let version) = result {
                rows = r
                bytes = b
                fields.append(("version", Self.quoted(version)))
            }
            if case .duplicate(let of) = result { fields.append(("duplicate_of", Self.quoted(of))) }
            if case .skipped(let reason) = result { fields.append(("reason", Self.quoted(reason))) }
            fields.insert(contentsOf: [("rows", "\(rows)"), ("bytes", "\(bytes)"), ("table", Self.quoted(target))], at: 1)
            fields.append(("correlation_id", Self.quoted(correlationID)))
            fields.append(("duration_s", Self.seconds(ContinuousClock.now - started)))
            if let error = result.error {
                fields.append(("code", Self.quoted(error.code.rawValue)))
                fields.append(("error", Self.quoted(error.message)))
                print(Self.object(fields))
                printError("sluice load: \(error.code.rawValue): \(error.message)")
                throw ExitCode(1)
            }
            print(Self.object(fields))
        case .notStarted(let error):
            Self.fail(error, table: target, correlationID: correlationID, started: started)
        }
    }

    enum LoadResult: Sendable {
        case finished(FileResult)
        case notStarted(SluiceError)
    }

    /// Queues the file, claims it alone and loads it; a failure is recorded in the journal's dead-letter store.
    static func loadOne(_ file: QueuedFile, journal: Journal, loader: BatchLoader, reporter: ProgressReporter) async -> LoadResult {
        let entryID: Int64
        do {
            switch try await journal.enqueue([file]) {
            case .accepted(let outcomes):
                guard case .queued(_, let id)? = outcomes.first else {
                    return .notStarted(SluiceError(category: .invalidInput, "the journal already holds this request"))
                }
                entryID = id
            case .full(let reason):
                return .notStarted(SluiceError(category: .databaseUnavailable, "the journal is full: \(reason)"))
            }
        } catch {
            return .notStarted(SluiceError(category: .databaseUnavailable, "cannot write the journal: \(error)"))
        }
        let batch: ClaimedBatch
        do {
            guard let claimed = try await journal.claim(entryID: entryID) else {
                return .notStarted(SluiceError(category: .databaseUnavailable, "the journal entry \(entryID) could not be claimed"))
            }
            batch = claimed
        } catch {
            return .notStarted(SluiceError(category: .databaseUnavailable, "cannot claim the journal entry: \(error)"))
        }
        let outcome = await loader.load(batch) { reporter.update($0) }
        guard let file = outcome.files.first else {
            return .notStarted(SluiceError(category: .databaseUnavailable, "the load returned no outcome"))
        }
        if let error = file.result.error {
            try? await journal.markFailed(ids: [file.entryID], error: error, retryAt: nil)
        }
        return .finished(file.result)
    }

    /// Prints the failure summary and exits 1.
    static func fail(_ error: SluiceError, table: String?, correlationID: String, started: ContinuousClock.Instant) -> Never {
        let fields: [(String, String)] = [
            ("status", quoted("failed")), ("rows", "0"), ("bytes", "0"), ("table", table.map(quoted) ?? "null"),
            ("correlation_id", quoted(correlationID)), ("duration_s", seconds(ContinuousClock.now - started)),
            ("code", quoted(error.code.rawValue)), ("error", quoted(error.message)),
        ]
        print(object(fields))
        printError("sluice load: \(error.code.rawValue): \(error.message)")
        Foundation.exit(1)
    }

    static func object(_ fields: [(String, String)]) -> String {
        "{" + fields.map { "\(quoted($0.0)):\($0.1)" }.joined(separator: ",") + "}"
    }

    static func seconds(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        let value = Double(seconds) + Double(attoseconds) / 1e18
        return String(format: "%.3f", value)
    }

    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

/// Shows bytes, rows and row groups on one rewritten line of standard error.
final class ProgressReporter: Sendable {
    let enabled: Bool
    init(enabled: Bool) { self.enabled = enabled }

    func update(_ progress: LoadProgress) {
        guard enabled else { return }
        let line = "\r\(Self.megabytes(progress.bytesRead)) / \(Self.megabytes(progress.bytes)) read, \(progress.rows) rows, "
            + "row group \(progress.rowGroupsDone) of \(progress.rowGroups)  "
        FileHandle.standardError.write(Data(line.utf8))
    }

    func finish() {
        guard enabled else { return }
        FileHandle.standardError.write(Data("\n".utf8))
    }

    static func megabytes(_ bytes: Int64) -> String { String(format: "%.1f MB", Double(bytes) / 1_000_000) }
}

/// Whether `journal.path` is set, in the file or as `SLUICE_JOURNAL_PATH` (then `sluice load` uses that journal).
func journalPathIsSet(file: String?, environment: [String: String]) -> Bool {
    if let value = environment["SLUICE_JOURNAL_PATH"], !value.isEmpty { return true }
    guard let file, let text = try? String(contentsOfFile: file, encoding: .utf8),
        let root = (try? Yams.load(yaml: text)) as? [String: Any], let journal = root["journal"] as? [String: Any]
    else { return false }
    return journal["path"] != nil
}

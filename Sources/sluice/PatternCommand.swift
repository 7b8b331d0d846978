import ArgumentParser
import EventPattern
import Foundation

struct PatternCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pattern",
        abstract: "Work with EventBridge event patterns.",
        subcommands: [Test.self]
    )

    struct Test: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print true if the event matches the pattern, false if not (exit 0 either way).",
            discussion: "Exit status 2 with a message when the pattern or the event is not valid."
        )

        @Argument(help: "EventBridge pattern JSON file.")
        var pattern: String

        @Argument(help: "Event JSON file.")
        var event: String

        func run() async throws {
            let compiled: EventPattern
            do {
                compiled = try EventPattern(json: try read(pattern, what: "pattern"))
            } catch let error as PatternInputError {
                printError(error.message)
                throw ExitCode(2)
            } catch {
                printError("invalid pattern \(pattern): \(error)")
                throw ExitCode(2)
            }
            let eventJSON: JSONValue
            do {
                eventJSON = try read(event, what: "event")
            } catch let error as PatternInputError {
                printError(error.message)
                throw ExitCode(2)
            }
            print(compiled.matches(eventJSON) ? "true" : "false")
        }

        struct PatternInputError: Error {
            var message: String
        }

        func read(_ path: String, what: String) throws -> JSONValue {
            let data: Data
            do {
                data = try Data(contentsOf: URL(fileURLWithPath: path))
            } catch {
                throw PatternInputError(message: "cannot read \(what) file \(path): \(error.localizedDescription)")
            }
            do {
                return try JSONValue.parse(Array(data), maxDepth: 128)
            } catch {
                throw PatternInputError(message: "invalid \(what) \(path): \(error)")
            }
        }
    }
}

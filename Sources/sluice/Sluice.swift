import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif

@main
struct Sluice: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sluice",
        abstract: "Loads Parquet files from S3 into ClickHouse when S3 reports that they were created.",
        discussion: """
            Sluice takes S3 "Object Created" events (EventBridge API destination pushes, S3 notifications, \
            transformed SQS messages), journals each accepted event durably, and loads the file into \
            ClickHouse table <domain>.<table_name> exactly once.
            """,
        version: "0.1.0",
        subcommands: [ServeCommand.self, LoadCommand.self, ParquetCommand.self, PatternCommand.self, ConfigCommand.self]
    )

    static func main() async {
        limitMallocArenas()
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }

    /// glibc gives every thread that allocates concurrently an arena of its own (up to 8 per core), and a load's
    /// large, short-lived column buffers then stay resident in each of them: peak memory grows with the number of
    /// row groups instead of staying flat. Two arenas keep it flat; `MALLOC_ARENA_MAX` in the environment wins.
    static func limitMallocArenas() {
        #if canImport(Glibc)
        guard getenv("MALLOC_ARENA_MAX") == nil, let symbol = dlsym(dlopen(nil, RTLD_NOW), "mallopt") else { return }
        // mallopt(M_ARENA_MAX, 2); <malloc.h> is not part of Swift's Glibc module, M_ARENA_MAX is -8.
        let mallopt = unsafeBitCast(symbol, to: (@convention(c) (Int32, Int32) -> Int32).self)
        _ = mallopt(-8, 2)
        #endif
    }
}

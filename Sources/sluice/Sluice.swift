import ArgumentParser

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
}

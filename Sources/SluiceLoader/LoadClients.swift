package import AWS
package import ClickHouse
package import Logging
package import SluiceJournal
package import SluiceMetrics

/// The clients a loader needs, built from a ``LoadConfiguration``: the ClickHouse client and the object store (S3
/// through the AWS clients, or local files for `sluice load --file`). The service and the CLI build them the same
/// way. Call ``shutdown()`` before dropping them.
package struct LoadClients: Sendable {
    /// The ClickHouse server.
    package let clickhouse: ClickHouseClient
    /// The AWS clients, when objects come from S3.
    package let aws: AWSClients?
    /// Where objects are read from.
    package let objects: any LoadObjectStore

    /// Builds the clients.
    ///
    /// - Parameter localFiles: read local files instead of S3 (no AWS client is made).
    /// - Throws: `ClickHouseConfigurationError` or `AWSError` (`InvalidConfiguration`) naming the bad key.
    /// - Parameter metrics: where S3 and ClickHouse request durations are recorded (`sluice_s3_request_duration_seconds`,
    ///   `sluice_clickhouse_request_duration_seconds`).
    package init(
        configuration: LoadConfiguration, environment: AWSEnvironment = .process, localFiles: Bool = false, metrics: SluiceMetrics? = nil,
        logger: Logger
    ) throws {
        let clickhouseConfiguration = try configuration.makeClickHouseConfiguration()
        if localFiles {
            aws = nil
            objects = LocalFileObjectStore()
        } else {
            var observer: AWSHTTPTransport.RequestObserver?
            if let metrics {
                observer = { @Sendable service, operation, outcome, duration in
                    if service == "s3" { metrics.s3Request(operation: operation, outcome: outcome, duration: duration) }
                }
            }
            let clients = AWSClients(
                configuration: try configuration.makeAWSConfiguration(environment: environment), environment: environment, observer: observer)
            aws = clients
            objects = S3ObjectStore(s3: clients.s3)
        }
        var clickhouseObserver: ClickHouseClient.RequestObserver?
        if let metrics {
            clickhouseObserver = { @Sendable operation, outcome, duration in
                metrics.clickhouseRequest(operation: operation, outcome: outcome, duration: duration)
            }
        }
        clickhouse = ClickHouseClient(configuration: clickhouseConfiguration, logger: logger, observer: clickhouseObserver)
    }

    /// A loader over these clients.
    ///
    /// - Parameter minimumObjectBytes: `intake.min_size`.
    package func loader(configuration: LoadConfiguration, journal: Journal, minimumObjectBytes: Int64, logger: Logger) -> BatchLoader {
        BatchLoader(
            configuration: configuration, minimumObjectBytes: minimumObjectBytes, journal: journal, objects: objects, clickhouse: clickhouse,
            logger: logger)
    }

    /// Closes the connection pools.
    package func shutdown() async {
        try? await clickhouse.shutdown()
        try? await aws?.shutdown()
    }
}

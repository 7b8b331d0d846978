// swift-tools-version: 6.2
//
// Sluice: loads Parquet files from S3 into ClickHouse when S3 reports that they were created.
//
// `ls Sources/` follows the data flow:
//   EventPattern, SluiceIntake   - what an event is and whether it is ours
//   SluiceJournal                - the durable priority queue, ledger and dead-letter store
//   AWSSigV4, AWS                - S3 reads, SQS, STS, credentials
//   Parquet, C*                  - the Parquet decoder and its codecs
//   ClickHouseNative, ClickHouse - the Native encoder and the ClickHouse client
//   SluiceLoader                 - fetch, decode, transcode, insert exactly once
//   SluiceServer                 - HTTP intake, operations endpoints, lifecycle
//   sluice                       - the command-line entry point
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "sluice",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "sluice", targets: ["sluice"]),
        .library(name: "EventPattern", targets: ["EventPattern"]),
        .library(name: "Parquet", targets: ["Parquet"]),
        .library(name: "AWSSigV4", targets: ["AWSSigV4"]),
        .library(name: "ClickHouseNative", targets: ["ClickHouseNative"]),
        .library(name: "AWS", targets: ["AWS"]),
        .library(name: "ClickHouse", targets: ["ClickHouse"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.0"..<"5.0.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-configuration.git", from: "1.4.0", traits: [.defaults, "YAML"]),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-system.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.0"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.34.1"),
    ],
    targets: [
        // MARK: Pure leaf libraries (no server dependencies)
        .target(name: "EventPattern", swiftSettings: swiftSettings),
        .target(
            name: "AWSSigV4",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Parquet",
            dependencies: ["CSnappy", "CZstd", "CLZ4", "CBrotli", "CZlib"],
            swiftSettings: swiftSettings + [.unsafeFlags(["-Ounchecked"], .when(configuration: .release))]
        ),
        .target(name: "ClickHouseNative", swiftSettings: swiftSettings),
        .target(name: "ParquetClickHouse", dependencies: ["Parquet", "ClickHouseNative"], swiftSettings: swiftSettings),

        // MARK: Clients for the outside world
        .target(
            name: "AWS",
            dependencies: [
                "AWSSigV4",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ClickHouse",
            dependencies: [
                "ClickHouseNative",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: Codecs from the system's C libraries
        .systemLibrary(name: "CSnappy", providers: [.apt(["libsnappy-dev"])]),
        .systemLibrary(name: "CZstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CLZ4", providers: [.apt(["liblz4-dev"])]),
        .systemLibrary(name: "CBrotli", providers: [.apt(["libbrotli-dev"])]),
        .systemLibrary(name: "CZlib", providers: [.apt(["zlib1g-dev"])]),

        // MARK: Service
        .target(
            name: "SluiceCore",
            dependencies: [
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SluiceMetrics",
            dependencies: [.product(name: "Prometheus", package: "swift-prometheus")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SluiceIntake",
            dependencies: [
                "EventPattern",
                "SluiceCore",
                .product(name: "Configuration", package: "swift-configuration"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SluiceJournal",
            dependencies: [
                "SluiceCore",
                "SluiceIntake",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Configuration", package: "swift-configuration"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SluiceLoader",
            dependencies: [
                "SluiceCore", "SluiceIntake", "SluiceJournal", "SluiceMetrics", "SluiceScheduler", "AWS", "ClickHouse", "ClickHouseNative",
                "Parquet", "ParquetClickHouse",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SluiceScheduler",
            dependencies: [
                "AWS",
                "EventPattern",
                "SluiceCore",
                "SluiceIntake",
                "SluiceJournal",
                "SluiceMetrics",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SluiceServer",
            dependencies: [
                "SluiceScheduler",
                "SluiceLoader",
                "AWS",
                "ClickHouse",
                "SluiceCore",
                "SluiceIntake",
                "SluiceJournal",
                "SluiceMetrics",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "sluice",
            dependencies: [
                "EventPattern",
                "SluiceCore",
                "SluiceIntake",
                "SluiceJournal",
                "SluiceServer",
                "SluiceLoader",
                "SluiceScheduler",
                "Parquet",
                "AWS",
                "ClickHouse",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: Tests
        .testTarget(name: "EventPatternTests", dependencies: ["EventPattern"], swiftSettings: swiftSettings),
        .testTarget(name: "ParquetTests", dependencies: ["Parquet"], swiftSettings: swiftSettings),
        .testTarget(name: "AWSSigV4Tests", dependencies: ["AWSSigV4"], swiftSettings: swiftSettings),
        .testTarget(
            name: "AWSTests",
            dependencies: [
                "AWS", "AWSSigV4",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "ClickHouseNativeTests", dependencies: ["ClickHouseNative"], exclude: ["Fixtures"], swiftSettings: swiftSettings),
        .testTarget(
            name: "ClickHouseTests",
            dependencies: [
                "ClickHouse", "ClickHouseNative",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["Fixtures"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ParquetClickHouseTests",
            dependencies: [
                "ParquetClickHouse", "Parquet", "ClickHouseNative", "ClickHouse",
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["Fixtures"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SluiceIntakeTests",
            dependencies: ["SluiceIntake", "SluiceCore", "EventPattern"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SluiceJournalTests",
            dependencies: ["SluiceJournal", "SluiceIntake", "SluiceCore"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SluiceLoaderTests",
            dependencies: [
                "SluiceLoader", "SluiceJournal", "SluiceIntake", "SluiceCore", "SluiceScheduler", "AWS", "ClickHouse",
                "ClickHouseNative", "Parquet", "ParquetClickHouse",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Configuration", package: "swift-configuration"),
            ],
            exclude: ["Fixtures"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SluiceSchedulerTests",
            dependencies: [
                "SluiceScheduler", "SluiceJournal", "SluiceIntake", "SluiceCore", "SluiceMetrics",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SluiceCLITests",
            dependencies: [
                "EventPattern", "AWS", "ClickHouse",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["Fixtures"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SluiceServerTests",
            dependencies: [
                "SluiceServer",
                "SluiceJournal",
                "SluiceIntake",
                "SluiceCore",
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)

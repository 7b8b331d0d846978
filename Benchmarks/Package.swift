// swift-tools-version: 6.2
//
// Sluice's benchmarks, kept out of the main package so that package-benchmark and its malloc interposer are
// never part of the service. `scripts/bench` builds and runs everything here; see docs/performance.md.
//
//   Benchmarks/SluiceMicro   package-benchmark suite for the hot loops, with malloc-count thresholds
//                            (Thresholds/*.p90.json)
//   DecodeBench              `sluice-decode-bench`: times ParquetFile + scan on whole files (scripts/bench decode)
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "sluice-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "sluice", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "SluiceMicro",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "Parquet", package: "sluice"),
                .product(name: "EventPattern", package: "sluice"),
                .product(name: "AWSSigV4", package: "sluice"),
                .product(name: "ClickHouseNative", package: "sluice"),
            ],
            path: "Benchmarks/SluiceMicro",
            swiftSettings: swiftSettings,
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "sluice-decode-bench",
            dependencies: [.product(name: "Parquet", package: "sluice")],
            path: "DecodeBench",
            swiftSettings: swiftSettings
        ),
    ]
)

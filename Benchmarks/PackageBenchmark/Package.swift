// swift-tools-version:6.1
// package-benchmark (ordo-one/benchmark) suite for SwiftFabric's pipeline stages, kept in its
// own package so the main build and CI do not compile the benchmark framework. Run from here:
//
//   swift package benchmark thresholds check      (scripts/bench-pipeline.sh does this)
//
// Static thresholds (p90 per benchmark, measured on the 2-vCPU lab VM) are checked in under
// Thresholds/; the tolerances in Benchmarks/Pipeline/Pipeline.swift: zero mallocs per batch,
// p90 wall clock at most double. After an intended change: `swift package
// --allow-writing-to-package-directory benchmark thresholds update`, and commit the files.
import PackageDescription

let package = Package(
    name: "SwiftFabricBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        // The SwiftFabric package, through a link with a fixed name (scripts/bench-pipeline.sh
        // makes it) so the package identity does not depend on where the repo is checked out.
        .package(path: "../../.build-bench/swiftfabric"),
        .package(url: "https://github.com/ordo-one/package-benchmark", from: "1.38.0", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "Pipeline",
            dependencies: [
                .product(name: "Benchmark", package: "package-benchmark"),
                .product(name: "FabricBenchSupport", package: "swiftfabric"),
            ],
            path: "Benchmarks/Pipeline",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "package-benchmark")]
        ),
    ]
)

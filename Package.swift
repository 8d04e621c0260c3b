// swift-tools-version:6.0
import PackageDescription

// Hot-path modules are compiled with exclusivity checking off: their state lives behind
// UnsafeMutablePointers owned by one worker thread (DESIGN.md, "Facts measured"), so the
// runtime checks would only cost time (~8% of forwarding CPU in a probe).
let hotPath: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"])]

let package = Package(
    name: "SwiftFabric",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "fabric", targets: ["fabric"]),
        .executable(name: "fabric-pipeline-bench", targets: ["fabric-pipeline-bench"]),
        // For Benchmarks/PackageBenchmark (a separate package, so CI does not build it).
        .library(name: "FabricBenchSupport", targets: ["FabricBenchSupport"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.1.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CXDP",
            pkgConfig: "libxdp",
            providers: [.apt(["libxdp-dev", "libbpf-dev"])]
        ),
        // C the Swift code cannot reach itself (setns, thread affinity, TPACKET_V3 accessors).
        .target(name: "CFabricShims"),
        // The operating system: clock, signals, errors, namespaces, threads, descriptors.
        .target(name: "FabricSystem", dependencies: ["CFabricShims", .product(name: "Logging", package: "swift-log")],
                swiftSettings: hotPath),
        .target(name: "FabricPacket", swiftSettings: hotPath),
        .target(name: "FabricCore", dependencies: ["CFabricShims", "FabricPacket", "FabricSystem"], swiftSettings: hotPath),
        // AF_XDP: UMEM and sockets (one creation path), rings, XDP programs, port locks.
        .target(name: "FabricXDP", dependencies: ["CXDP", "FabricSystem"], swiftSettings: hotPath),
        // Snapshots, control socket, Prometheus, recorder, depth ring, capture, stats file.
        // Its samplers run on the worker between batches: hot-path settings like the run loop's.
        .target(name: "FabricTelemetry", dependencies: ["FabricCore", "FabricPacket", "FabricSystem",
                                                        .product(name: "Prometheus", package: "swift-prometheus")],
                swiftSettings: hotPath),
        // The switch: port backends (AF_XDP, AF_PACKET) and the run loop.
        .target(name: "FabricIO", dependencies: ["CXDP", "CFabricShims", "FabricCore", "FabricPacket", "FabricSystem", "FabricXDP", "FabricTelemetry"],
                swiftSettings: hotPath),
        .target(name: "FabricConfig", dependencies: ["FabricCore", "FabricPacket", .product(name: "Yams", package: "Yams")]),
        .target(name: "FabricLab", dependencies: ["FabricConfig", "FabricCore", "FabricPacket", "FabricSystem", "FabricTelemetry", "FabricTraffic"]),
        .target(name: "FabricTraffic", dependencies: ["CFabricShims", "FabricPacket", "FabricSystem", "FabricXDP",
                                                      .product(name: "Histogram", package: "hdrhistogram-swift")],
                swiftSettings: hotPath),
        .executableTarget(
            name: "fabric",
            dependencies: [
                "FabricIO", "FabricLab", "FabricCore", "FabricConfig", "FabricPacket", "FabricSystem", "FabricXDP", "FabricTelemetry", "FabricTraffic",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The tests' harnesses: a data path over plain memory, a scripted-kernel port backend,
        // frame builders. A library (not a test target) so the pipeline benchmarks share it.
        .target(name: "FabricTestSupport", dependencies: ["FabricCore", "FabricPacket", "FabricIO", "FabricTelemetry"],
                path: "Tests/FabricTestSupport", swiftSettings: hotPath),
        // Benchmarks/: the per-packet path without sockets, with malloc/ARC counting.
        .target(name: "CRuntimeCounters", path: "Benchmarks/CRuntimeCounters"),
        .target(name: "FabricBenchSupport", dependencies: ["FabricCore", "FabricPacket", "FabricSystem", "FabricTestSupport"], path: "Benchmarks/Support", swiftSettings: hotPath),
        .executableTarget(
            name: "fabric-pipeline-bench",
            dependencies: ["FabricCore", "FabricPacket", "FabricSystem", "FabricTestSupport", "FabricBenchSupport", "CRuntimeCounters"],
            path: "Benchmarks/PipelineBench",
            swiftSettings: hotPath
        ),
        .testTarget(name: "FabricTrafficTests", dependencies: ["FabricTraffic", "FabricPacket"]),
        .testTarget(name: "FabricConfigTests", dependencies: ["FabricConfig", "FabricCore", "FabricPacket"]),
        .testTarget(name: "FabricPacketTests", dependencies: ["FabricPacket"], exclude: ["Golden"]),
        .testTarget(name: "FabricCoreTests", dependencies: ["FabricCore", "FabricPacket", "FabricSystem", "FabricTestSupport"]),
        .testTarget(name: "FabricIOTests", dependencies: ["FabricIO", "FabricCore", "FabricPacket", "FabricTelemetry", "FabricTestSupport"]),
        // Fixtures/containerlab: containerlab's schema and lab examples (BSD-3-Clause, its LICENSE there).
        .testTarget(name: "FabricLabTests", dependencies: ["FabricLab", "FabricConfig", "FabricCore", "FabricPacket", .product(name: "Yams", package: "Yams")],
                    exclude: ["Fixtures"]),
        .testTarget(name: "FabricIntegrationTests", dependencies: ["FabricLab", "FabricCore", "FabricPacket", "FabricSystem", "FabricTelemetry", "FabricTraffic", "FabricConfig"],
                    exclude: ["check_pcap_icrc.py", "fastpath_identity.py"]),
    ]
)

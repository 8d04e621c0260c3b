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
    ],
    targets: [
        .systemLibrary(
            name: "CXDP",
            pkgConfig: "libxdp",
            providers: [.apt(["libxdp-dev", "libbpf-dev"])]
        ),
        .target(name: "FabricPacket", swiftSettings: hotPath),
        .target(name: "FabricCore", dependencies: ["FabricPacket"], swiftSettings: hotPath),
        .target(name: "FabricIO", dependencies: ["CXDP", "FabricCore", "FabricPacket", .product(name: "Prometheus", package: "swift-prometheus")],
                swiftSettings: hotPath),
        .target(name: "FabricConfig", dependencies: ["FabricCore", "FabricPacket", .product(name: "Yams", package: "Yams")]),
        .target(name: "FabricLab", dependencies: ["FabricCore", "FabricIO", "FabricTraffic", .product(name: "Yams", package: "Yams")]),
        .target(name: "FabricTraffic", dependencies: ["CXDP", "FabricPacket", "FabricCore", "FabricIO",
                                                      .product(name: "Histogram", package: "hdrhistogram-swift")],
                swiftSettings: hotPath),
        .executableTarget(
            name: "fabric",
            dependencies: [
                "FabricIO", "FabricLab", "FabricCore", "FabricConfig", "FabricTraffic",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Benchmarks/: the per-packet path without sockets, with malloc/ARC counting.
        .target(name: "CRuntimeCounters", path: "Benchmarks/CRuntimeCounters"),
        .target(name: "FabricBenchSupport", dependencies: ["FabricCore", "FabricPacket"], path: "Benchmarks/Support", swiftSettings: hotPath),
        .executableTarget(
            name: "fabric-pipeline-bench",
            dependencies: ["FabricCore", "FabricPacket", "FabricBenchSupport", "CRuntimeCounters"],
            path: "Benchmarks/PipelineBench",
            swiftSettings: hotPath
        ),
        .testTarget(name: "FabricTrafficTests", dependencies: ["FabricTraffic", "FabricPacket"]),
        .testTarget(name: "FabricConfigTests", dependencies: ["FabricConfig", "FabricCore"]),
        .testTarget(name: "FabricPacketTests", dependencies: ["FabricPacket"], exclude: ["Golden"]),
        .testTarget(name: "FabricCoreTests", dependencies: ["FabricCore", "FabricPacket"]),
        .testTarget(name: "FabricIntegrationTests", dependencies: ["FabricLab", "FabricIO", "FabricCore", "FabricTraffic", "FabricConfig"]),
    ]
)

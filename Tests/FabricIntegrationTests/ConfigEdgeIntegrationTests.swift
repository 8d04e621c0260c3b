import FabricConfig
import FabricCore
import FabricLab
import FabricPacket
import FabricTelemetry
import Foundation
import XCTest

/// Every value `fabric config check` and the command line accept also starts: the switch runs
/// on the edges of what they accept (smallest and largest line rate, pool, MTU, timers, tables,
/// intervals), forwards, answers on its control socket and stops cleanly; one step past each
/// edge is refused before anything is attached.
final class ConfigEdgeIntegrationTests: LabTestCase {
    /// `c` written to a file that `fabric config check` must accept.
    func checkedFile(_ c: SwitchConfig, _ label: String) throws -> String {
        let path = NSTemporaryDirectory() + "fabric-it-\(getpid())-\(UUID().uuidString.prefix(8)).yaml"
        try SwitchConfigYAML.write(c, to: path, header: label)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        let out = try Shell.run([fabric, "config", "check", path])
        XCTAssertTrue(out.contains("valid"), "\(label): \(out)")
        return path
    }

    /// Starts the switch on `c` (with `extra` flags), pings h1 -> h2 through it, reads its
    /// control socket, stops it and checks its exit snapshot.
    func runEdge(_ tb: TopologyTestbed, _ label: String, _ c: SwitchConfig, extra: [String] = [], pingSize: Int = 56) throws {
        _ = try checkedFile(c, label)
        let sw = try startSwitch(tb, config: c, extra: extra)
        let ping = try Ping.run(from: tb.hostNamespace(1), to: tb.hostAddress(2), count: 3, interval: 0.05, size: pingSize)
        XCTAssertEqual(ping.received, 3, "\(label): h1 -> h2 (\(pingSize)-byte payload)\n\(sw.child.output.suffix(2000))")
        let raw = try ControlClient.request(path: ControlServer.directory(name: c.name) + "/control.sock", "snapshot")
        let snap = try JSONDecoder().decode(SwitchReport.self, from: raw)
        XCTAssertTrue(snap.running, label)
        XCTAssertEqual(snap.ports.map(\.name), c.ports.map(\.name), label)
        let last = try sw.stopAndReport()
        XCTAssertTrue(last.ledger.balances, "\(label): \(last.ledger)")
        XCTAssertGreaterThanOrEqual(last.ports[1].txFrames, 3, "\(label): the echo requests left on h2's port")
    }

    /// The test bed's router configuration with a name of its own (its control socket).
    func base(_ tb: TopologyTestbed, _ suffix: String) -> SwitchConfig {
        var c = tb.switchConfig()
        c.name = "\(tb.switchNamespace)-\(suffix)"
        return c
    }

    func testEdgeValidConfigurationsStartForwardAndStopCleanly() throws {
        let tb = try makeTestbed(hosts: 2, routed: true)
        let dir = NSTemporaryDirectory() + "fabric-it-edges-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }

        // The smallest of everything: 1 Mb/s ports, the smallest MTU, a pool of one frame, the
        // shortest timers and smallest tables; on the command line the smallest rings, queue,
        // batch, intervals, aging time and capture limit.
        var small = base(tb, "small")
        for p in small.ports.indices { small.ports[p].speedGbps = Units.gbpsRange.lowerBound }
        small.buffers.mtu = BufferConfig.smallestMTU
        let frame = small.buffers.longestFrameCharge
        small.buffers.poolBytes = frame
        small.buffers.cableMeters = 0
        small.buffers.lossless = .init(reservedBytes: frame, threshold: .dynamic(-7))
        small.buffers.headroomBytes = frame
        small.buffers.xonOffsetBytes = 0
        small.loadBalancing = LoadBalancingConfig()
        small.loadBalancing.mode = .flowlet
        small.loadBalancing.flowletIdleNanoseconds = 1_000
        small.loadBalancing.flowletTableSize = 64
        small.pfcWatchdog.detectionNanoseconds = 100_000_000
        small.pfcWatchdog.restorationNanoseconds = 100_000_000
        small.ecn.kminBytes = 0
        small.ecn.kmaxBytes = 1
        small.ecn.pmax = 0
        try runEdge(tb, "smallest", small, extra: [
            "--ring-size", "64", "--queue-capacity", "64", "--batch", "1", "--mac-aging", "1", "--stats-interval", "0.1",
            "--sample-interval", "10", "--record", "\(dir)/small.rec", "--record-interval", "10",
            "--capture", "h1:\(dir)/small.pcapng", "--capture-limit", "1", "--worker-nice=-20",
        ])

        // The largest: 800 Gb/s ports, the largest MTU, 100 km of cable, the largest buffers
        // whose frame memory `config check` accepts (FrameBudget.maxConfigFrames: a 1 TB pool
        // is refused now that every byte a PG may hold has a frame behind it), the longest
        // timers, the largest tables, as many static neighbours as allowed and a 64-member ECMP
        // route over them; on the command line the largest rings, queue, intervals and aging
        // time.
        var large = base(tb, "large")
        for p in large.ports.indices { large.ports[p].speedGbps = Units.gbpsRange.upperBound }
        let pool = 160 << 20
        large.buffers.mtu = BufferConfig.largestMTU
        large.buffers.poolBytes = pool
        large.buffers.cableMeters = 100_000
        large.buffers.lossless = .init(reservedBytes: 4 << 20, threshold: .dynamic(7))
        large.buffers.lossy = .init(reservedBytes: 1 << 20, threshold: .fixed(pool))
        large.buffers.xonOffsetBytes = pool
        let need = FrameBudget(config: large, ringSize: 64, batchSize: 1).total
        XCTAssertLessThanOrEqual(need, FrameBudget.maxConfigFrames)
        XCTAssertGreaterThan(need, FrameBudget.maxConfigFrames * 3 / 4, "near the edge")
        large.loadBalancing.mode = .spray
        large.loadBalancing.flowletIdleNanoseconds = 1_000_000_000
        large.loadBalancing.flowletTableSize = 1 << 20
        large.pfcWatchdog.detectionNanoseconds = 60_000_000_000
        large.pfcWatchdog.restorationNanoseconds = 60_000_000_000
        large.ecn.kminBytes = pool - 1
        large.ecn.kmaxBytes = pool
        large.qos.etsWeights = Array(repeating: 100, count: 8)
        // A subnet of statics beside h1's (no host answers there: the entries are only held).
        large.ports[0].addresses += [IPPrefix("10.80.0.254/20", strict: false)!, IPPrefix("fd80::fe/64", strict: false)!]
        let mac = MACAddress(rawValue: 0x02_5F_00_00_80_01)
        large.neighbours = (257...256 + SwitchConfig.maxStaticNeighboursV4).map {
            NeighbourConfig(address: IPAddress("10.80.\($0 / 256).\($0 % 256)")!, mac: mac)
        } + (1...SwitchConfig.maxStaticNeighboursV6).map {
            NeighbourConfig(address: IPAddress("fd80::\(String($0, radix: 16))")!, mac: mac)
        }
        large.routes.append(RouteConfig(prefix: IPPrefix("10.99.0.0/16", strict: true)!,
                                        nextHops: large.neighbours.prefix(FIB.maxECMPMembers).map(\.address)))
        try runEdge(tb, "largest", large, extra: [
            "--ring-size", "16384", "--queue-capacity", "65536",
            "--mac-aging", "1000000", "--stats-interval", "86400", "--sample-interval", "1000000",
            "--record", "\(dir)/large.rec", "--record-interval", "1000000",
        ])
    }

    /// A port whose interface MTU allows frames longer than the switch carries (9500 + 18
    /// bytes, in a chain of frames) is refused at start, naming the port, its MTU and the limit
    /// (the kernel would drop those frames at the socket); raised while the switch runs, the
    /// switch says so once.
    func testAPortWhoseMTUIsTooLargeIsRefusedAtStart() throws {
        let tb = try makeTestbed(hosts: 2, routed: true)
        let c = base(tb, "bigmtu")
        let limit = BufferConfig.largestMTU
        try Shell.run(["ip", "-n", tb.switchNamespace, "link", "set", "dev", c.ports[1].name, "mtu", "9600"])
        XCTAssertThrowsError(try startSwitch(tb, config: c)) { error in
            XCTAssertTrue("\(error)".contains("port \(c.ports[1].name): interface MTU 9600 is above \(limit)"), "\(error)")
        }
        try Shell.run(["ip", "-n", tb.switchNamespace, "link", "set", "dev", c.ports[1].name, "mtu", "1500"])
        let sw = try startSwitch(tb, config: c)
        try Shell.run(["ip", "-n", tb.switchNamespace, "link", "set", "dev", c.ports[1].name, "mtu", "9600"])
        let deadline = Date().addingTimeInterval(3)
        while !sw.child.output.contains("interface MTU raised to 9600") && Date() < deadline { usleep(50_000) }
        XCTAssertTrue(sw.child.output.contains("port \(c.ports[1].name): interface MTU raised to 9600, above \(limit)"), sw.child.output)
        XCTAssertEqual(sw.stop(), 0)
    }

    /// A frame of the largest accepted MTU (9500: a chain of three UMEM frames) crosses the
    /// switch: with every link at that MTU, a ping that fills it (don't fragment) crosses the
    /// switch both ways.
    func testLargestAcceptedMTUForwardsAFullSizeFrame() throws {
        let tb = try makeTestbed(hosts: 2, routed: true)
        var c = base(tb, "jumbo")
        let mtu = BufferConfig.largestMTU
        c.buffers.mtu = mtu
        for h in 1...2 {
            try Shell.run(["ip", "-n", tb.switchNamespace, "link", "set", "dev", c.ports[h - 1].name, "mtu", "\(mtu)"])
            try Shell.run(["ip", "-n", tb.hostNamespace(h), "link", "set", "dev", tb.hostInterface(h), "mtu", "\(mtu)"])
        }
        try runEdge(tb, "largest MTU", c, pingSize: mtu - 28)
    }

    /// One step past each edge: `config check` exits 1 naming the file, line and key, and
    /// `fabric switch` refuses the same file (exit 2) before it attaches anything.
    func testJustPastTheEdgesIsRefusedBeforeStart() throws {
        let tb = try makeTestbed(hosts: 2, routed: true)
        let ports = """
            switch: {name: \(tb.switchNamespace)-past}
            ports:
              - name: h1
                addresses: [10.77.1.254/24]
              - name: h2
                addresses: [10.77.2.254/24]

            """
        let cases: [(String, String)] = [
            ("    speed: 1e-15G\n", "ports[1].speed: '1e-15G' is below the slowest line rate, 1M"),
            ("    speed: 801G\n", "ports[1].speed: '801G' is faster than 800G"),
            ("buffers: {pool: 0}\n", "buffers.pool: the pool (0 bytes) must hold at least one frame"),
            ("buffers: {mtu: \(BufferConfig.largestMTU + 1)}\n", "buffers.mtu: \(BufferConfig.largestMTU + 1) is above \(BufferConfig.largestMTU)"),
            ("  - name: h3\n    addresses: [10.77.2.1/16]\n", "ports[2].addresses[0]: subnet 10.77.0.0/16 overlaps"),
            ("routes:\n  - {prefix: 10.99.0.0/16, via: 10.77.2.254}\n", "routes[0].via: next hop 10.77.2.254 is the switch's own address"),
            ("routes:\n  - {prefix: 10.99.0.0/16, via: [10.77.2.1, 10.77.2.1]}\n", "routes[0].via[1]: next hop 10.77.2.1 listed twice"),
            ("routes:\n  - {prefix: 10.77.1.0/24, via: 10.77.2.1}\n", "routes[0].prefix: 10.77.1.0/24 is port h1's connected subnet"),
            ("qos: {tc_to_priority_group: {0: 3}}\n", "qos.tc_to_priority_group: priority group 3 holds lossless TC3 and lossy TC0"),
            ("load_balancing: {flowlet_idle: 2s}\n", "load_balancing.flowlet_idle: expected a duration of 1us...1s"),
        ]
        for (tail, expected) in cases {
            let path = NSTemporaryDirectory() + "fabric-it-\(getpid())-\(UUID().uuidString.prefix(8)).yaml"
            try (ports + tail).write(toFile: path, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(atPath: path) }
            let line = (ports + tail).split(separator: "\n", omittingEmptySubsequences: false).count - 1
            for command in [["config", "check", path], ["switch", "--netns", tb.switchNamespace, "--config", path]] {
                do {
                    let out = try Shell.run([fabric] + command)
                    XCTFail("\(command[0]) accepted:\n\(ports + tail)\n\(out)")
                } catch let e as CommandError {
                    XCTAssertEqual(e.status, command[0] == "config" ? 1 : 2, e.description)
                    XCTAssertTrue(e.output.contains("\(path):\(line): \(expected)"), "\(e.output)\n  does not contain: \(path):\(line): \(expected)")
                }
            }
            let xdp = try Shell.run(["ip", "-n", tb.switchNamespace, "link", "show"])
            XCTAssertFalse(xdp.contains("xdp"), "nothing attached after a refused start: \(xdp)")
        }
    }

    /// Command-line values that used to trap after the ports were attached are refused by the
    /// argument parser, naming the flag and the range.
    func testOutOfRangeFlagsAreRefusedBeforeStart() throws {
        let tb = try makeTestbed(hosts: 1)
        let cases: [([String], String)] = [
            (["--mac-aging=-1"], "--mac-aging must be 1...1000000 seconds, got -1"),
            (["--mac-aging", "20000000000"], "--mac-aging must be 1...1000000 seconds, got 20000000000"),
            (["--stats-interval=-1"], "--stats-interval must be 0.1...86400 seconds, got -1.0"),
            (["--stats-interval", "nan"], "--stats-interval must be 0.1...86400 seconds, got nan"),
            (["--sample-interval", "9300000000000000"], "--sample-interval must be 10...1000000 microseconds"),
            (["--record", "/dev/null", "--record-interval", "\(Int.max)"], "--record-interval must be 10...1000000 microseconds"),
            (["--ring-size", "1000"], "--ring-size must be a power of two in 64...16384, got 1000"),
            (["--ring-size", "\(1 << 40)"], "--ring-size must be a power of two in 64...16384"),
            (["--queue-capacity", "\(1 << 40)"], "--queue-capacity must be a power of two in 64...65536"),
            (["--capture-limit=-1"], "--capture-limit must be 1...1048576 MB, got -1"),
            (["--name", "leaf/1"], "--name: switch name 'leaf/1' must be 1-64 letters"),
            (["--worker-realtime", "100"], "--worker-realtime must be 1...99 (0: off), got 100"),
            (["--worker-realtime", "10", "--poll", "busy"], "--worker-realtime cannot go with --poll busy"),
        ]
        for (flags, expected) in cases {
            do {
                let out = try Shell.run([fabric, "switch", "--netns", tb.switchNamespace, "--ports", "h1"] + flags)
                XCTFail("accepted \(flags): \(out)")
            } catch let e as CommandError {
                XCTAssertEqual(e.status, 64, "ArgumentParser's validation exit status: \(e.description)")
                XCTAssertTrue(e.output.contains(expected), "\(e.output)\n  does not contain: \(expected)")
            }
        }
        for interval in ["-1", "5000", "nan"] {
            do {
                let out = try Shell.run([fabric, "stats", "--watch", "--interval=\(interval)"])
                XCTFail("fabric stats accepted --interval \(interval): \(out)")
            } catch let e as CommandError {
                XCTAssertTrue(e.output.contains("--interval must be 0.1...3600 seconds"), e.description)
            }
        }
        let xdp = try Shell.run(["ip", "-n", tb.switchNamespace, "link", "show"])
        XCTAssertFalse(xdp.contains("xdp"), "nothing attached: \(xdp)")
    }
}

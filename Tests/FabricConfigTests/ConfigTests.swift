import FabricConfig
import FabricCore
import FabricPacket
import Foundation
import XCTest

final class ConfigTests: XCTestCase {
    static let exampleFile = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../scripts/example-switch.yaml").standardized.path

    func testTheDocumentedExampleIsValid() throws {
        let c = try ConfigLoader.load(file: Self.exampleFile)
        XCTAssertEqual(c.name, "leaf1")
        XCTAssertEqual(c.mode, .router)
        XCTAssertEqual(c.ports.map(\.name), ["h1", "h2", "up1", "up2"])
        XCTAssertEqual(c.ports[0].speedGbps, 10)
        XCTAssertEqual(c.ports[1].mac?.description, "02:5f:00:00:02:fe")
        XCTAssertEqual(c.ports[1].addresses.map(\.description), ["10.77.2.254/24", "fd77:2::fe/64"])
        XCTAssertEqual(c.qos.dscpToTC[26], 3)
        XCTAssertEqual(c.qos.dscpToTC[48], 6)
        XCTAssertEqual(c.qos.dscpToTC[24], 3, "override applied")
        XCTAssertEqual(c.qos.strictQueues, 1 << 6)
        XCTAssertEqual(c.ecn.kminBytes, 150 * 1024)
        XCTAssertEqual(c.ecn.kmaxBytes, 1536 * 1024)
        XCTAssertEqual(c.ecn.queues, 1 << 3)
        XCTAssertEqual(c.pfcWatchdog.action, .drop)
        XCTAssertEqual(c.buffers.poolBytes, 8 * 1024 * 1024)
        XCTAssertEqual(c.buffers.lossless, BufferConfig.Profile(reservedBytes: 16 * 1024, threshold: .dynamic(-2)))
        XCTAssertEqual(c.buffers.lossy, BufferConfig.Profile(reservedBytes: 0, threshold: .dynamic(0)))
        XCTAssertEqual(c.buffers.xonOffsetBytes, 32 * 1024)
        XCTAssertNil(c.buffers.headroomBytes, "auto")
        XCTAssertEqual(c.buffers.cableMeters, 5)
        XCTAssertEqual(c.pfcWatchdog.detectionNanoseconds, 200_000_000)
        XCTAssertEqual(c.qos.etsWeights, [1, 1, 1, 4, 1, 1, 1, 1])
        XCTAssertEqual(c.routes.count, 3)
        XCTAssertEqual(c.routes[0].nextHops.map(\.description), ["10.0.1.1", "10.0.2.1"])
        XCTAssertEqual(c.routes[0].mode, .flowlet, "the group's own mode")
        XCTAssertNil(c.routes[1].mode)
        XCTAssertEqual(c.loadBalancing, LoadBalancingConfig(), "ecmp, 256 us, 4096 entries")
        XCTAssertEqual(c.neighbours.count, 1)
        // The FIB: 5 connected + 3 static.
        let fib = FIB(entries: c.fibEntries())
        let t = try XCTUnwrap(fib.v4.lookup(parseIPv4("10.99.1.1")!))
        XCTAssertEqual(fib.memberCount(target: t), 2)
        XCTAssertEqual(Set((0..<2).map { fib.port(hop: fib.member(target: t, $0)) }), [2, 3])
        let d = try XCTUnwrap(fib.v4.lookup(parseIPv4("8.8.8.8")!))
        XCTAssertEqual(fib.port(hop: fib.member(target: d, 0)), 3)
        let connected = try XCTUnwrap(fib.v4.lookup(parseIPv4("10.77.1.9")!))
        XCTAssertTrue(fib.isConnected(hop: fib.member(target: connected, 0)))
    }

    /// Parses `yaml` expecting rejection with a message containing `expected`.
    func rejects(_ yaml: String, _ expected: String, file: StaticString = #filePath, line: UInt = #line) {
        do {
            _ = try ConfigLoader.parse(yaml, file: "t.yaml")
            XCTFail("accepted:\n\(yaml)", file: file, line: line)
        } catch let e as ConfigError {
            XCTAssertTrue(e.description.contains(expected), "\(e.description)\n  does not contain: \(expected)", file: file, line: line)
        } catch {
            XCTFail("not a ConfigError: \(error)", file: file, line: line)
        }
    }

    let base = """
    ports:
      - name: h1
        addresses: [10.77.1.254/24]
      - name: h2
        addresses: [10.77.2.254/24]

    """

    func testUnknownKey() {
        rejects(base + "colour: blue\n", "t.yaml:6: colour: unknown key 'colour' (expected one of: switch, ports")
        rejects("ports:\n  - name: h1\n    adresses: [10.0.0.1/24]\n", "t.yaml:3: ports[0].adresses: unknown key 'adresses'")
        rejects("ports:\n  - name: h1\n    name: h2\n", "t.yaml:2: key 'name' given twice")
    }

    func testWrongType() {
        rejects("ports: h1\n", "ports: expected a list, got 'h1'")
        rejects(base + "qos:\n  dscp_to_tc: [26, 3]\n", "qos.dscp_to_tc: expected a mapping like {26: 3}, got a list")
        rejects(base + "qos:\n  dscp_to_tc: {x: 3}\n", "qos.dscp_to_tc.x: expected an integer key in 0...63, got 'x'")
    }

    func testBadPrefix() {
        rejects("ports:\n  - name: h1\n    addresses: [10.77.1/24]\n", "t.yaml:3: ports[0].addresses[0]: expected an address with prefix length like 10.77.1.254/24")
        rejects(base + "routes:\n  - prefix: 10.99.0.1/16\n    via: 10.77.1.1\n", "routes[0].prefix: '10.99.0.1/16' has host bits set; the network is 10.99.0.0/16")
        rejects("ports:\n  - name: h1\n    addresses: [10.77.1.0/24]\n", "is a network address")
    }

    func testDuplicatePort() {
        rejects(base + "  - name: h1\n", "ports[2].name: duplicate port 'h1' (also ports[0])")
    }

    func testRouteToNowhere() {
        rejects(base + "routes:\n  - prefix: 10.99.0.0/16\n    via: 192.0.2.1\n", "t.yaml:8: routes[0].via: next hop 192.0.2.1 is not on any port's subnet (route to nowhere)")
        rejects(base + "routes:\n  - prefix: 10.99.0.0/16\n    group: spines\n", "routes[0].group: no ECMP group named 'spines'")
        rejects(base + "routes:\n  - prefix: 10.99.0.0/16\n", "routes[0]: a route needs exactly one of 'via'")
    }

    func testOutOfRange() {
        rejects(base + "qos:\n  dscp_to_tc: {64: 3}\n", "qos.dscp_to_tc.64: 64 is out of range 0...63")
        rejects(base + "qos:\n  dscp_to_tc: {26: 8}\n", "qos.dscp_to_tc.26: 8 is out of range 0...7")
        rejects("ports:\n  - name: h1\n    addresses: [10.77.1.254/24]\n    speed: fast\n", "t.yaml:4: ports[0].speed: expected a line rate like 10G or 800M, got 'fast'")
        rejects("ports:\n  - name: h1\n    addresses: [10.77.1.254/24]\n    speed: 1e-15G\n", "ports[0].speed: '1e-15G' is below the slowest line rate, 1M")
        rejects("ports:\n  - name: h1\n    addresses: [10.77.1.254/24]\n    speed: 900G\n", "ports[0].speed: '900G' is faster than 800G")
        rejects(base + "qos:\n  ets_weights: {3: 0}\n", "qos.ets_weights.3: 0 is out of range 1...100")
        rejects(base + "qos:\n  strict_queues: [8]\n", "qos.strict_queues[0]: 8 is out of range 0...7")
        let members = (1...65).map { "10.77.1.\($0)" }.joined(separator: ", ")
        rejects(base + "ecmp_groups:\n  - name: big\n    members: [\(members)]\n", "an ECMP group has 1...64 members, got 65")
    }

    func testBadEnumAndMACAndFamilies() {
        rejects(base + "qos:\n  profile: cisco\n", "expected one of nvidia-roce, sonic-azure, got 'cisco'")
        rejects("ports:\n  - name: h1\n    trust: vlan\n    addresses: [10.0.0.1/24]\n", "expected one of dscp, pcp")
        rejects("ports:\n  - name: h1\n    mac: ff:ff:ff:ff:ff:ff\n    addresses: [10.0.0.1/24]\n", "expected a unicast MAC address")
        rejects("ports:\n  - name: h1\n    addresses: [10.0.0.1/24, fd77::1/64]\nroutes:\n  - prefix: fd99::/64\n    via: 10.0.0.2\n", "not of the same address family")
        rejects("", "the file is empty")
        rejects("ports: [\n", "t.yaml:2: not valid YAML: ")
        rejects("switch: {mode: router}\nports:\n  - name: h1\n", "mode router needs at least one port with an address")
        rejects(base + "buffers: {size: 1}\n", "buffers.size: unknown key 'size'")
        rejects(base + "ecn: {kmin: 2MB, kmax: 1MB}\n", "t.yaml:6: ecn.kmin: kmin (2097152 bytes) must be below kmax (1048576 bytes)")
        rejects(base + "ecn: {pmax: 150}\n", "ecn.pmax: 150 is out of range 0...100")
        rejects(base + "ecn: {kmin: lots}\n", "ecn.kmin: expected a size like 150KB or 1.5MB, got 'lots'")
        rejects(base + "ecn: {kmin: -1KB}\n", "ecn.kmin: expected a size like 150KB")
        rejects(base + "ecn: {kmin: 0.1KB}\n", "ecn.kmin: '0.1KB' is not a whole number of bytes")
        rejects(base + "buffers: {xoff: 10KB}\n", "buffers.xoff: unknown key 'xoff' (expected one of: pool, lossless, lossy, cable_length, mtu, stall_budget, stall_rate)")
        rejects(base + "buffers: {lossless: {dynamic_th: 0, static_th: 1MB}}\n", "buffers.lossless: give dynamic_th or static_th, not both")
        rejects(base + "buffers: {lossy: {dynamic_th: 9}}\n", "buffers.lossy.dynamic_th: 9 is out of range -7...7")
        rejects(base + "buffers: {pool: 1MB, lossy: {static_th: 2MB}}\n", "buffers: lossy.static_th (2097152 bytes) is larger than the pool (1048576 bytes)")
        rejects(base + "buffers: {lossy: {xon_offset: 1KB}}\n", "buffers.lossy.xon_offset: unknown key")
        rejects(base + "load_balancing: {mode: random}\n", "load_balancing.mode: expected one of ecmp, flowlet, spray")
        rejects(base + "load_balancing: {flowlet_table: 1000}\n", "the flowlet table size must be a power of two")
        rejects(base + "load_balancing: {flowlet_idle: 5s}\n", "load_balancing.flowlet_idle: expected a duration of 1us...1s like 256us, got '5s'")
        rejects(base + "buffers: {cable_length: far}\n", "buffers.cable_length: expected a cable length like 5m")
        rejects(base + "buffers: {stall_budget: 20s}\n", "buffers.stall_budget: expected a duration of 0ns...10s like 100ms, got '20s'")
        rejects(base + "pfc: {watchdog: {action: panic}}\n", "pfc.watchdog.action: expected one of drop, forward, alert")
        rejects(base + "pfc: {watchdog: {detection: 5ms}}\n", "pfc.watchdog.detection: expected a duration of 100ms...60s like 200ms, got '5ms'")
        rejects(base + "pfc: {watchdog: {detection: nan}}\n", "pfc.watchdog.detection: expected a duration of 100ms...60s")
    }

    func testStaticThresholdsAndHeadroomParse() throws {
        let c = try ConfigLoader.parse("switch: {mode: bridge}\nports:\n  - name: h1\n"
            + "buffers: {pool: 4MB, lossless: {reserved: 0, static_th: 64KB, xon_offset: 16KB, headroom: 3MB}, lossy: {static_th: 1MB}}\n")
        XCTAssertEqual(c.buffers.poolBytes, 4 * 1024 * 1024)
        XCTAssertEqual(c.buffers.lossless, BufferConfig.Profile(reservedBytes: 0, threshold: .fixed(64 * 1024)))
        XCTAssertEqual(c.buffers.lossy, BufferConfig.Profile(reservedBytes: 0, threshold: .fixed(1024 * 1024)))
        XCTAssertEqual(c.buffers.xonOffsetBytes, 16 * 1024)
        XCTAssertEqual(c.buffers.headroom(speedGbps: 10), 3 * 1024 * 1024)
    }

    func testStallBudgetParses() throws {
        let c = try ConfigLoader.parse("switch: {mode: bridge}\nports:\n  - name: h1\n" + "buffers: {stall_budget: 250ms, stall_rate: 500M}\n")
        XCTAssertEqual(c.buffers.stallBudgetNanoseconds, 250_000_000)
        XCTAssertEqual(c.buffers.stallRateGbps, 0.5)
        XCTAssertEqual(c.buffers.stallBytes(speedGbps: nil), 15_625_000, "500 Mb/s for 250 ms")
        XCTAssertEqual(c.buffers.stallBytes(speedGbps: 0.1), 3_125_000, "a slower port: its speed")
        XCTAssertEqual(try ConfigLoader.parse(SwitchConfigYAML.text(c)), c, "written and read back")
    }

    func testBridgeModeNeedsNoAddresses() throws {
        let c = try ConfigLoader.parse("switch: {mode: bridge}\nports:\n  - name: h1\n  - name: h2\n")
        XCTAssertEqual(c.mode, .bridge)
        XCTAssertEqual(c.ports.count, 2)
    }

    // MARK: - Values that used to be accepted and then failed or misbehaved at start

    func testOverlappingPortSubnets() throws {
        rejects(base + "  - name: h3\n    addresses: [10.77.1.1/25]\n",
                "t.yaml:7: ports[2].addresses[0]: subnet 10.77.1.0/25 overlaps 10.77.1.0/24 on port h1 (an address in both would be connected to two ports)")
        rejects(base + "  - name: h3\n    addresses: [fd77::1/64, 10.0.0.1/8]\n",
                "t.yaml:7: ports[2].addresses[1]: subnet 10.0.0.0/8 overlaps 10.77.1.0/24 on port h1")
        // Disjoint subnets, and two addresses of one port, are fine.
        let c = try ConfigLoader.parse(base + "  - name: h3\n    addresses: [10.77.3.1/24, 10.77.3.129/25, 10.78.0.1/16]\n")
        XCTAssertEqual(c.ports[2].addresses.count, 3)
    }

    func testStaticRouteOverAConnectedSubnet() throws {
        rejects(base + "routes:\n  - prefix: 10.77.1.0/24\n    via: 10.77.2.1\n",
                "t.yaml:7: routes[0].prefix: 10.77.1.0/24 is port h1's connected subnet; a static route to it would override the connected route")
        // A more specific route inside a connected subnet is ordinary longest-prefix routing.
        XCTAssertEqual(try ConfigLoader.parse(base + "routes:\n  - prefix: 10.77.1.128/25\n    via: 10.77.2.1\n").routes.count, 1)
    }

    func testNextHopIsTheSwitchItself() {
        rejects(base + "routes:\n  - prefix: 10.99.0.0/16\n    via: 10.77.1.254\n",
                "t.yaml:8: routes[0].via: next hop 10.77.1.254 is the switch's own address (port h1)")
        rejects(base + "ecmp_groups:\n  - name: g\n    members: [10.77.1.1, 10.77.2.254]\n",
                "t.yaml:8: ecmp_groups[0].members[1]: next hop 10.77.2.254 is the switch's own address (port h2)")
    }

    func testDuplicateVia() {
        rejects(base + "routes:\n  - prefix: 10.99.0.0/16\n    via: [10.77.1.1, 10.77.2.1, 10.77.1.1]\n",
                "t.yaml:8: routes[0].via[2]: next hop 10.77.1.1 listed twice")
    }

    func testPriorityGroupMixingLosslessAndLossyTCs() throws {
        rejects(base + "qos:\n  tc_to_priority_group: {0: 3}\n",
                "t.yaml:7: qos.tc_to_priority_group: priority group 3 holds lossless TC3 and lossy TC0; a PG is lossless or lossy as a whole")
        rejects(base + "qos:\n  lossless_tcs: [3, 4]\n", "t.yaml:7: qos.lossless_tcs: priority group 0 holds lossless TC4 and lossy TC0, TC1, TC2, TC5, TC7")
        // Two lossless TCs in one PG are fine.
        let c = try ConfigLoader.parse(base + "qos:\n  lossless_tcs: [3, 4]\n  tc_to_priority_group: {4: 3}\n")
        XCTAssertEqual(c.qos.tcToPriorityGroup[4], 3)
    }

    func testPoolMTUAndHeadroomHoldAFrame() throws {
        rejects(base + "buffers: {pool: 0}\n", "t.yaml:6: buffers.pool: the pool (0 bytes) must hold at least one frame of the MTU (1518 bytes)")
        rejects(base + "buffers: {mtu: 9501}\n", "buffers.mtu: 9501 is above 9500, the largest MTU the switch carries")
        rejects(base + "buffers: {mtu: 500}\n", "buffers.mtu: 500 is out of range 576...65535")
        rejects(base + "buffers:\n  pool: 4MB\n  lossy: {dynamic_th: -7}\n  mtu: 3822\n  pool: 64KB\n", "key 'pool' given twice")
        rejects(base + "buffers:\n  pool: 64KB\n  lossy: {dynamic_th: -7}\n",
                "t.yaml:8: buffers.lossy: a lossy PG could hold only 512 bytes (reserved plus its threshold of an empty pool), less than one frame of the MTU (1518 bytes)")
        rejects(base + "buffers:\n  lossless: {reserved: 0, static_th: 1KB}\n", "t.yaml:7: buffers.lossless: a lossless PG could hold only 1024 bytes")
        rejects(base + "buffers:\n  lossless:\n    headroom: 1KB\n",
                "t.yaml:8: buffers.lossless.headroom: the headroom (1024 bytes) must hold at least one frame of the MTU (1518 bytes)")
        // The edges themselves are accepted.
        let c = try ConfigLoader.parse(base + "buffers: {pool: 3840, mtu: 3822, lossless: {headroom: 3840}}\n")
        XCTAssertEqual(c.buffers.mtu, 3822)
        XCTAssertEqual(try ConfigLoader.parse(base + "buffers: {mtu: 9500}\n").buffers.mtu, BufferConfig.largestMTU)
        XCTAssertEqual(c.buffers.poolBytes, 3840)
        XCTAssertEqual(try ConfigLoader.parse(base + "buffers: {pool: 1518}\n").buffers.poolBytes, 1518)
    }

    /// Every byte a PG may hold has a frame of the switch's memory behind it (at least 1 KB a
    /// frame): buffers that would need more than `FrameBudget.maxConfigFrames` are refused at
    /// check time, naming what needs them, instead of failing at start.
    func testBuffersWhoseFrameMemoryCannotExistAreRefused() throws {
        rejects(base + "buffers: {pool: 1024GB}\n", "t.yaml:6: buffers: these buffers need ")
        rejects(base + "buffers: {pool: 1024GB}\n", "at most \(FrameBudget.maxConfigFrames): a smaller pool, reserve, headroom, stall budget or delay")
        rejects(base + "buffers: {stall_budget: 10s}\n", "for the stall budget")
        // The default and a 256 MB pool fit.
        XCTAssertEqual(try ConfigLoader.parse(base + "buffers: {pool: 256MB}\n").buffers.poolBytes, 256 << 20)
        XCTAssertLessThanOrEqual(FrameBudget(config: try ConfigLoader.parse(base), ringSize: 64, batchSize: 1).total, FrameBudget.maxConfigFrames)
    }

    func testStaticNeighboursWithinTheTables() throws {
        func neighbours(_ n: Int, v6: Bool = false) -> String {
            "  - name: h3\n    addresses: [10.80.0.1/16, fd80::1/64]\nneighbours:\n"
                + (0..<n).map { i in "  - {address: \(v6 ? "fd80::\(String(i + 2, radix: 16))" : "10.80.\((i + 2) / 256).\((i + 2) % 256)"), mac: 02:00:00:00:00:01}\n" }.joined()
        }
        let v4 = SwitchConfig.maxStaticNeighboursV4, v6 = SwitchConfig.maxStaticNeighboursV6
        XCTAssertEqual(try ConfigLoader.parse(base + neighbours(v4)).neighbours.count, v4)
        XCTAssertEqual(try ConfigLoader.parse(base + neighbours(v6, v6: true)).neighbours.count, v6)
        rejects(base + neighbours(v4 + 1), "t.yaml:\(8 + v4 + 1): neighbours[\(v4)].address: more than \(v4) static IPv4 neighbours")
        rejects(base + neighbours(v6 + 1, v6: true), "t.yaml:\(8 + v6 + 1): neighbours[\(v6)].address: more than \(v6) static IPv6 neighbours")
        rejects(base + "neighbours:\n  - {address: 10.77.1.1, mac: 02:00:00:00:00:01}\n  - {address: 10.77.1.1, mac: 02:00:00:00:00:02}\n",
                "t.yaml:8: neighbours[1].address: neighbour 10.77.1.1 listed twice")
        rejects(base + "neighbours:\n  - {address: 10.77.2.254, mac: 02:00:00:00:00:01}\n",
                "t.yaml:7: neighbours[0].address: 10.77.2.254 is the switch's own address (port h2), not a neighbour")
    }

    func testSwitchNameAndPortCountAreCheckedBeforeStart() throws {
        rejects("switch: {name: leaf/1}\n" + base, "t.yaml:1: switch.name: switch name 'leaf/1' must be 1-64 letters, digits, '-', '_' or '.'")
        let ports = (0...SwitchConfig.maxPorts).map { "  - name: p\($0)\n" }.joined()
        rejects("switch: {mode: bridge}\nports:\n" + ports, "t.yaml:3: ports: a switch has at most 255 ports, got 256")
        let most = ports.split(separator: "\n").dropLast().map { $0 + "\n" }.joined()
        // 255 ports each holding the default stall budget (100 ms at 1 Gb/s) and 2 MB of
        // software headroom need more frame memory than a switch allocates; with a smaller
        // budget and headroom they are accepted.
        rejects("switch: {mode: bridge}\nports:\n" + most, "these buffers need")
        XCTAssertEqual(try ConfigLoader.parse("switch: {mode: bridge}\nbuffers: {stall_budget: 0ms, lossless: {headroom: 64KB}}\nports:\n" + most)
            .ports.count, SwitchConfig.maxPorts)
    }

    func testLineRateEdges() throws {
        rejects(base + "  - name: h3\n    speed: 0.999M\n", "t.yaml:7: ports[2].speed: '0.999M' is below the slowest line rate, 1M")
        rejects(base + "  - name: h3\n    speed: 800.001G\n", "t.yaml:7: ports[2].speed: '800.001G' is faster than 800G")
        let c = try ConfigLoader.parse("ports:\n  - {name: h1, addresses: [10.0.0.1/24], speed: 1M}\n  - {name: h2, speed: 800G}\n")
        XCTAssertEqual(c.ports.map(\.speedGbps), [0.001, 800])
    }

    /// `delay`, `loss`, `loss_seed` per port: read, written back, and refused loudly.
    func testLinkEmulationKeys() throws {
        let c = try ConfigLoader.parse("ports:\n  - {name: h1, addresses: [10.0.0.1/24], speed: 1G, delay: 2ms, loss: 0.1%, loss_seed: 7}\n  - {name: h2, delay: 150us}\n")
        XCTAssertEqual(c.ports[0].delayNanoseconds, 2_000_000)
        XCTAssertEqual(c.ports[0].lossPercent, 0.1)
        XCTAssertEqual(c.ports[0].lossSeed, 7)
        XCTAssertEqual(c.ports[0].delayLineFrames, 4096, "2 ms at 1G: 2977 minimum frames")
        XCTAssertEqual(c.ports[1].delayNanoseconds, 150_000)
        XCTAssertEqual(c.ports[1].lossPercent, 0)
        XCTAssertNil(c.ports[1].lossSeed)
        XCTAssertEqual(try ConfigLoader.parse(SwitchConfigYAML.text(c)), c, "round trip through the writer")
        XCTAssertEqual(c.buffers.headroom(speedGbps: 1, delayNanoseconds: 2_000_000) - c.buffers.headroom(speedGbps: 1), 500_000)

        // 4.4 ms of minimum-size frames at 10G fill a 65536-frame line; 4.5 ms do not fit.
        XCTAssertNoThrow(try ConfigLoader.parse("ports:\n  - {name: h1, addresses: [10.0.0.1/24], speed: 10G, delay: 4400us}\n"))
        rejects(base + "  - name: h3\n    speed: 10G\n    delay: 4500us\n",
                "t.yaml:8: ports[2].delay: delay 4500us at 10G puts up to 66965 minimum-size frames on the wire; a port's delay line holds 65536 (at most 4404us at this speed)")
        rejects(base + "  - name: h3\n    delay: 2s\n", "t.yaml:7: ports[2].delay: expected a duration of 0ns...1s like 2ms, got '2s'")
        rejects(base + "  - name: h3\n    delay: -1ms\n", "ports[2].delay: expected a duration")
        rejects(base + "  - name: h3\n    loss: 0.1\n", "t.yaml:7: ports[2].loss: expected a percentage like 0.1% or 5%, got '0.1'")
        rejects(base + "  - name: h3\n    loss: 101%\n", "ports[2].loss: '101%' is above 100%")
        rejects(base + "  - name: h3\n    loss: nan%\n", "ports[2].loss: expected a percentage")
        rejects(base + "  - name: h3\n    loss_seed: 3\n", "t.yaml:7: ports[2].loss_seed: loss_seed without loss")
        rejects(base + "  - name: h3\n    loss: 1%\n    loss_seed: -3\n", "ports[2].loss_seed: -3 is out of range")
    }
}

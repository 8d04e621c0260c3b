import FabricConfig
import FabricCore
import FabricLab
import FabricPacket
import FabricTelemetry
import Foundation
import XCTest

/// `fabric switch --fastpath on|off` on real namespaces: with it on, lossy traffic between
/// learned or resolved hosts is forwarded by the XDP program itself (`fastpathFrames`) while
/// RoCEv2 still goes through the userspace pipeline; with it off, nothing is.
final class FastPathIntegrationTests: LabTestCase {
    /// A frame XDP redirects into a veth reaches the peer only if the peer has an XDP program or
    /// GRO on (DESIGN.md, "Facts measured"): GRO on every host end.
    func prepareHostsForRedirects(_ tb: TopologyTestbed) throws {
        try tb.prepareHostsForFastPath()
    }

    /// `count` UDP datagrams to port 4791 (RoCEv2's) from host `a` to host `b`, by the kernel's
    /// own socket: the fast path must send them to userspace (`roce`).
    func sendRoCEPort(from a: Int, to b: Int, count: Int, _ tb: TopologyTestbed) throws {
        let script = "import socket\ns=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
            + "for i in range(\(count)): s.sendto(b'\\x04' + b'\\0'*31, ('\(tb.hostAddress(b))', 4791))\ns.close()\n"
        try Shell.inNamespace(tb.hostNamespace(a), ["python3", "-c", script])
    }

    func rxPackets(_ tb: TopologyTestbed, _ h: Int) throws -> UInt64 {
        try LinkStats.read(namespace: tb.hostNamespace(h), device: tb.hostInterface(h)).rxPackets
    }

    /// Ping, UDP and TCP through the router with the fast path on: after the first frames
    /// (ARP, the first echo) userspace resolved the hosts, and the rest is forwarded in XDP.
    func testRouterFastPathForwardsPingUDPAndTCPAndPuntsRoCE() throws {
        let tb = try makeTestbed(hosts: 3, routed: true)
        try prepareHostsForRedirects(tb)
        let sw = try startSwitch(tb, extra: ["--fastpath", "on"])
        for b in 2...3 {
            let r = try Ping.run(from: tb.hostNamespace(1), to: tb.hostAddress(b), count: 3, interval: 0.02)
            XCTAssertEqual(r.received, 3, "h1 -> h\(b)")
        }
        let gw = try Ping.run(from: tb.hostNamespace(1), to: tb.gatewayAddress(1), count: 3, interval: 0.02)
        XCTAssertEqual(gw.received, 3, "h1 -> its gateway, the switch's own address")
        usleep(400_000)   // the neighbours reach the fast path's maps at the next 100 ms tick
        let ping = try Ping.run(from: tb.hostNamespace(1), to: tb.hostAddress(2), count: 20, interval: 0.01)
        XCTAssertEqual(ping.received, 20, "h1 -> h2 with the neighbours in the fast path")
        let udp = try UDPRun.run(fabric: fabric, from: tb.hostNamespace(1), to: tb.hostNamespace(3),
                                 address: tb.hostAddress(3), count: 2000, pps: 50_000)
        XCTAssertEqual(udp.receive.unique, 2000, "UDP across subnets")

        XCTAssertGreaterThan(try iperf3(tb, from: 1, to: 2), 1e7, "TCP across subnets")

        let before = try rxPackets(tb, 2)
        try sendRoCEPort(from: 1, to: 2, count: 50, tb)
        usleep(300_000)
        XCTAssertGreaterThanOrEqual(try rxPackets(tb, 2) - before, 50, "the RoCEv2 datagrams reached h2")

        XCTAssertEqual(sw.child.stop(), 0)
        let final = try StatsFile.read(statsFile)
        print(final.table)
        let h1 = final.ports[0]
        XCTAssertGreaterThan(h1.fastpathFrames ?? 0, 2000, "h1's port: UDP and TCP forwarded in XDP: \(h1.fastpathPunts ?? [:])")
        XCTAssertGreaterThan(final.ports[1].fastpathTxFrames ?? 0, 0, "out of h2's port by XDP")
        XCTAssertGreaterThanOrEqual(h1.roceFrames, 50, "RoCEv2 through the userspace pipeline")
        XCTAssertGreaterThanOrEqual(h1.fastpathPunts?["roce"] ?? 0, 50, "\(h1.fastpathPunts ?? [:])")
        XCTAssertGreaterThan(h1.fastpathPunts?["local"] ?? 0, 0, "pings to the gateway and ARP are the switch's")
        // The documented schema takes the fast path's counters (Python's jsonschema).
        let check = try Shell.run(["python3", "-c", "import json,jsonschema,sys; jsonschema.validate(json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))); print('valid')",
                                   statsFile, StatsIntegrationTests.schema], check: false)
        XCTAssertTrue(check.contains("valid"), check)
        XCTAssertTrue(final.ledger.balances, "\(final.ledger)")
        for p in final.ports { XCTAssertEqual(p.dropsTotal, 0, "\(p.name): \(p.drops.filter { $0.value > 0 })") }
    }

    /// The bridge: once both hosts are learned, their frames go port to port in XDP; RoCEv2
    /// still reaches the pipeline.
    func testBridgeFastPathForwardsPingAndUDPAndPuntsRoCE() throws {
        let tb = try makeTestbed(hosts: 2)
        try prepareHostsForRedirects(tb)
        let sw = try startSwitch(tb, extra: ["--fastpath", "on"])
        let first = try Ping.run(from: tb.hostNamespace(1), to: tb.hostAddress(2), count: 3, interval: 0.02)
        XCTAssertEqual(first.received, 3)
        usleep(400_000)   // learned addresses reach the fast path's map at the next 100 ms tick
        let ping = try Ping.run(from: tb.hostNamespace(1), to: tb.hostAddress(2), count: 20, interval: 0.01)
        XCTAssertEqual(ping.received, 20)
        let udp = try UDPRun.run(fabric: fabric, from: tb.hostNamespace(1), to: tb.hostNamespace(2),
                                 address: tb.hostAddress(2), count: 2000, pps: 50_000)
        XCTAssertEqual(udp.receive.unique, 2000, "UDP across the bridge")

        let before = try rxPackets(tb, 2)
        try sendRoCEPort(from: 1, to: 2, count: 50, tb)
        usleep(300_000)
        XCTAssertGreaterThanOrEqual(try rxPackets(tb, 2) - before, 50, "the RoCEv2 datagrams reached h2")

        XCTAssertEqual(sw.child.stop(), 0)
        let final = try StatsFile.read(statsFile)
        print(final.table)
        XCTAssertEqual(final.mode, "bridge")
        let h1 = final.ports[0]
        XCTAssertGreaterThan(h1.fastpathFrames ?? 0, 2000, "h1's port: forwarded in XDP: \(h1.fastpathPunts ?? [:])")
        XCTAssertGreaterThanOrEqual(h1.fastpathPunts?["roce"] ?? 0, 50, "\(h1.fastpathPunts ?? [:])")
        XCTAssertGreaterThanOrEqual(h1.rxFrames, 50, "the RoCEv2 datagrams went through the pipeline")
        XCTAssertTrue(final.ledger.balances, "\(final.ledger)")
    }

    /// Without `--fastpath on` the program forwards nothing itself: no fast path counters, every
    /// frame through the pipeline.
    func testFastPathOffForwardsEverythingInUserspace() throws {
        let tb = try makeTestbed(hosts: 2, routed: true)
        try prepareHostsForRedirects(tb)
        let sw = try startSwitch(tb)
        let ping = try Ping.run(from: tb.hostNamespace(1), to: tb.hostAddress(2), count: 10, interval: 0.01)
        XCTAssertEqual(ping.received, 10)
        let udp = try UDPRun.run(fabric: fabric, from: tb.hostNamespace(1), to: tb.hostNamespace(2),
                                 address: tb.hostAddress(2), count: 1000, pps: 50_000)
        XCTAssertEqual(udp.receive.unique, 1000)
        XCTAssertEqual(sw.child.stop(), 0)
        let final = try StatsFile.read(statsFile)
        XCTAssertNil(final.ports[0].fastpathFrames, "no fast path counters without --fastpath on")
        XCTAssertGreaterThanOrEqual(final.ports[0].rxFrames, 1010, "every frame through the pipeline")
    }

    /// Mixed traffic (issue 16): the lossless incast of `fabric lossless`, h1 and h2 each
    /// offering 250 Mb/s of RoCEv2 (DSCP 26 -> lossless TC3, 2 QPs each) into h3's 200 Mb/s
    /// emulated port through the userspace pipeline with PFC, while iperf3 TCP h4 -> h5 (unshaped
    /// ports) runs at the same time through the XDP fast path. The lossless class loses nothing
    /// and both senders are paused; the TCP frames are counted by the fast path, not by the
    /// pipeline.
    func testLosslessIncastLosesNothingWhileTCPTakesTheFastPath() throws {
        let tb = try makeTestbed(hosts: 5, routed: true)
        try prepareHostsForRedirects(tb)
        var lab = LosslessIncast(testbed: tb, launcher: launcher)
        lab.senders = 2
        lab.seconds = 3
        let iperf = NSTemporaryDirectory() + "fabric-mixed-\(getpid())-\(UUID().uuidString.prefix(6)).json"
        defer { try? FileManager.default.removeItem(atPath: iperf) }
        // Alongside the incast: resolve h4 and h5 (ARP through userspace, into the fast path's
        // maps at the next 100 ms sync), then TCP for 3 s while the RoCEv2 senders run.
        let (h4, h5) = (tb.hostNamespace(4), tb.hostNamespace(5))
        let tcp = "ip netns exec \(h5) iperf3 -s -1 -p 5203 >/dev/null & server=$!; "
            + "ip netns exec \(h4) ping -c 2 -i 0.02 -q \(tb.hostAddress(5)) >/dev/null; "
            + "ip netns exec \(h5) ping -c 2 -i 0.02 -q \(tb.hostAddress(4)) >/dev/null; sleep 0.4; "
            + "ip netns exec \(h4) iperf3 -c \(tb.hostAddress(5)) -p 5203 -t 3 -J > \(iperf); wait $server"
        let on = try lab.run(pfc: true, cc: "none", alongside: ["sh", "-c", tcp], switchArguments: ["--fastpath", "on"])
        print(LosslessIncast.table([on]))
        let out = (try? String(contentsOfFile: iperf, encoding: .utf8)) ?? ""
        let bps = try XCTUnwrap(iperf3ReceivedBitsPerSecond(out), "iperf3: \(out.prefix(400))")
        let r = on.report, w = on.workload
        print("mixed: RoCEv2 \(w.sentPackets) sent by h1 and h2, \(w.receivedPackets) received by h3, lost \(w.lost) "
              + "(h3's own socket dropped \(w.hostDrops)), \(on.pausesAtSenders) PFC pauses at the senders; TCP h4 -> h5 "
              + "\(String(format: "%.0f", bps / 1e6)) Mb/s, fast path h4 \(r.ports[3].fastpathFrames ?? 0) h5 \(r.ports[4].fastpathFrames ?? 0) "
              + "frames, pipeline h4 \(r.ports[3].rxFrames) h5 \(r.ports[4].rxFrames) frames")
        // Nothing lost between the hosts' wires (a receiving host's own socket falling behind on
        // 2 shared cores is reported apart: then what is missing is at most what it dropped).
        if w.hostDrops == 0 {
            XCTAssertEqual(w.lost, 0, "lossless: no PSN gap")
            XCTAssertEqual(w.receivedPackets, w.sentPackets, "every RoCEv2 packet sent arrived")
        } else {
            XCTAssertLessThanOrEqual(w.sentPackets - w.receivedPackets, w.hostDrops, "every packet missing was dropped by h3 itself")
        }
        XCTAssertEqual(on.switchDrops, 0, "no drop of any kind: \(on.dropReasons)")
        for s in w.senders { XCTAssertGreaterThan(s.report.pauseFrames, 0, "h\(s.from) was paused") }
        XCTAssertGreaterThan(r.ports[0].pfcTx[3] + r.ports[1].pfcTx[3], 0)
        XCTAssertGreaterThanOrEqual((r.ports[0].fastpathPunts?["roce"] ?? 0) + (r.ports[1].fastpathPunts?["roce"] ?? 0), w.sentPackets,
                                    "RoCEv2 went to userspace")
        XCTAssertGreaterThan(bps, 1e7, "TCP between the unshaped ports")
        let tcpFast = (r.ports[3].fastpathFrames ?? 0) + (r.ports[4].fastpathFrames ?? 0)
        XCTAssertGreaterThan(tcpFast, 10 * (r.ports[3].rxFrames + r.ports[4].rxFrames), "TCP took the fast path")
        XCTAssertTrue(r.ledger.balances, "\(r.ledger)")
    }

    /// 64 UDP flows from h1 to 10.88.0.1, held by h3 and h4 (an ECMP route over both).
    /// `varying`: flow f sends perFlow + f % 7 datagrams, so that the sums per member tell
    /// which flows went where.
    func sendFlows(_ tb: TopologyTestbed, perFlow: Int, basePort: Int = 50000, to address: String = "10.88.0.1", varying: Bool = false) throws {
        var script = ""
        for f in 0..<64 {
            script += "import socket\ns=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.bind(('\(tb.hostAddress(1))', \(basePort + f)))\n"
            script += "for i in range(\(perFlow + (varying ? f % 7 : 0))): s.sendto(b'x'*32, ('\(address)', 9))\ns.close()\n"
        }
        try Shell.inNamespace(tb.hostNamespace(1), ["python3", "-c", script])
        usleep(300_000)
    }

    /// ECMP in XDP, a member's link going down and up, and routes added and deleted with `fabric
    /// ctl`, with the fast path on: the flows spread as userspace spreads them, a down member's
    /// flows move to the live one (its live list rewritten before its port's flag), and a route
    /// added live is forwarded in XDP, a deleted one no longer.
    func testECMPLinkDownAndLiveRoutesWithTheFastPath() throws {
        let tb = try makeTestbed(hosts: 4, routed: true)
        try prepareHostsForRedirects(tb)
        for h in [3, 4] { try Shell.run(["ip", "-n", tb.hostNamespace(h), "addr", "add", "10.88.0.1/32", "dev", "lo"]) }
        try Shell.run(["ip", "-n", tb.hostNamespace(2), "addr", "add", "10.99.0.1/32", "dev", "lo"])
        let sw = try startSwitch(tb, config: config(tb) {
            $0.routes = [RouteConfig(prefix: IPPrefix("10.88.0.0/16", strict: true)!, nextHops: [IPAddress(tb.hostAddress(3))!, IPAddress(tb.hostAddress(4))!])]
        }, extra: ["--fastpath", "on"])
        for h in 2...4 { _ = try Ping.run(from: tb.hostNamespace(1), to: tb.hostAddress(h), count: 1) }
        usleep(400_000)
        func rx() throws -> [Int] { try (2...4).map { Int(try rxPackets(tb, $0)) } }

        var before = try rx()
        try sendFlows(tb, perFlow: 20)
        var got = zip(try rx(), before).map { $0 - $1 }
        XCTAssertEqual(got[1] + got[2], 64 * 20, "every datagram reached h3 or h4: \(got)")
        XCTAssertGreaterThan(got[1], 64 * 20 / 5, "h3 got a share: \(got)")
        XCTAssertGreaterThan(got[2], 64 * 20 / 5, "h4 got a share: \(got)")
        XCTAssertEqual(got[1] % 20, 0, "flows are not split: \(got)")

        // h3's link down (its end of the veth): every flow on h4.
        try Shell.run(["ip", "-n", tb.hostNamespace(3), "link", "set", tb.hostInterface(3), "down"])
        usleep(200_000)
        before = try rx()
        try sendFlows(tb, perFlow: 10, basePort: 51000)
        got = zip(try rx(), before).map { $0 - $1 }
        XCTAssertEqual(got[2], 64 * 10, "with h3 down, h4 got every flow: \(got)")
        try Shell.run(["ip", "-n", tb.hostNamespace(3), "link", "set", tb.hostInterface(3), "up"])
        try Shell.inNamespace(tb.hostNamespace(3), ["ethtool", "-K", tb.hostInterface(3), "gro", "on"])
        usleep(500_000)

        // A route added live, to h2's 10.99.0.1, then deleted.
        let add = try Shell.run([fabric, "ctl", "--switch", tb.switchNamespace, "route", "add", "10.99.0.0/16", "via", tb.hostAddress(2)], check: false)
        XCTAssertTrue(add.contains("ok: applied"), add)
        before = try rx()
        try sendFlows(tb, perFlow: 5, basePort: 52000, to: "10.99.0.1")
        got = zip(try rx(), before).map { $0 - $1 }
        XCTAssertEqual(got[0], 64 * 5, "the route added live carries every flow to h2: \(got)")
        let del = try Shell.run([fabric, "ctl", "--switch", tb.switchNamespace, "route", "del", "10.99.0.0/16"], check: false)
        XCTAssertTrue(del.contains("ok: applied"), del)
        before = try rx()
        try sendFlows(tb, perFlow: 1, basePort: 53000, to: "10.99.0.1")
        got = zip(try rx(), before).map { $0 - $1 }
        // (h2 may receive a frame of its own meanwhile: ARP, IPv6 chatter; not 64 datagrams.)
        XCTAssertLessThan(got[0], 8, "deleted: nothing for 10.99.0.1 reaches h2: \(got)")

        XCTAssertEqual(sw.child.stop(), 0)
        let final = try StatsFile.read(statsFile)
        print(final.table)
        let h1 = final.ports[0]
        let sent: UInt64 = 64 * (20 + 10 + 5)
        let punts = h1.fastpathPunts ?? [:]
        XCTAssertGreaterThanOrEqual(h1.fastpathFrames ?? 0, sent, "\(punts)")
        XCTAssertGreaterThanOrEqual(punts["no_route"] ?? 0, 64, "after the delete: no route in XDP, to userspace")
        XCTAssertGreaterThanOrEqual(h1.drops["no_route"] ?? 0, 64, "and dropped there: \(h1.drops.filter { $0.value > 0 })")
    }

    /// The same 64 flows through the same ECMP route, once with the fast path off (userspace
    /// chooses the member) and once on (XDP does): each next hop receives exactly as many.
    func testECMPInXDPChoosesTheMembersUserspaceChooses() throws {
        let tb = try makeTestbed(hosts: 4, routed: true)
        try prepareHostsForRedirects(tb)
        for h in [3, 4] { try Shell.run(["ip", "-n", tb.hostNamespace(h), "addr", "add", "10.88.0.1/32", "dev", "lo"]) }
        let c = config(tb) {
            $0.routes = [RouteConfig(prefix: IPPrefix("10.88.0.0/16", strict: true)!, nextHops: [IPAddress(tb.hostAddress(3))!, IPAddress(tb.hostAddress(4))!])]
        }
        var shares: [[Int]] = []
        for fast in [false, true] {
            let sw = try startSwitch(tb, config: c, extra: ["--fastpath", fast ? "on" : "off"])
            for h in 2...4 { _ = try Ping.run(from: tb.hostNamespace(1), to: tb.hostAddress(h), count: 1) }
            usleep(400_000)
            let before = try [3, 4].map { Int(try rxPackets(tb, $0)) }
            try sendFlows(tb, perFlow: 3, basePort: 40000, varying: true)
            shares.append(zip(try [3, 4].map { Int(try rxPackets(tb, $0)) }, before).map { $0 - $1 })
            XCTAssertEqual(sw.child.stop(), 0)
            let final = try StatsFile.read(statsFile)
            if fast { XCTAssertGreaterThanOrEqual(final.ports[0].fastpathFrames ?? 0, UInt64(64 * 3), "forwarded in XDP") }
        }
        print("ECMP h3/h4 shares: userspace \(shares[0]), XDP \(shares[1])")
        XCTAssertEqual(shares[0].reduce(0, +), (0..<64).reduce(0) { $0 + 3 + $1 % 7 })
        XCTAssertEqual(shares[0], shares[1], "XDP hashes each flow to the member userspace does")
    }

    /// `--workers 2`: worker 0 owns the maps; what worker 1 resolves (h1 sends on queue 1) reaches
    /// them through worker 0's tables, and h1's UDP to h2 is forwarded in XDP.
    func testTwoWorkersShareOneFastPath() throws {
        let tb = try makeTestbed(hosts: 2, routed: true, queues: 2)
        try prepareHostsForRedirects(tb)
        let dev = "/sys/class/net/\(tb.hostInterface(1))/queues"
        try Shell.inNamespace(tb.hostNamespace(1), ["sh", "-c", "echo 0 > \(dev)/tx-0/xps_cpus && echo 3 > \(dev)/tx-1/xps_cpus"])
        let sw = try startSwitch(tb, extra: ["--workers", "2", "--fastpath", "on"])
        XCTAssertEqual(try Ping.run(from: tb.hostNamespace(1), to: tb.hostAddress(2), count: 3, interval: 0.02).received, 3)
        usleep(500_000)
        let udp = try UDPRun.run(fabric: fabric, from: tb.hostNamespace(1), to: tb.hostNamespace(2),
                                 address: tb.hostAddress(2), count: 2000, pps: 50_000)
        XCTAssertEqual(udp.receive.unique, 2000)
        XCTAssertEqual(sw.stop(), 0, "clean shutdown")
        let final = try StatsFile.read(statsFile)
        print(final.table)
        XCTAssertGreaterThanOrEqual(final.ports[0].fastpathFrames ?? 0, 1900, "\(final.ports[0].fastpathPunts ?? [:])")
        XCTAssertTrue(final.ledger.balances, "\(final.ledger)")
    }

    /// MAC aging with the fast path: with `--mac-aging 2`, a ping stream of 5 s whose frames all
    /// go through XDP keeps both hosts learned, because the `seen_ns` XDP refreshes is folded into
    /// the bridge's table before it ages; without that they would age out every 2 s and their
    /// frames be punted (`unknown_source`) to be learned again.
    func testBridgeKeepsAddressesTheFastPathSeesFromAgingOut() throws {
        let tb = try makeTestbed(hosts: 2)
        try prepareHostsForRedirects(tb)
        let sw = try startSwitch(tb, extra: ["--fastpath", "on", "--mac-aging", "2"])
        XCTAssertEqual(try Ping.run(from: tb.hostNamespace(1), to: tb.hostAddress(2), count: 3, interval: 0.02).received, 3)
        usleep(400_000)
        let json = try Shell.run([fabric, "stats", "--switch", tb.switchNamespace, "--json"])
        let before = try JSONDecoder().decode(SwitchReport.self, from: Data(json.utf8))
        let ping = try Ping.run(from: tb.hostNamespace(1), to: tb.hostAddress(2), count: 500, interval: 0.01)
        XCTAssertEqual(ping.received, 500)
        XCTAssertEqual(sw.child.stop(), 0)
        let final = try StatsFile.read(statsFile)
        print(final.table)
        XCTAssertEqual(final.macEntries, 2, "both hosts still learned")
        for (p, b) in zip(final.ports, before.ports) {
            XCTAssertGreaterThanOrEqual((p.fastpathFrames ?? 0) - (b.fastpathFrames ?? 0), 500, p.name)
            let relearned = (p.fastpathPunts?["unknown_source"] ?? 0) - (b.fastpathPunts?["unknown_source"] ?? 0)
            XCTAssertEqual(relearned, 0, "\(p.name): never aged out, so never learned again: \(p.fastpathPunts ?? [:])")
        }
    }

    /// A captured port takes no fast path, in or out: h1's capture holds every echo request and
    /// reply (each once in, once out), and XDP forwards nothing to or from h1; h2 -> h3, not
    /// captured, does take it.
    func testACapturedPortTakesNoFastPath() throws {
        let tb = try makeTestbed(hosts: 3, routed: true)
        try prepareHostsForRedirects(tb)
        let pcap = NSTemporaryDirectory() + "fabric-fp-capture-\(getpid()).pcapng"
        defer { try? FileManager.default.removeItem(atPath: pcap) }
        let sw = try startSwitch(tb, extra: ["--fastpath", "on", "--capture", "h1:\(pcap)"])
        for (a, b) in [(1, 2), (2, 3)] {
            XCTAssertEqual(try Ping.run(from: tb.hostNamespace(a), to: tb.hostAddress(b), count: 2, interval: 0.02).received, 2)
        }
        usleep(400_000)
        XCTAssertEqual(try Ping.run(from: tb.hostNamespace(1), to: tb.hostAddress(2), count: 50, interval: 0.01).received, 50)
        XCTAssertEqual(try Ping.run(from: tb.hostNamespace(2), to: tb.hostAddress(3), count: 50, interval: 0.01).received, 50)
        XCTAssertEqual(sw.stop(), 0)
        let final = try StatsFile.read(statsFile)
        print(final.table)
        XCTAssertEqual(final.ports[0].fastpathFrames, 0, "nothing from h1 in XDP")
        XCTAssertEqual(final.ports[0].fastpathTxFrames, 0, "nothing to h1 in XDP")
        XCTAssertGreaterThanOrEqual(final.ports[0].fastpathPunts?["ingress"] ?? 0, 52, "h1's frames: its port is captured")
        XCTAssertGreaterThanOrEqual(final.ports[1].fastpathPunts?["egress_capture"] ?? 0, 50, "the replies to h1: its port is captured")
        XCTAssertGreaterThanOrEqual(final.ports[1].fastpathFrames ?? 0, 50, "h2 -> h3 in XDP")
        let echoes = try Shell.run(["tshark", "-r", pcap, "-Y", "icmp.type == 8 || icmp.type == 0", "-T", "fields", "-e", "icmp.type"])
        XCTAssertGreaterThanOrEqual(echoes.split(separator: "\n").count, 2 * 52, "h1's 52 requests and 52 replies captured")
    }

    /// `fabric ctl config apply` with the fast path on: DSCP 0 mapped to the lossless TC3 sends
    /// pings to userspace (`lossless`), an emulated speed on h2's port too (`egress_emulated`),
    /// and the original configuration puts them back in XDP.
    func testConfigApplyMovesTrafficBetweenTheFastPathAndUserspace() throws {
        let tb = try makeTestbed(hosts: 2, routed: true)
        try prepareHostsForRedirects(tb)
        let base = config(tb)
        let sw = try startSwitch(tb, config: base, extra: ["--fastpath", "on"])
        func apply(_ c: SwitchConfig) throws -> String {
            let path = NSTemporaryDirectory() + "fabric-it-fp-\(getpid())-\(UUID().uuidString.prefix(8)).yaml"
            try SwitchConfigYAML.write(c, to: path, header: "live change")
            defer { try? FileManager.default.removeItem(atPath: path) }
            return try Shell.run([fabric, "ctl", "--switch", c.name, "config", "apply", path], check: false)
        }
        func counters() throws -> (fast: UInt64, punts: [String: UInt64]) {
            let json = try Shell.run([fabric, "stats", "--switch", base.name, "--json"])
            let r = try JSONDecoder().decode(SwitchReport.self, from: Data(json.utf8))
            return (r.ports[0].fastpathFrames ?? 0, r.ports[0].fastpathPunts ?? [:])
        }
        func ping() throws { XCTAssertEqual(try Ping.run(from: tb.hostNamespace(1), to: tb.hostAddress(2), count: 20, interval: 0.01).received, 20) }
        try ping()
        usleep(400_000)
        let c0 = try counters()
        try ping()
        let c1 = try counters()
        XCTAssertGreaterThanOrEqual(c1.fast - c0.fast, 20, "in XDP at first")

        var lossless = base
        lossless.qos.dscpToTC[0] = 3
        XCTAssertTrue(try apply(lossless).contains("ok: applied"))
        try ping()
        let c2 = try counters()
        XCTAssertEqual(c2.fast, c1.fast, "DSCP 0 lossless: nothing in XDP")
        XCTAssertGreaterThanOrEqual((c2.punts["lossless"] ?? 0) - (c1.punts["lossless"] ?? 0), 20, "\(c2.punts)")

        var delayed = base
        delayed.ports[1].speedGbps = 1
        let answer = try apply(delayed)
        XCTAssertTrue(answer.contains("ok: applied"), answer)
        try ping()
        let c3 = try counters()
        XCTAssertEqual(c3.fast, c2.fast, "an emulated egress port: nothing in XDP")
        XCTAssertGreaterThanOrEqual((c3.punts["egress_emulated"] ?? 0) - (c2.punts["egress_emulated"] ?? 0), 20, "\(c3.punts)")

        XCTAssertTrue(try apply(base).contains("ok: applied"))
        try ping()
        let c4 = try counters()
        XCTAssertGreaterThanOrEqual(c4.fast - c3.fast, 20, "back in XDP")
        XCTAssertEqual(sw.stop(), 0)
    }

    /// An MTU lowered on a switch port while it runs: the fast path learns it at the next
    /// housekeeping pass and sends longer frames to userspace (`oversize`), which drops and
    /// counts them as without the fast path; frames that fit still go through XDP.
    func testALoweredMTUSendsLongerFramesToUserspace() throws {
        let tb = try makeTestbed(hosts: 2, routed: true)
        try prepareHostsForRedirects(tb)
        let c = config(tb)
        let sw = try startSwitch(tb, config: c, extra: ["--fastpath", "on"])
        XCTAssertEqual(try Ping.run(from: tb.hostNamespace(1), to: tb.hostAddress(2), count: 2, interval: 0.02).received, 2)
        try Shell.run(["ip", "-n", tb.switchNamespace, "link", "set", c.ports[1].name, "mtu", "1000"])
        usleep(400_000)
        let big = try Shell.inNamespace(tb.hostNamespace(1), ["ping", "-c", "10", "-i", "0.01", "-s", "1200", "-M", "dont", "-W", "1", tb.hostAddress(2)], check: false)
        XCTAssertEqual(pingReplies(big), 0, "1242-byte frames do not fit h2's port: \(big)")
        XCTAssertEqual(try Ping.run(from: tb.hostNamespace(1), to: tb.hostAddress(2), count: 10, interval: 0.01).received, 10, "small ones do")
        XCTAssertEqual(sw.stop(), 0)
        let final = try StatsFile.read(statsFile)
        print(final.table)
        XCTAssertGreaterThanOrEqual(final.ports[0].fastpathPunts?["oversize"] ?? 0, 10, "\(final.ports[0].fastpathPunts ?? [:])")
        XCTAssertGreaterThanOrEqual(final.ports[1].drops["oversize"] ?? 0, 10, "dropped and counted by userspace")
        XCTAssertGreaterThanOrEqual(final.ports[0].fastpathFrames ?? 0, 10, "the small pings in XDP")
    }
}

import FabricTelemetry
import FabricLab
import Foundation
import XCTest

/// End to end, as root: real namespaces, veths, XDP programs and AF_XDP sockets. Each test
/// builds its own test bed under a unique prefix and removes it (and stops the switch) in a
/// teardown block, which XCTest runs also when an assertion fails.
final class SwitchIntegrationTests: LabTestCase {
    func ping(_ tb: TopologyTestbed, _ a: Int, _ b: Int, count: Int = 3) throws -> PingResult {
        try Ping.run(from: tb.hostNamespace(a), to: tb.hostAddress(b), count: count, interval: 0.02)
    }

    /// Waits for a snapshot newer than `after` (the switch writes one every 0.2 s).
    func nextSnapshot(after seq: UInt64) throws -> SwitchReport {
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline {
            if let r = try? StatsFile.read(statsFile), r.sequence > seq { return r }
            usleep(20_000)
        }
        throw TestbedError("no new stats snapshot after sequence \(seq)")
    }

    /// A switch snapshot and the hosts' own veth counters taken while no frame moved: host
    /// counters read, a snapshot written after that, host counters read again and unchanged.
    func quietReading(_ tb: TopologyTestbed, after seq: UInt64) throws -> (SwitchReport, [LinkStats]) {
        var snap = try nextSnapshot(after: seq)
        for _ in 0..<20 {
            let l1 = try (1...tb.hostCount).map { try LinkStats.read(namespace: tb.hostNamespace($0), device: tb.hostInterface($0)) }
            snap = try nextSnapshot(after: snap.sequence)
            snap = try nextSnapshot(after: snap.sequence)
            let l2 = try (1...tb.hostCount).map { try LinkStats.read(namespace: tb.hostNamespace($0), device: tb.hostInterface($0)) }
            if zip(l1, l2).allSatisfy({ $0.txPackets == $1.txPackets && $0.rxPackets == $1.rxPackets }) {
                return (snap, l2)
            }
        }
        throw TestbedError("the hosts never stopped sending long enough to read counters")
    }

    func xdpAttached(_ tb: TopologyTestbed, port: String) -> Bool {
        let out = (try? Shell.run(["ip", "-n", tb.switchNamespace, "link", "show", "dev", port])) ?? ""
        return out.contains(" xdp") || out.contains("prog/xdp")
    }

    // MARK: - Tests

    func testPingAndUDPBetweenEveryPairAndCountersMatch() throws {
        let tb = try makeTestbed(hosts: 4)
        let sw = try startSwitch(tb)
        let n = tb.hostCount

        // ARP + ICMP between every ordered pair through the learning bridge.
        for a in 1...n {
            for b in 1...n where a != b {
                let r = try ping(tb, a, b)
                XCTAssertEqual(r.received, r.transmitted, "ping h\(a) -> h\(b)")
                XCTAssertEqual(r.transmitted, 3)
                if r.received != r.transmitted {
                    // Seen once in CI (2026-12-02, 1 of 3 lost h1 -> h4): what the switch counted then.
                    usleep(300_000)
                    print((try? StatsFile.read(statsFile).table) ?? "no stats file")
                }
            }
        }

        // UDP between every ordered pair; the switch's counters must agree with the kernel's
        // own counters on the host ends of the veths, frame for frame.
        let perPair = 300
        let (before, linkBefore) = try quietReading(tb, after: 0)
        for a in 1...n {
            for b in 1...n where a != b {
                let r = try UDPRun.run(fabric: fabric, from: tb.hostNamespace(a), to: tb.hostNamespace(b),
                                       address: tb.hostAddress(b), count: perPair, pps: 50_000)
                XCTAssertEqual(r.send.sent, perPair)
                XCTAssertEqual(r.receive.unique, perPair, "UDP h\(a) -> h\(b): every datagram arrives")
                XCTAssertEqual(r.receive.duplicates, 0)
                XCTAssertEqual(r.receive.reordered, 0)
            }
        }
        let (after, linkAfter) = try quietReading(tb, after: before.sequence)
        for i in 0..<n {
            let port = after.ports[i], portBefore = before.ports[i]
            let hostSent = linkAfter[i].txPackets - linkBefore[i].txPackets
            let hostGot = linkAfter[i].rxPackets - linkBefore[i].rxPackets
            XCTAssertEqual(port.rxFrames - portBefore.rxFrames, hostSent, "switch rx on \(port.name) == frames h\(i + 1) sent")
            XCTAssertEqual(port.txFrames - portBefore.txFrames, hostGot, "switch tx on \(port.name) == frames h\(i + 1) received")
            XCTAssertGreaterThanOrEqual(hostSent, UInt64(perPair * (n - 1)), "h\(i + 1) sent at least its UDP")
            XCTAssertEqual(port.xdpRedirected, port.rxFrames, "the XDP program steered every frame into the socket")
            XCTAssertEqual(port.dropsTotal, 0)
            XCTAssertEqual(port.socket.frames, 0, "no frame lost at the AF_XDP socket")
        }

        // Orderly stop: exit 0, XDP detached, every frame accounted for.
        XCTAssertEqual(sw.child.stop(), 0)
        let final = try StatsFile.read(statsFile)
        XCTAssertFalse(final.running)
        XCTAssertTrue(final.ledger.balances, "\(final.ledger)")
        XCTAssertEqual(final.ledger.total, final.ledger.free + final.ledger.queued + final.ledger.fillOutstanding + final.ledger.txOutstanding)
        XCTAssertEqual(final.ledger.inKernelFlight, 0, "\(final.ledger)")
        XCTAssertEqual(final.ledger.queued, 0)
        for p in tb.switchPorts { XCTAssertFalse(xdpAttached(tb, port: p), "XDP program left on \(p)") }
        XCTAssertTrue(sw.child.output.contains("RX_FRAMES"), "exit summary printed")
    }

    /// Attached through netlink (kernels without XDP links), a program outlives a killed
    /// switch; the next start recognises it as its own and replaces it.
    func testSIGKILLLeavesStaleProgramThatTheNextStartReplaces() throws {
        let tb = try makeTestbed(hosts: 2)
        let first = try startSwitch(tb, extra: ["--xdp-attach", "netlink"])
        XCTAssertEqual(try ping(tb, 1, 2).received, 3)
        first.child.signal(SIGKILL)
        XCTAssertNotNil(first.child.wait(timeout: 5))
        XCTAssertTrue(xdpAttached(tb, port: "h1"), "after SIGKILL a netlink-attached program stays attached")
        XCTAssertEqual(try ping(tb, 1, 2, count: 2).received, 0, "with nobody behind the sockets frames go nowhere")

        let second = try startSwitch(tb)
        XCTAssertTrue(second.child.output.contains("replaced a stale fabric_xsk program"), second.child.output)
        XCTAssertEqual(try ping(tb, 1, 2).received, 3, "forwarding again after restart")
        XCTAssertEqual(second.child.stop(), 0)
        XCTAssertFalse(xdpAttached(tb, port: "h1"))
    }

    func testVanishedInterfaceIsTakenOutOfServiceAndOthersKeepForwarding() throws {
        let tb = try makeTestbed(hosts: 3)
        let sw = try startSwitch(tb)
        XCTAssertEqual(try ping(tb, 1, 3).received, 3)
        XCTAssertEqual(try ping(tb, 1, 2).received, 3)
        try Shell.run(["ip", "-n", tb.switchNamespace, "link", "del", "h3"])
        let deadline = Date().addingTimeInterval(5)
        while !sw.child.output.contains("h3: interface disappeared") && Date() < deadline { usleep(20_000) }
        XCTAssertTrue(sw.child.output.contains("h3: interface disappeared"), sw.child.output)
        XCTAssertEqual(try ping(tb, 1, 2, count: 5).received, 5, "h1 <-> h2 still forwarded")
        XCTAssertEqual(try ping(tb, 2, 1, count: 5).received, 5)
        XCTAssertEqual(sw.child.stop(), 0)
        let final = try StatsFile.read(statsFile)
        XCTAssertEqual(final.ports.map(\.inService), [true, true, false])
        XCTAssertTrue(final.ledger.balances, "\(final.ledger)")
        XCTAssertEqual(final.ledger.inKernelFlight, 0, "\(final.ledger)")
    }

    func testSecondSwitchOnTheSamePortsIsRefused() throws {
        let tb = try makeTestbed(hosts: 2)
        let sw = try startSwitch(tb)
        let out = try Shell.run([fabric, "switch", "--netns", tb.switchNamespace, "--ports", "h1,h2"], check: false)
        XCTAssertTrue(out.contains("in use by another running switch (pid \(sw.child.pid))"), out)
        XCTAssertEqual(try ping(tb, 1, 2).received, 3, "the running switch is undisturbed")
    }

    func testBadPortAndBadOptionsGiveClearErrors() throws {
        let tb = try makeTestbed(hosts: 1)
        let missing = try Shell.run([fabric, "switch", "--netns", tb.switchNamespace, "--ports", "h1,nope0"], check: false)
        XCTAssertTrue(missing.contains("port nope0: no such interface"), missing)
        XCTAssertFalse(xdpAttached(tb, port: "h1"), "a failed start leaves no program behind")
        let dup = try Shell.run([fabric, "switch", "--netns", tb.switchNamespace, "--ports", "h1,h1"], check: false)
        XCTAssertTrue(dup.contains("listed twice"), dup)
        let ring = try Shell.run([fabric, "switch", "--netns", tb.switchNamespace, "--ports", "h1", "--ring-size", "1000"], check: false)
        XCTAssertTrue(ring.contains("power of two"), ring)
        let ns = try Shell.run([fabric, "switch", "--netns", "no-such-ns-\(getpid())", "--ports", "h1"], check: false)
        XCTAssertTrue(ns.contains("cannot open network namespace"), ns)
    }

    func testRunsWithoutBPFFSUnderIPNetnsExec() throws {
        let tb = try makeTestbed(hosts: 2)
        let mounts = try Shell.inNamespace(tb.switchNamespace, ["cat", "/proc/self/mounts"])
        XCTAssertFalse(mounts.contains(" bpf "), "ip netns exec is expected to hide bpffs")
        let sw = try startSwitch(tb, ipNetnsExec: true)
        XCTAssertEqual(try ping(tb, 1, 2).received, 3)
        XCTAssertEqual(sw.child.stop(), 0)
        XCTAssertFalse(xdpAttached(tb, port: "h1"))
    }

    /// An egress port configured at 200 Mb/s sends no faster, whatever it is offered: the
    /// rate on the emulated wire (frame + preamble/IFG/FCS) within 2% of the configuration.
    func testEmulatedLineRateHoldsWithinTwoPercent() throws {
        let tb = try makeTestbed(hosts: 2)
        let sw = try startSwitch(tb, config: config(tb, speeds: [2: 0.2]))
        // Far more than 200 Mb/s of 1 KB RoCEv2 frames from h1 to h2's MAC (a debug-build sender on a
        // busy 2-core VM offers 0.45-0.5 Gb/s at worst).
        let sender = try ChildProcess([fabric, "traffic", "send", "--netns", tb.hostNamespace(1), "--to", tb.hostAddress(2),
                                       "--mac", tb.hostMAC(2), "--source", tb.hostAddress(1), "--seconds", "5",
                                       "--mtu", "1024", "--message", "1024", "--transport", "none",
                                       // Lossy (the bridge classifies): the excess is dropped, not paused by PFC.
                                       "--dscp", "0", "--priority", "0", "--json"])
        defer { sender.stop(grace: 2) }
        usleep(1_000_000)
        // Bits on the wire seen by h2, stamped at the middle of the (process-spawning) read.
        func wire() throws -> (Double, Double) {
            let before = Date().timeIntervalSince1970
            let l = try LinkStats.read(namespace: tb.hostNamespace(2), device: tb.hostInterface(2))
            let after = Date().timeIntervalSince1970
            return (Double(l.rxBytes + 24 * l.rxPackets) * 8, (before + after) / 2)
        }
        let (b0, t0) = try wire()
        usleep(3_000_000)
        let (b1, t1) = try wire()
        let gbps = (b1 - b0) / (t1 - t0) / 1e9
        print("emulated line rate: \(gbps) Gb/s on a 200 Mb/s port")
        // 0.194-0.196 while the shaper made up at most 10 ms of wire time after the worker was
        // held off the CPU (it was, for 17-29 ms at times); 0.2003-0.2012 with 25 ms.
        XCTAssertEqual(gbps, 0.2, accuracy: 0.004, "\(gbps) Gb/s on the emulated 200 Mb/s wire")
        XCTAssertLessThanOrEqual(gbps, 0.204, "never faster than the emulated wire")
        _ = sender.wait(timeout: 10)
        XCTAssertEqual(sw.child.stop(), 0)
        let final = try StatsFile.read(statsFile)
        // The excess is tail-dropped and counted: at the ingress once its (lossy) priority
        // group reaches its share of the buffer, or at the egress queue.
        let excess = (final.ports[0].drops["buffer_full"] ?? 0) + (final.ports[1].drops["queue_full"] ?? 0)
        print("emulated line rate: excess tail-dropped \(excess) frames")
        XCTAssertGreaterThan(excess, 0, "the excess was tail-dropped and counted")
        XCTAssertTrue(final.ledger.balances, "\(final.ledger)")
    }

    /// The AF_PACKET backend (TPACKET_V3 rings, qdisc bypass): the same pipeline over packet
    /// sockets. Every datagram arrives, the switch's counters match the hosts' own, nothing is
    /// left attached, the frame ledger balances after an orderly stop.
    func testAFPacketBackendForwardsEverythingAndBalances() throws {
        let tb = try makeTestbed(hosts: 3)
        let sw = try startSwitch(tb, extra: ["--backend", "afpacket"])
        XCTAssertTrue(sw.banner.contains("h1:af_packet"), sw.banner)
        for a in 1...3 {
            for b in 1...3 where a != b {
                XCTAssertEqual(try ping(tb, a, b).received, 3, "ping h\(a) -> h\(b)")
            }
        }
        let perPair = 2000
        let (before, linkBefore) = try quietReading(tb, after: 0)
        for (a, b) in [(1, 2), (2, 3), (3, 1)] {
            let r = try UDPRun.run(fabric: fabric, from: tb.hostNamespace(a), to: tb.hostNamespace(b),
                                   address: tb.hostAddress(b), count: perPair, pps: 50_000)
            XCTAssertEqual(r.receive.unique, perPair, "UDP h\(a) -> h\(b): every datagram arrives")
            XCTAssertEqual(r.receive.duplicates, 0)
        }
        let (after, linkAfter) = try quietReading(tb, after: before.sequence)
        for i in 0..<3 {
            let port = after.ports[i], portBefore = before.ports[i]
            XCTAssertEqual(port.xdpMode, "af_packet")
            XCTAssertEqual(port.rxFrames - portBefore.rxFrames, linkAfter[i].txPackets - linkBefore[i].txPackets,
                           "switch rx on \(port.name) == frames h\(i + 1) sent (our own transmissions are not received back)")
            XCTAssertEqual(port.txFrames - portBefore.txFrames, linkAfter[i].rxPackets - linkBefore[i].rxPackets,
                           "switch tx on \(port.name) == frames h\(i + 1) received")
            XCTAssertEqual(port.dropsTotal, 0)
            XCTAssertEqual(port.socket.frames, 0, "no frame lost at the packet socket")
        }
        XCTAssertEqual(sw.child.stop(), 0)
        let final = try StatsFile.read(statsFile)
        XCTAssertTrue(final.ledger.balances, "\(final.ledger)")
        XCTAssertEqual(final.ledger.free, final.ledger.total, "every frame back in the pool: \(final.ledger)")
        for p in tb.switchPorts { XCTAssertFalse(xdpAttached(tb, port: p), "no XDP program on \(p)") }
    }

    /// `--backend auto` falls back to AF_PACKET, saying why, when AF_XDP cannot be set up (here:
    /// the XDP object is missing).
    func testAutoBackendFallsBackToAFPacketWithAMessage() throws {
        let tb = try makeTestbed(hosts: 2)
        let sw = try startSwitch(tb, extra: ["--backend", "auto", "--bpf-object", "/nonexistent/fabric_xsk.o"])
        XCTAssertTrue(sw.banner.contains("h1:af_packet"), sw.banner)
        XCTAssertEqual(try ping(tb, 1, 2).received, 3)
        XCTAssertEqual(sw.child.stop(), 0)
        XCTAssertTrue(sw.child.output.contains("AF_XDP unavailable"), sw.child.output)
        XCTAssertTrue(sw.child.output.contains("falling back to AF_PACKET"), sw.child.output)
    }

    func testGenericModeForwardsToo() throws {
        let tb = try makeTestbed(hosts: 2)
        let sw = try startSwitch(tb, extra: ["--xdp-mode", "generic"])
        XCTAssertTrue(sw.banner.contains("h1:generic"), sw.banner)
        XCTAssertEqual(try ping(tb, 1, 2).received, 3)
        XCTAssertEqual(try ping(tb, 2, 1).received, 3)
    }
}

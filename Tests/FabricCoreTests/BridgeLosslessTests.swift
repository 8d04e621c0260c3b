import FabricPacket
import FabricTestSupport
import XCTest
@testable import FabricCore

/// The bridge as a lossless switch: it classifies as the router does (per port trust), charges
/// ingress priority groups, sends and honours PFC and marks ECN; MAC Control frames are
/// consumed whatever their destination and honoured only from 01:80:C2:00:00:01, on the
/// priorities the port has PFC enabled for.
final class BridgeLosslessTests: XCTestCase {
    static let hosts: [UInt64] = [0x02_00_00_00_00_0A, 0x02_00_00_00_00_0B, 0x02_00_00_00_00_0C]
    let a = hosts[0], b = hosts[1], c = hosts[2]
    let ipA = parseIPv4("10.9.0.1")!, ipB = parseIPv4("10.9.0.2")!

    /// A 3-port bridge (p0 trusts `trust0`, the others DSCP), the default NVIDIA maps.
    static func bed(trust0: TrustMode = .dscp, ecn: ECNConfig = ECNConfig(), buffers: BufferConfig = BufferConfig(),
                    pfcEnable: [UInt8?] = [nil, nil, nil], queueCapacity: Int = 64) -> EmbeddedDatapath {
        var cfg = SwitchConfig(mode: .bridge, ports: (0..<3).map { PortConfig(name: "p\($0)", trust: $0 == 0 ? trust0 : .dscp, pfcEnable: pfcEnable[$0]) })
        cfg.ecn = ecn
        cfg.buffers = buffers
        return EmbeddedDatapath(config: cfg, portMACs: (0..<3).map { MACAddress(rawValue: 0x02_5F_00_00_00_F0 | UInt64($0)) },
                                frameCount: 512, queueCapacity: queueCapacity)
    }

    /// A UDP packet from a to `dst` (MAC), DSCP `dscp`, ECN `ecn`.
    func udp(to dst: UInt64, dscp: UInt8, ecn: UInt8 = 2, payload: Int = 18, sport: UInt16 = 1) -> [UInt8] {
        Frames.udp4(dstMAC: dst, srcMAC: a, src: ipA, dst: ipB, sport: sport, dport: 9, tos: dscp << 2 | ecn, payload: payload)
    }

    /// `frame` with an 802.1Q tag of priority `pcp` after the MACs.
    func tagged(_ frame: [UInt8], pcp: UInt8) -> [UInt8] {
        Array(frame[0..<12]) + [0x81, 0x00, pcp << 5, 10] + Array(frame[12...])
    }

    /// b is learned on port 1 (a broadcast from it), and that flood drained.
    func learnB(_ bed: EmbeddedDatapath, now: UInt64 = 1) {
        bed.receive(Frames.ethernet(dst: MACAddress.broadcast.rawValue, src: b))
        bed.forward(ingress: 1, now: now)
        _ = (bed.drain(0), bed.drain(2))
    }

    func testClassifiesByDSCPOrPCPPerPortTrust() {
        let bed = Self.bed(trust0: .pcp)
        learnB(bed)
        // Port 0 trusts PCP: PCP 3 -> TC3, whatever its DSCP; untagged -> TC0 even with DSCP 26.
        bed.receive(tagged(udp(to: b, dscp: 0), pcp: 3))
        bed.receive(udp(to: b, dscp: 26))
        bed.forward(ingress: 0, now: 2)
        XCTAssertEqual(bed.dp.egress[1].depth(queue: 3).frames, 1)
        XCTAssertEqual(bed.dp.egress[1].depth(queue: 0).frames, 1)
        _ = bed.drain(1)
        // Port 2 trusts DSCP: 26 -> TC3, 48 (CNP) -> TC6; not IP and malformed IP -> TC0, and
        // still bridged (a bridge relays what it does not parse).
        bed.receive(Frames.udp4(dstMAC: b, srcMAC: c, src: ipA, dst: ipB, sport: 1, dport: 9, tos: 26 << 2))
        bed.receive(Frames.udp4(dstMAC: b, srcMAC: c, src: ipA, dst: ipB, sport: 1, dport: 9, tos: 48 << 2))
        bed.receive(Frames.eth(b, c, 0x88B5) + [UInt8](repeating: 0, count: 50))
        var bad = Frames.udp4(dstMAC: b, srcMAC: c, src: ipA, dst: ipB, sport: 1, dport: 9, tos: 26 << 2)
        bad[14] = 0x35                                   // IPv4 with IHL 5 but version 3
        bed.receive(bad)
        bed.forward(ingress: 2, now: 3)
        XCTAssertEqual(bed.dp.egress[1].depth(queue: 3).frames, 1)
        XCTAssertEqual(bed.dp.egress[1].depth(queue: 6).frames, 1)
        XCTAssertEqual(bed.dp.egress[1].depth(queue: 0).frames, 2)
        // 60 bytes on the wire, charged the 1 KB minimum (each frame pins a whole frame of the
        // switch's memory: `BufferConfig.minimumChargeBytes`).
        XCTAssertEqual(bed.dp.admission.buffer.held(port: 2, pg: 3), 1024, "the lossless frame is charged to p2's PG3, at least 1 KB")
        XCTAssertEqual(bed.transmit(port: 1, now: 4).count, 4)
        XCTAssertEqual(bed.dp.admission.buffer.held(port: 2, pg: 3), 0, "credited as it left")
        XCTAssertTrue(bed.ledgerBalances)
    }

    /// A lossless PG over its XOFF threshold pauses the sender; XON when it drains. Flood copies
    /// (unknown unicast) are each charged to the ingress PG and each credited as it leaves.
    func testLosslessPGSendsXOFFAndXONAndFloodCopiesAreChargedEach() {
        var buffers = BufferConfig()
        buffers.lossless = .init(reservedBytes: 0, threshold: .fixed(8 * 1024))
        buffers.xonOffsetBytes = 4 * 1024
        let bed = Self.bed(buffers: buffers)
        let frame = udp(to: 0x02_00_00_00_00_99, dscp: 26, payload: 1000)   // unknown: flooded to p1 and p2
        bed.receive(frame)
        bed.forward(ingress: 0, now: 10)
        XCTAssertEqual(bed.dp.admission.buffer.held(port: 0, pg: 3), 2 * frame.count, "two copies, two charges")
        for _ in 0..<4 { bed.receive(frame) }
        bed.forward(ingress: 0, now: 20)
        // 10 x 1042 B > 8 KB: XOFF for priority 3 waits in p0's control queue.
        XCTAssertEqual(bed.dp.counters[0].pfcTx[3], 1)
        let xoff = bed.transmit(port: 0, now: 30)
        XCTAssertEqual(xoff.count, 1)
        XCTAssertEqual(Frames.mac(xoff[0], 0), 0x0180_C200_0001)
        XCTAssertEqual(Array(xoff[0][12...17]), [0x88, 0x08, 0x01, 0x01, 0x00, 0x08], "PFC, priority 3")
        XCTAssertEqual(bed.transmit(port: 1, now: 40).count, 5)
        XCTAssertEqual(bed.transmit(port: 2, now: 40).count, 5)
        XCTAssertEqual(bed.dp.admission.buffer.held(port: 0, pg: 3), 0)
        XCTAssertEqual(bed.dp.counters[0].pfcTx[3], 2, "and XON once it drained")
        _ = bed.transmit(port: 0, now: 50)
        XCTAssertTrue(bed.ledgerBalances)
    }

    /// Each flood copy is ECN-marked by the depth of its own egress queue: p1's deep queue
    /// marks its copy, p2's empty one leaves its copy alone.
    func testFloodCopiesAreMarkedByTheirOwnQueue() {
        var ecn = ECNConfig()
        ecn.kminBytes = 1100
        ecn.kmaxBytes = 2000
        let bed = Self.bed(ecn: ecn)
        learnB(bed)
        // 3 x 1042 B on p1's queue 3: they find 0 and 1042 B (below Kmin), then 2084 (above Kmax).
        for i in 0..<3 { bed.receive(udp(to: b, dscp: 26, payload: 1000, sport: UInt16(i))) }
        bed.forward(ingress: 0, now: 2)
        bed.receive(udp(to: MACAddress.broadcast.rawValue, dscp: 26, payload: 1000, sport: 7))
        bed.forward(ingress: 0, now: 3)
        let p1 = bed.drain(1), p2 = bed.drain(2)
        XCTAssertEqual(p1.count, 4)
        XCTAssertEqual(p1.map { $0[15] & 3 }, [2, 2, 3, 3], "below Kmin twice, then above Kmax")
        XCTAssertEqual(p2.map { $0[15] & 3 }, [2], "p2's copy found an empty queue")
        for f in p1 + p2 { XCTAssertTrue(Frames.ipv4HeaderValid(f)) }
        XCTAssertEqual(bed.dp.counters[1].ecnMarked[3], 2)
        XCTAssertEqual(bed.dp.counters[2].ecnMarked[3], 0)
        XCTAssertTrue(bed.ledgerBalances)
    }

    /// 802.3 Annex 31B: every MAC Control frame is used up by the link, whatever its
    /// destination; only one to 01:80:C2:00:00:01 is honoured, and its source is not learned.
    func testMACControlIsNeverForwardedAndHonouredOnlyFromTheReservedAddress() {
        let bed = Self.bed()
        learnB(bed)
        for dst in [MACAddress.broadcast.rawValue, a, 0x02_00_00_00_00_99, 0x0180_C200_0001] {
            var f = Frames.pfc(source: c, priority: 3, quanta: 0xFFFF)
            f.replaceSubrange(0..<6, with: Frames.macBytes(dst))
            bed.receive(f)
        }
        var pause = Frames.pfc(source: c, priority: 0, quanta: 0xFFFF)
        pause[15] = 0x01; pause[14] = 0x00                // 802.3x PAUSE to the reserved address
        bed.receive(pause)
        bed.receive(tagged(Frames.pfc(source: c, priority: 3, quanta: 0xFFFF), pcp: 7))   // tagged MAC Control: consumed too
        bed.forward(ingress: 2, now: 10)
        XCTAssertEqual(bed.drain(0).count + bed.drain(1).count, 0, "nothing forwarded")
        let cnt = bed.dp.counters[2]
        XCTAssertEqual(cnt.consumed, 6)
        XCTAssertEqual(cnt.drops.total, 0, "used up, not dropped")
        XCTAssertEqual(cnt.pfcIgnoredDestination, 3)
        XCTAssertEqual(cnt.pfcRx[3], 2, "the reserved-address PFC, and the tagged one to it")
        XCTAssertEqual(cnt.pauseRx, 1)
        XCTAssertTrue(bed.dp.egress[2].pause.isPaused(queue: 3, now: 11))
        XCTAssertNil(bed.dp.bridge.table.lookup(MACAddress(rawValue: c), now: 11), "a MAC Control frame teaches the table nothing")
        XCTAssertTrue(bed.ledgerBalances)
    }

    /// `pfc_enable`: by default the lossless TCs (3); a port may name others, or none.
    func testPFCIsHonouredOnlyOnThePrioritiesThePortEnables() {
        let bed = Self.bed(pfcEnable: [nil, 0, 1 << 0 | 1 << 4])
        for port in 0..<3 {
            for prio in [0, 3, 4] { bed.receive(Frames.pfc(source: c, priority: prio, quanta: 0xFFFF)) }
            bed.forward(ingress: port, now: 10)
        }
        let paused = (0..<3).map { bed.dp.egress[$0].pause.pausedMask(now: 11) }
        XCTAssertEqual(paused, [1 << 3, 0, 1 << 0 | 1 << 4])
        XCTAssertEqual(bed.dp.counters[0].pfcIgnoredPriority.array, [1, 0, 0, 0, 1, 0, 0, 0])
        XCTAssertEqual(bed.dp.counters[1].pfcIgnoredPriority.array, [1, 0, 0, 1, 1, 0, 0, 0])
        XCTAssertEqual(bed.dp.counters[2].pfcIgnoredPriority.array, [0, 0, 0, 1, 0, 0, 0, 0])
        XCTAssertEqual(bed.dp.counters[2].pfcRx.array, [1, 0, 0, 0, 1, 0, 0, 0])
    }

    /// The router, too, honours PFC only from the reserved address.
    func testRouterIgnoresPFCToItsOwnMAC() {
        let bed = RouterLab.make()
        var f = Frames.pfc(source: RouterLab.host2, priority: 3, quanta: 0xFFFF)
        f.replaceSubrange(0..<6, with: Frames.macBytes(RouterLab.portMACs[1]))
        bed.receive(f)
        bed.forward(ingress: 1, now: 10)
        XCTAssertFalse(bed.dp.egress[1].pause.isPaused(queue: 3, now: 11))
        XCTAssertEqual(bed.dp.counters[1].pfcIgnoredDestination, 1)
        XCTAssertEqual(bed.dp.counters[1].pfcRx[3], 0)
        XCTAssertEqual(bed.dp.counters[1].consumed, 1)
    }

    /// DCQCN's marking curve through the bridge: frames that find queue 3 held at a fixed depth
    /// between Kmin and Kmax are marked with probability pmax x (depth - Kmin) / (Kmax - Kmin).
    /// The marker's generator has a fixed seed, so the counts are reproducible; each is checked
    /// against the binomial bounds (4.5 standard deviations) of that probability.
    func testECNMarkingFractionFollowsTheLinearCurve() {
        let frame = udp(to: b, dscp: 26, payload: 1000)
        let size = frame.count
        var ecn = ECNConfig()
        ecn.kminBytes = 10 * size
        ecn.kmaxBytes = 50 * size
        ecn.pmax = 0.8
        let draws = 4000
        for depthFrames in [5, 15, 25, 35, 45, 55] {
            let bed = Self.bed(ecn: ecn, queueCapacity: 128)
            learnB(bed)
            for i in 0..<depthFrames { bed.receive(udp(to: b, dscp: 26, ecn: 0, payload: 1000, sport: UInt16(i))) }   // Not-ECT filler
            bed.forward(ingress: 0, now: 2)
            for i in 0..<draws {
                bed.receive(frame)
                bed.forward(ingress: 0, now: UInt64(10 + i))
                guard let out = bed.dp.dequeueForTransmit(port: 1, now: UInt64(10 + i)) else { return XCTFail("queue 3 empty") }
                bed.dp.pool.release(out.addr)
            }
            let p = ecn.probability(depth: depthFrames * size)
            let marked = Double(bed.dp.counters[1].ecnMarked[3])
            let mean = Double(draws) * p, sd = (Double(draws) * p * (1 - p)).squareRoot()
            XCTAssertEqual(marked, mean, accuracy: 4.5 * sd + 0.5, "depth \(depthFrames) frames: p = \(p)")
        }
        XCTAssertEqual(ecn.probability(depth: 30 * size), 0.4, accuracy: 1e-12)
    }
}

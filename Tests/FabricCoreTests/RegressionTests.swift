import FabricPacket
import FabricTestSupport
import XCTest
@testable import FabricCore

/// Invariants a reading of the code found broken (issue 12), each pinned by a test.
final class RegressionTests: XCTestCase {
    /// A dual-stack router, no neighbours known: h1 (10.77.1.254/24, fd77:1::fe/64), h2
    /// (10.77.2.254/24, fd77:2::fe/64).
    func dualStack() -> EmbeddedDatapath {
        let cfg = SwitchConfig(ports: [
            PortConfig(name: "h1", addresses: [IPPrefix("10.77.1.254/24", strict: false)!, IPPrefix("fd77:1::fe/64", strict: false)!]),
            PortConfig(name: "h2", addresses: [IPPrefix("10.77.2.254/24", strict: false)!, IPPrefix("fd77:2::fe/64", strict: false)!]),
        ])
        return EmbeddedDatapath(config: cfg, portMACs: RouterLab.portMACs.prefix(2).map { MACAddress(rawValue: $0) })
    }

    func udp6(to dst: String) -> [UInt8] {
        var ip = [UInt8](repeating: 0, count: 40)
        ip[0] = 0x60
        ip[5] = 26                                       // payload length: UDP 8 + 18
        ip[6] = 17
        ip[7] = 64
        ip.withUnsafeMutableBytes { storeIPv6(IPv6Address("fd77:1::1")!, at: $0.baseAddress! + 8) }
        ip.withUnsafeMutableBytes { storeIPv6(IPv6Address(dst)!, at: $0.baseAddress! + 24) }
        let udp: [UInt8] = [0x10, 0x00, 0x10, 0x01, 0, 26, 0, 0] + [UInt8](repeating: 0xAB, count: 18)
        return Frames.eth(RouterLab.portMACs[0], RouterLab.host1, 0x86DD) + ip + udp
    }

    /// A frame held for its next hop waits for its own address family's answer, whatever the
    /// batch slot held before: an IPv4 frame after an IPv6 one is asked for by ARP.
    func testAnIPv4FrameHeldAfterAnIPv6OneInTheSameSlotWaitsForARP() {
        let bed = dualStack()
        bed.receive(udp6(to: "fd77:2::1"))
        bed.forward(ingress: 0, now: 1_000)
        XCTAssertEqual(bed.dp.pendingFrames, 1)
        let ns = bed.drain(1)
        XCTAssertEqual(ns.count, 1)
        XCTAssertEqual(ns.first.map { Array($0[12...13]) }, [0x86, 0xDD], "a neighbour solicitation")
        // The same batch slot, now an IPv4 packet to an unresolved host.
        bed.receive(Frames.udp4(dstMAC: RouterLab.portMACs[0], srcMAC: RouterLab.host1, src: RouterLab.h1, dst: RouterLab.h2, sport: 1, dport: 2))
        bed.forward(ingress: 0, now: 2_000)
        let asked = bed.drain(1)
        XCTAssertEqual(asked.count, 1)
        XCTAssertEqual(asked.first.map { Array($0[12...13]) }, [0x08, 0x06], "an ARP request, not a solicitation")
        bed.receive(Frames.arp(op: 2, dstMAC: RouterLab.portMACs[1], sha: RouterLab.host2, spa: RouterLab.h2, tha: RouterLab.portMACs[1],
                               tpa: parseIPv4("10.77.2.254")!))
        bed.forward(ingress: 1, now: 3_000)
        let out = bed.drain(1)
        XCTAssertEqual(out.count, 1, "the ARP reply releases the IPv4 frame")
        XCTAssertEqual(out.first.map { Array($0[12...13]) }, [0x08, 0x00])
        XCTAssertEqual(bed.dp.pendingFrames, 1, "the IPv6 frame still waits for its neighbour")
    }

    /// What the switch answers itself is class 0 (lossy, PG 0), whatever the batch slot held
    /// before or the request asked for: an ARP reply after a lossless frame in the same slot,
    /// and an echo reply to a DSCP 26 ping.
    func testAnARPReplyIsClassZeroWhateverTheSlotHeldBefore() {
        let bed = RouterLab.make()
        // Slot 0: a lossless (DSCP 26 -> TC3) packet to the ECMP uplinks.
        bed.receive(Frames.udp4(dstMAC: RouterLab.portMACs[0], srcMAC: RouterLab.host1, src: RouterLab.h1, dst: parseIPv4("10.99.0.1")!,
                                sport: 1, dport: 2, tos: 26 << 2 | 2))
        bed.forward(ingress: 0, now: 1_000)
        XCTAssertEqual(bed.dp.admission.buffer.held(port: 0, pg: 3), 1024, "60 bytes, charged 1 KB")
        // Slot 0 again: an ARP request for the switch's address on h1.
        bed.receive(Frames.arp(op: 1, dstMAC: 0xFFFF_FFFF_FFFF, sha: RouterLab.host1, spa: RouterLab.h1, tha: 0, tpa: parseIPv4("10.77.1.254")!))
        bed.forward(ingress: 0, now: 2_000)
        XCTAssertEqual(bed.dp.egress[0].depth(queue: 0).frames, 1, "the reply waits in queue 0")
        XCTAssertEqual(bed.dp.egress[0].depth(queue: 3).frames, 0)
        XCTAssertEqual(bed.dp.admission.buffer.held(port: 0, pg: 3), 1024, "not charged to the lossless PG")
        // Slot 0 again: a DSCP 26 ping to the switch.
        _ = bed.drain(0)
        bed.receive(Frames.icmpEcho(dstMAC: RouterLab.portMACs[0], srcMAC: RouterLab.host1, src: RouterLab.h1, dst: parseIPv4("10.77.1.254")!,
                                    tos: 26 << 2 | 2))
        bed.forward(ingress: 0, now: 3_000)
        XCTAssertEqual(bed.dp.egress[0].depth(queue: 0).frames, 1, "the echo reply waits in queue 0")
        XCTAssertEqual(bed.dp.admission.buffer.held(port: 0, pg: 3), 1024, "60 bytes, charged 1 KB")
        XCTAssertEqual(bed.dp.counters[0].icmpEchoReplies, 1)
    }

    /// `pfcTx` counts the PFC frames the switch queued, not those a full control queue refused.
    func testPFCFramesAreCountedOnlyWhenQueued() {
        var b = BufferConfig()
        b.lossless = .init(reservedBytes: 0, threshold: .fixed(0))
        let bed = RouterLab.twoPorts(buffers: b)
        bed.receive(RouterLab.udp(dscp: 26))
        bed.forward(ingress: 0, now: 1_000)
        XCTAssertEqual(bed.dp.counters[0].pfcTx[3], 1, "XOFF")
        // Refresh XOFF every half pause time (167.8 us at 100G) without ever transmitting.
        for i in 1...100 { bed.dp.tick(now: 1_000 + UInt64(i) * 170_000) }
        let queued = bed.dp.egress[0].control.count
        XCTAssertEqual(queued, 64, "the control queue holds 64")
        XCTAssertEqual(bed.dp.counters[0].pfcTx[3], UInt64(queued), "counted = queued")
        XCTAssertEqual(bed.drainControl(0).count, 64)
        _ = bed.drain(1)
        XCTAssertTrue(bed.ledgerBalances)
    }
}

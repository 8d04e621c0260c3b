import FabricConfig
import FabricCore
import FabricLab
import FabricTelemetry
import FabricTraffic
import Foundation
import XCTest

/// Jumbo frames on real veths and AF_XDP multi-buffer sockets: `testbed up --mtu 9000`, full
/// 9000-byte pings through the bridge and the router, RoCEv2 at a 4096-byte RoCE MTU with every
/// ICRC checked by scapy, TCP faster at 9000 than at 1500, and a frame too long for its egress
/// port dropped with its own reason.
final class JumboIntegrationTests: LabTestCase {
    /// `ping -M do -s SIZE` from host `from` to `to`'s address: the replies received.
    func ping(_ tb: TopologyTestbed, from: Int, to address: String, size: Int, count: Int = 3, v6: Bool = false) throws -> Int {
        let out = try Shell.run(["ip", "netns", "exec", tb.hostNamespace(from), "ping"] + (v6 ? ["-6"] : []) + [
            "-c", "\(count)", "-i", "0.2", "-W", "2", "-M", "do", "-s", "\(size)", address], check: false)
        return pingReplies(out)
    }

    /// Both pipelines over both backends (AF_XDP multi-buffer; AF_PACKET copying into chains).
    func testFullSizeJumboPingsCrossTheBridgeAndTheRouter() throws {
        for (routed, backend) in [(false, "afxdp"), (true, "afxdp"), (false, "afpacket"), (true, "afpacket")] {
            let tb = try makeTestbed(hosts: 2, routed: routed, mtu: 9000)
            let sw = try startSwitch(tb, extra: ["--backend", backend])
            let what = (routed ? "router" : "bridge") + " over \(backend)"
            XCTAssertEqual(try ping(tb, from: 1, to: tb.hostAddress(2), size: 8972), 3, "\(what): 9000-byte IPv4 packets, don't fragment")
            if routed {
                XCTAssertEqual(try ping(tb, from: 1, to: tb.hostAddress6(2), size: 8952, v6: true), 3, "router: 9000-byte IPv6 packets")
                XCTAssertEqual(try ping(tb, from: 1, to: tb.gatewayAddress(1), size: 8972), 3, "router: the switch answers a jumbo ping itself")
            }
            XCTAssertEqual(sw.stop(), 0)
            let r = try StatsFile.read(statsFile)
            XCTAssertEqual(r.ports.map(\.dropsTotal), [0, 0], "\(what): nothing dropped")
            XCTAssertGreaterThanOrEqual(r.ports[1].txBytes, UInt64(3 * 9014), "\(what): the jumbo frames went out whole")
            XCTAssertTrue(r.ledger.balances, "\(r.ledger)")
            XCTAssertEqual(r.ledger.chained, 0, "\(what): no chain left behind")
        }
    }

    /// RoCEv2 with a 4096-byte RoCE MTU (4170-byte frames, each a chain of two UMEM frames in
    /// the generator, the switch and the receiver) from h1 to h2 through the router: nothing
    /// lost, and scapy finds every ICRC in the switch's capture of h2's port valid.
    func testRoCEv2At4096MTUThroughTheRouterKeepsEveryICRCValid() throws {
        let tb = try makeTestbed(hosts: 2, routed: true, mtu: 9000)
        let pcap = NSTemporaryDirectory() + "fabric-jumbo-\(getpid()).pcapng"
        defer { try? FileManager.default.removeItem(atPath: pcap) }
        let sw = try startSwitch(tb, extra: ["--capture", "h2:\(pcap)"])
        var o = RoCERun.Options()
        o.messages = 200
        o.messageBytes = 64 * 1024
        o.queuePairs = 2
        o.mtu = 4096
        o.rateGbps = 0.2
        let r = try RoCERun.run(fabric: fabric, from: tb.hostNamespace(1), to: tb.hostNamespace(2), destination: tb.hostAddress(2), options: o)
        XCTAssertEqual(r.sender.packets, 200 * 16, "64 KB messages in 4 KB packets")
        XCTAssertEqual(r.receiver.packets, r.sender.packets, "every packet arrived")
        XCTAssertEqual(r.receiver.lost, 0)
        XCTAssertEqual(r.sender.retransmittedPackets, 0)
        XCTAssertEqual(r.receiver.icrcFailures, 0)
        XCTAssertEqual(r.receiver.backend, "afxdp", "received through the AF_XDP socket, as chains")
        XCTAssertEqual(sw.stop(), 0)
        let report = try StatsFile.read(statsFile)
        XCTAssertEqual(report.ports.map(\.dropsTotal), [0, 0])
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("check_pcap_icrc.py").path
        let out = try Shell.run(["python3", script, pcap])
        struct Check: Decodable { var roce: Int; var ok: Int; var longest: Int; var bad: [Int] }
        let check = try JSONDecoder().decode(Check.self, from: Data(out.utf8))
        XCTAssertGreaterThanOrEqual(check.roce, Int(r.sender.packets), "every data packet captured on h2's port (and the ACKs)")
        XCTAssertEqual(check.ok, check.roce, "scapy: every RoCEv2 frame's ICRC valid; bad lengths \(check.bad)")
        XCTAssertEqual(check.longest, 4170, "14 + 20 + 8 + 12 + 16 (RETH) + 4096 + 4 (ICRC)")
    }

    /// TCP (iperf3, 3 s) from h1 to h2 through the router, on a 1500-MTU bed and on a 9000-MTU
    /// bed in the same run: per-frame cost bounds the rate, so jumbo frames carry more.
    func testTCPThroughTheRouterIsFasterWithJumboFrames() throws {
        var rates: [Int: Double] = [:]
        for mtu in [1500, 9000] {
            let tb = try makeTestbed(hosts: 2, routed: true, mtu: mtu)
            let sw = try startSwitch(tb)
            rates[mtu] = try iperf3(tb, from: 1, to: 2, seconds: 3, port: 5201) / 1e9
            XCTAssertEqual(sw.stop(), 0)
        }
        let ratio = rates[9000]! / rates[1500]!
        print("iperf3 through the router: \(String(format: "%.2f", rates[1500]!)) Gb/s at MTU 1500, \(String(format: "%.2f", rates[9000]!)) Gb/s at 9000: \(String(format: "%.2f", ratio))x")
        XCTAssertGreaterThanOrEqual(ratio, 1.5, "jumbo frames at least 1.5x the 1500-byte rate")
    }

    /// A jumbo frame bridged to a port whose interface has MTU 1500 is dropped there and
    /// counted as `oversize` (the veth would drop it silently); frames that fit still pass.
    func testAFrameTooLongForTheEgressPortIsCountedAsOversize() throws {
        let tb = try makeTestbed(hosts: 2, routed: false, mtu: 9000)
        try Shell.run(["ip", "-n", tb.switchNamespace, "link", "set", "dev", "h2", "mtu", "1500"])
        let sw = try startSwitch(tb)
        XCTAssertEqual(try ping(tb, from: 1, to: tb.hostAddress(2), size: 8972, count: 2), 0, "9000-byte packets cannot leave through MTU 1500")
        XCTAssertEqual(try ping(tb, from: 1, to: tb.hostAddress(2), size: 1472, count: 2), 2, "1500-byte packets pass")
        XCTAssertEqual(sw.stop(), 0)
        let r = try StatsFile.read(statsFile)
        XCTAssertEqual(r.ports[1].drops["oversize"], 2, "each jumbo ping counted on h2's port: \(r.ports[1].drops.filter { $0.value > 0 })")
        XCTAssertTrue(r.ledger.balances, "\(r.ledger)")
    }
}

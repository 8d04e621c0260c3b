import FabricCore
import FabricPacket
import FabricTelemetry
import FabricLab
import Foundation
import XCTest

/// The switch as a router on a routed test bed: hosts in their own subnets with only a default
/// route via the switch and no static ARP.
final class RouterIntegrationTests: LabTestCase {
    /// Three pings from every host to its gateway and to every other host, all answered.
    func assertEveryHostReachesItsGatewayAndEveryOther(_ tb: TopologyTestbed, gateway: (Int) -> String, host: (Int) -> String,
                                                        file: StaticString = #filePath, line: UInt = #line) throws {
        for a in 1...tb.hostCount {
            let gw = try Ping.run(from: tb.hostNamespace(a), to: gateway(a), count: 3, interval: 0.02)
            XCTAssertEqual(gw.received, 3, "h\(a) pings its gateway \(gateway(a))", file: file, line: line)
            for b in 1...tb.hostCount where a != b {
                let r = try Ping.run(from: tb.hostNamespace(a), to: host(b), count: 3, interval: 0.02)
                XCTAssertEqual(r.received, 3, "h\(a) -> h\(b) (\(host(b))) across subnets", file: file, line: line)
            }
        }
    }

    func testHostsWithoutStaticARPPingAndExchangeUDPAndTCPAcrossSubnets() throws {
        let (tb, sw) = try routedBedWithSwitch(hosts: 3)
        try assertEveryHostReachesItsGatewayAndEveryOther(tb, gateway: tb.gatewayAddress, host: tb.hostAddress)
        // No host has a static neighbour: what they know they learned by ARP from the switch.
        let neigh = try Shell.run(["ip", "-n", tb.hostNamespace(1), "neigh", "show"])
        XCTAssertFalse(neigh.contains("PERMANENT"), neigh)
        XCTAssertTrue(neigh.contains("10.77.1.254"), neigh)

        let udp = try UDPRun.run(fabric: fabric, from: tb.hostNamespace(1), to: tb.hostNamespace(3),
                                 address: tb.hostAddress(3), count: 2000, pps: 50_000)
        XCTAssertEqual(udp.receive.unique, 2000, "UDP across subnets")
        XCTAssertEqual(udp.receive.reordered, 0)

        XCTAssertGreaterThan(try iperf3(tb, from: 1, to: 2), 1e8, "TCP across subnets")

        XCTAssertEqual(sw.child.stop(), 0)
        let final = try StatsFile.read(statsFile)
        XCTAssertEqual(final.mode, "router")
        XCTAssertTrue(final.ledger.balances, "\(final.ledger)")
        XCTAssertEqual(final.ledger.pending, 0)
        XCTAssertEqual(final.neighbours.filter { $0.mac != nil }.count, 3, "all three hosts resolved by ARP")
        XCTAssertGreaterThan(final.ports[0].arpRepliesSent, 0)
        XCTAssertGreaterThan(final.ports[0].icmpEchoReplies, 0)
        for p in final.ports { XCTAssertEqual(p.dropsTotal, 0, "\(p.name): \(p.drops.filter { $0.value > 0 })") }
    }

    func testIPv6NeighbourDiscoveryAndRoutingAcrossSubnets() throws {
        let (tb, sw) = try routedBedWithSwitch(hosts: 3)
        // The gateway answers only after the switch's neighbour advertisement; the other hosts
        // only once the switch resolved them by solicitation.
        try assertEveryHostReachesItsGatewayAndEveryOther(tb, gateway: tb.gatewayAddress6, host: tb.hostAddress6)
        let neigh = try Shell.run(["ip", "-n", tb.hostNamespace(2), "-6", "neigh", "show"])
        XCTAssertTrue(neigh.contains("fd77:2::fe"), neigh)
        XCTAssertEqual(sw.child.stop(), 0)
        let final = try StatsFile.read(statsFile)
        let resolved6 = final.neighbours.filter { $0.address.hasPrefix("fd77:") && $0.mac != nil }
        XCTAssertEqual(resolved6.count, 3, "\(final.neighbours)")
        XCTAssertTrue(final.ledger.balances, "\(final.ledger)")
        for p in final.ports { XCTAssertEqual(p.dropsTotal, 0, "\(p.name): \(p.drops.filter { $0.value > 0 })") }
    }

    /// Two next hops (h3 and h4 both hold 10.88.0.1) for 10.88.0.0/16: many UDP flows from h1,
    /// differing only in source port (RoCEv2's entropy), spread over both.
    func testECMPSpreadsManyFlowsOverTwoNextHops() throws {
        let tb = try makeTestbed(hosts: 4, routed: true)
        for h in [3, 4] {
            try Shell.run(["ip", "-n", tb.hostNamespace(h), "addr", "add", "10.88.0.1/32", "dev", "lo"])
        }
        _ = try startSwitch(tb, config: config(tb) {
            $0.routes = [RouteConfig(prefix: IPPrefix("10.88.0.0/16", strict: true)!, nextHops: [IPAddress(tb.hostAddress(3))!, IPAddress(tb.hostAddress(4))!])]
        })
        // Resolve the hosts first (ARP), so the flows below go straight through.
        for h in 2...4 { _ = try Ping.run(from: tb.hostNamespace(1), to: tb.hostAddress(h), count: 1) }
        let before = try [3, 4].map { try LinkStats.read(namespace: tb.hostNamespace($0), device: tb.hostInterface($0)).rxPackets }
        let flows = 64, perFlow = 20
        var script = ""
        for f in 0..<flows {
            // One UDP flow per source port, sent with the kernel's own socket from h1.
            script += "import socket\ns=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.bind(('10.77.1.1', \(50000 + f)))\n"
            script += "for i in range(\(perFlow)): s.sendto(b'x'*32, ('10.88.0.1', 4791))\ns.close()\n"
        }
        try Shell.inNamespace(tb.hostNamespace(1), ["python3", "-c", script])
        usleep(300_000)
        let after = try [3, 4].map { try LinkStats.read(namespace: tb.hostNamespace($0), device: tb.hostInterface($0)).rxPackets }
        let got = zip(after, before).map { Int($0 - $1) }
        XCTAssertEqual(got[0] + got[1], flows * perFlow, "every datagram reached one of the two next hops: \(got)")
        XCTAssertGreaterThan(got[0], flows * perFlow / 5, "h3 got a share: \(got)")
        XCTAssertGreaterThan(got[1], flows * perFlow / 5, "h4 got a share: \(got)")
        XCTAssertEqual(got[0] % perFlow, 0, "flows are not split between next hops: \(got)")
    }
}

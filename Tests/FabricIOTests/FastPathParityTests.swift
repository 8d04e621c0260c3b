import FabricCore
import FabricPacket
import FabricTestSupport
import Foundation
import XCTest

/// The XDP fast path (bpf/fabric_fastpath.h) against the Swift data path: every frame the fast
/// path forwarded in Tests/bpf/fastpath_test.py (scapy frames, BPF_PROG_TEST_RUN) is fed to the
/// Swift router configured as the test's maps were filled, and must leave on the same port with
/// the same bytes (MACs, TTL/hop limit, IPv4 checksum, and so the ECMP member, with members
/// down). The golden file holds the XDP side: Tests/bpf/fastpath_golden.json, written by
/// `fastpath_test.py --write-golden`, which also checks XDP still produces it.
final class FastPathParityTests: XCTestCase {
    struct Golden: Decodable {
        struct Switch: Decodable {
            struct Port: Decodable {
                var name: String
                var mac: String
                var addresses: [String]
                var speedGbps: Double?
            }
            struct Route: Decodable {
                var prefix: String
                var nextHops: [String]
                var mode: String?
            }
            struct Neighbour: Decodable {
                var address: String
                var mac: String
            }
            var ports: [Port]
            var routes: [Route]
            var neighbours: [Neighbour]
            var qos: String
        }
        struct Case: Decodable {
            var name: String
            var ingress: Int
            var down: [Int]
            var frame: String
            var egress: Int?
            var out: String?
            var neighbours: [Switch.Neighbour]?
        }
        var `switch`: Switch
        var cases: [Case]
    }

    static func hex(_ s: String) -> [UInt8] {
        var out: [UInt8] = []
        var i = s.startIndex
        while i < s.endIndex {
            let j = s.index(i, offsetBy: 2)
            out.append(UInt8(s[i..<j], radix: 16)!)
            i = j
        }
        return out
    }

    func loadGolden() throws -> Golden {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("bpf/fastpath_golden.json")
        return try JSONDecoder().decode(Golden.self, from: Data(contentsOf: url))
    }

    /// The switch of the golden file as a SwitchConfig; the neighbours the cases learned
    /// (in XDP: entries with an expiry) are static here.
    func config(_ g: Golden) throws -> (SwitchConfig, [MACAddress]) {
        let ports = try g.switch.ports.map { p in
            PortConfig(name: p.name, addresses: try p.addresses.map { try XCTUnwrap(IPPrefix($0, strict: false)) }, speedGbps: p.speedGbps)
        }
        var cfg = SwitchConfig(ports: ports, qos: try XCTUnwrap(QoSMaps.named(g.switch.qos)))
        cfg.routes = try g.switch.routes.map { r in
            RouteConfig(prefix: try XCTUnwrap(IPPrefix(r.prefix, strict: true)), nextHops: try r.nextHops.map { try XCTUnwrap(IPAddress($0)) },
                        mode: r.mode.flatMap { LoadBalancingMode(name: $0) })
        }
        let learned = g.cases.flatMap { $0.neighbours ?? [] }
        cfg.neighbours = try (g.switch.neighbours + learned).map { n in
            NeighbourConfig(address: try XCTUnwrap(IPAddress(n.address)), mac: try XCTUnwrap(MACAddress(n.mac)))
        }
        let macs = try g.switch.ports.map { try XCTUnwrap(MACAddress($0.mac)) }
        return (cfg, macs)
    }

    func testSwiftRouterMakesTheBytesXDPMakes() throws {
        let g = try loadGolden()
        let (cfg, macs) = try config(g)
        let bed = EmbeddedDatapath(config: cfg, portMACs: macs, frameCount: 256, queueCapacity: 16)
        let portCount = cfg.ports.count
        var compared = 0, rehashed = 0
        var now: UInt64 = 1_000
        for c in g.cases {
            guard let egress = c.egress, let out = c.out else { continue }
            for p in 0..<portCount { bed.dp.setLink(port: p, up: !c.down.contains(p)) }
            XCTAssertTrue(bed.receive(Self.hex(c.frame)), c.name)
            bed.forward(ingress: c.ingress, now: now)
            var sent: [(Int, [UInt8])] = []
            for p in 0..<portCount {
                for f in bed.transmit(port: p, now: now) { sent.append((p, f)) }
            }
            XCTAssertEqual(sent.count, 1, "\(c.name): the Swift data path sent \(sent.count) frames")
            if let (port, bytes) = sent.first {
                XCTAssertEqual(port, egress, "\(c.name): Swift chose port \(port), XDP \(egress)")
                XCTAssertEqual(bytes, Self.hex(out), "\(c.name): bytes differ")
            }
            compared += 1
            if !c.down.isEmpty { rehashed += 1 }
            now += 1_000
        }
        XCTAssertTrue(bed.ledgerBalances)
        XCTAssertGreaterThan(compared, 1000)
        XCTAssertGreaterThan(rehashed, 500)
        print("FastPathParityTests: \(compared) frames forwarded by XDP, the Swift data path made the same bytes on the same port "
            + "(\(rehashed) with ECMP members down)")
    }
}

import FabricPacket
import XCTest
@testable import FabricCore

final class RoutingTests: XCTestCase {
    /// Brute-force reference: scan every route, keep the longest match (last duplicate wins).
    func reference4(_ routes: [IPv4LPM.Route], _ a: UInt32) -> UInt32? {
        var best: IPv4LPM.Route?
        for r in routes {
            let m: UInt32 = r.length == 0 ? 0 : ~UInt32(0) << (32 - r.length)
            if a & m == r.prefix, best == nil || r.length >= best!.length { best = r }
        }
        return best?.value
    }

    func testIPv4LPMMatchesBruteForceOnRandomTables() {
        var rng = SystemRandomNumberGenerator()
        for round in 0..<4 {
            var routes: [IPv4LPM.Route] = []
            // Clustered prefixes so that many nest (the interesting case), all lengths.
            for i in 0..<(round == 3 ? 3000 : 400) {
                let base = UInt32(0x0A00_0000) | UInt32.random(in: 0...0x00FF_FFFF, using: &rng) & (round % 2 == 0 ? 0x000F_FFFF : 0xFFFF_FFFF)
                routes.append(.init(prefix: base, length: Int.random(in: 0...32, using: &rng), value: UInt32(i)))
            }
            let lpm = IPv4LPM(routes: routes)
            for _ in 0..<(round == 3 ? 800 : 3000) {
                let a: UInt32
                if Bool.random(using: &rng) {
                    a = routes.randomElement(using: &rng)!.prefix | UInt32.random(in: 0...255, using: &rng)
                } else {
                    a = UInt32.random(in: 0...UInt32.max, using: &rng)
                }
                XCTAssertEqual(lpm.lookup(a), reference4(routes, a), "round \(round) address \(formatIPv4(a))")
            }
        }
    }

    func testIPv4LPMEdgeCases() {
        let lpm = IPv4LPM(routes: [
            .init(prefix: 0, length: 0, value: 1),                       // default
            .init(prefix: parseIPv4("10.0.0.0")!, length: 8, value: 2),
            .init(prefix: parseIPv4("10.1.2.128")!, length: 25, value: 3),
            .init(prefix: parseIPv4("10.1.2.200")!, length: 32, value: 4),
            .init(prefix: parseIPv4("10.1.0.0")!, length: 16, value: 5), // shorter, added after a /25 below it
        ])
        XCTAssertEqual(lpm.lookup(parseIPv4("192.168.1.1")!), 1)
        XCTAssertEqual(lpm.lookup(parseIPv4("10.9.9.9")!), 2)
        XCTAssertEqual(lpm.lookup(parseIPv4("10.1.2.1")!), 5, "the /16 fills the tbl8 below the /25")
        XCTAssertEqual(lpm.lookup(parseIPv4("10.1.2.129")!), 3)
        XCTAssertEqual(lpm.lookup(parseIPv4("10.1.2.200")!), 4)
        XCTAssertEqual(lpm.lookup(parseIPv4("10.1.2.201")!), 3)
        XCTAssertNil(IPv4LPM(routes: []).lookup(0x0A000001))
    }

    func testIPv6LPMMatchesBruteForce() {
        var rng = SystemRandomNumberGenerator()
        var routes: [IPv6LPM.Route] = []
        let lengths = [0, 16, 32, 48, 56, 64, 96, 127, 128]
        for i in 0..<500 {
            let a = IPv6Address(high: 0xFD77_0000_0000_0000 | UInt64.random(in: 0...0xFFFF, using: &rng) << 16, low: UInt64.random(in: 0...UInt64.max, using: &rng))
            routes.append(.init(prefix: a, length: lengths.randomElement(using: &rng)!, value: UInt32(i)))
        }
        let lpm = IPv6LPM(routes: routes)
        for _ in 0..<3000 {
            let r = routes.randomElement(using: &rng)!
            let a = Bool.random(using: &rng) ? r.prefix : IPv6Address(high: r.prefix.high, low: UInt64.random(in: 0...UInt64.max, using: &rng))
            var best: IPv6LPM.Route?
            for x in routes where IPv6LPM.mask(a, x.length) == x.prefix {
                if best == nil || x.length >= best!.length { best = x }
            }
            XCTAssertEqual(lpm.lookup(a), best?.value, "\(a)")
        }
    }

    func testPrefixParsing() {
        XCTAssertEqual(IPPrefix("10.1.0.0/16", strict: true)?.description, "10.1.0.0/16")
        XCTAssertNil(IPPrefix("10.1.0.1/16", strict: true), "host bits set in a route")
        XCTAssertEqual(IPPrefix("10.1.0.1/16", strict: false)?.description, "10.1.0.1/16")
        XCTAssertNil(IPPrefix("10.1.0.0/33", strict: true))
        XCTAssertNil(IPPrefix("10.1.0/16", strict: true))
        XCTAssertNil(IPPrefix("300.1.0.0/16", strict: true))
        XCTAssertEqual(IPPrefix("fd77::/64", strict: true)?.description, "fd77::/64")
        XCTAssertEqual(IPv6Address("fd77::1:2")?.description, "fd77::1:2")
        XCTAssertEqual(IPv6Address("2001:db8:0:0:1:0:0:1")?.description, "2001:db8::1:0:0:1")
        XCTAssertNil(IPv6Address("fd77::1::2"))
        XCTAssertTrue(IPPrefix("10.77.1.0/24", strict: true)!.contains(.v4(parseIPv4("10.77.1.9")!)))
    }

    func testECMPSpreadsFlowsAndIsStablePerFlow() {
        let hops = (0..<4).map { NextHop(port: $0, gateway: .v4(parseIPv4("10.0.\($0).1")!)) }
        let fib = FIB(entries: [FIB.Entry(prefix: IPPrefix("10.99.0.0/16", strict: true)!, nextHops: hops)])
        let t = fib.v4.lookup(parseIPv4("10.99.3.4")!)!
        XCTAssertEqual(fib.memberCount(target: t), 4)
        var sel = HashPathSelector()
        var perPort = [Int](repeating: 0, count: 4)
        for sport in UInt16(0xC000)..<UInt16(0xC000 + 4000) {
            let h = FlowHash.v4(source: 0x0A4D0101, destination: 0x0A630304, protocolNumber: 17, sourcePort: sport, destinationPort: 4791)
            let m = sel.select(target: t, mode: .ecmp, ports: fib.memberPorts(target: t), memberCount: 4, flowHash: h, length: 64, now: 0)
            let again = sel.select(target: t, mode: .ecmp, ports: fib.memberPorts(target: t), memberCount: 4, flowHash: h, length: 64, now: 99)
            XCTAssertEqual(m, again)
            perPort[fib.port(hop: fib.member(target: t, m))] += 1
        }
        for n in perPort { XCTAssertGreaterThan(n, 850, "\(perPort)"); XCTAssertLessThan(n, 1150, "\(perPort)") }
    }
}

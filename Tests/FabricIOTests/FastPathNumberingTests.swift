import FabricCore
@testable import FabricIO
import FabricPacket
import XCTest

/// The fast path's tables name targets and next hops by `FIB`'s ids: `Numbering`, over the
/// configuration's FIB entries, must give every route the target the Swift FIB gives it, and
/// every target the same members in the same order (an ECMP member index means the same on
/// both sides).
final class FastPathNumberingTests: XCTestCase {
    func testNumberingMatchesTheFIBsTargetsNextHopsAndRoutes() throws {
        func p(_ s: String) -> IPPrefix { IPPrefix(s, strict: false)! }
        func a(_ s: String) -> IPAddress { IPAddress(s)! }
        let config = SwitchConfig(mode: .router, ports: [
            PortConfig(name: "p0", addresses: [p("10.0.0.254/24"), p("fd00::fe/64")]),
            PortConfig(name: "p1", addresses: [p("10.0.1.254/24")]),
            PortConfig(name: "p2", addresses: [p("10.0.2.254/24")]),
        ], routes: [
            RouteConfig(prefix: p("10.88.0.0/16"), nextHops: [a("10.0.1.1"), a("10.0.2.1")]),
            RouteConfig(prefix: p("10.89.0.0/16"), nextHops: [a("10.0.1.1"), a("10.0.2.1")]),           // shares the target above
            RouteConfig(prefix: p("10.90.0.0/16"), nextHops: [a("10.0.2.1"), a("10.0.1.1")]),           // other order: its own
            RouteConfig(prefix: p("10.91.0.0/16"), nextHops: [a("10.0.1.1"), a("10.0.2.1")], mode: .flowlet),
            RouteConfig(prefix: p("10.92.0.0/16"), nextHops: [a("10.0.0.1")]),
            RouteConfig(prefix: p("fd99::/48"), nextHops: [a("fd00::1")]),
        ])
        let entries = config.fibEntries()
        let fib = FIB(entries: entries)
        let n = Numbering(entries)
        XCTAssertEqual(n.targets.count, fib.targetCountTotal)
        XCTAssertEqual(n.hops, fib.nextHops)
        for (t, target) in n.targets.enumerated() {
            XCTAssertEqual(target.hops.count, fib.memberCount(target: UInt32(t)))
            for (k, h) in target.hops.enumerated() { XCTAssertEqual(h, fib.member(target: UInt32(t), k), "target \(t) member \(k)") }
            XCTAssertEqual(target.mode, fib.mode(target: UInt32(t)).rawValue)
        }
        XCTAssertEqual(n.routes.count, entries.count)
        for (prefix, target) in n.routes {
            switch prefix.network.address {
            case .v4(let x): XCTAssertEqual(fib.v4.lookup(x), target, "\(prefix)")
            case .v6(let x): XCTAssertEqual(fib.v6.lookup(x), target, "\(prefix)")
            }
        }
        // Entries 0...3 are the connected routes (p0 has two addresses, one target).
        XCTAssertEqual(n.routes[0].1, n.routes[1].1)
        XCTAssertEqual(n.routes[4].1, n.routes[5].1, "10.88/16 and 10.89/16 share a target")
        XCTAssertNotEqual(n.routes[4].1, n.routes[6].1, "members in another order: another target")
        XCTAssertNotEqual(n.routes[4].1, n.routes[7].1, "another mode: another target")
    }

    func testPuntNamesFollowTheProgramsSlots() {
        XCTAssertEqual(FastPathPunt.names.count, 31, "FP_PUNT_SAME_PORT is slot 30")
        var counts = [UInt64](repeating: 0, count: 32)
        counts[12] = 5
        counts[30] = 1
        XCTAssertEqual(FastPathPunt.named(counts), ["roce": 5, "same_port": 1])
    }
}

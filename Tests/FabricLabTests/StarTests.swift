import FabricConfig
import FabricCore
import FabricLab
import XCTest

/// The star of `fabric testbed up --hosts N` as a topology preset: the layout the README
/// documents (namespaces, interfaces, addresses, MACs, the configuration's path).
final class StarTests: XCTestCase {
    func testBridgedStar() throws {
        let tb = TopologyTestbed.star(prefix: "sf", hosts: 4)
        XCTAssertFalse(tb.routed)
        XCTAssertEqual(tb.switchNamespace, "sf-sw")
        XCTAssertEqual(tb.switchPorts, ["h1", "h2", "h3", "h4"])
        XCTAssertEqual((1...4).map(tb.hostNamespace), ["sf-h1", "sf-h2", "sf-h3", "sf-h4"])
        XCTAssertEqual(tb.hostInterface(3), "eth0")
        XCTAssertEqual(tb.hostAddress(3), "10.77.0.3")
        XCTAssertEqual(tb.hostMAC(3), "02:5f:00:00:00:03")
        XCTAssertEqual(tb.plan.hosts[2].addresses.map(\.description), ["10.77.0.3/24"])
        XCTAssertEqual(tb.plan.hosts[2].gateways, [], "one subnet: no default route")
        XCTAssertEqual(tb.configPath, "/run/swiftfabric/testbed-sf.yaml")
        let c = tb.switchConfig()
        XCTAssertEqual(c.mode, .bridge)
        XCTAssertEqual(c.name, "sf-sw")
        XCTAssertEqual(c.ports.map(\.name), ["h1", "h2", "h3", "h4"])
        XCTAssertEqual(try ConfigLoader.parse(SwitchConfigYAML.text(c)), c)
    }

    func testRoutedStarIsDualStack() throws {
        let tb = TopologyTestbed.star(prefix: "lab", hosts: 12, routed: true)
        XCTAssertTrue(tb.routed)
        XCTAssertEqual(tb.hostAddress(2), "10.77.2.1")
        XCTAssertEqual(tb.gatewayAddress(2), "10.77.2.254")
        XCTAssertEqual(tb.hostAddress6(2), "fd77:2::1")
        XCTAssertEqual(tb.gatewayAddress6(2), "fd77:2::fe")
        XCTAssertEqual(tb.hostAddress6(12), "fd77:c::1", "hexadecimal, as before")
        XCTAssertEqual(tb.hostMAC(12), "02:5f:00:00:00:0c")
        let c = tb.switchConfig()
        XCTAssertEqual(c.mode, .router)
        XCTAssertEqual(c.ports[1].name, "h2")
        XCTAssertEqual(c.ports[1].mac?.description, "02:5f:00:00:02:fe")
        XCTAssertEqual(c.ports[1].addresses.map(\.description), ["10.77.2.254/24", "fd77:2::fe/64"])
        XCTAssertEqual(c.routes, [], "every subnet is connected")
        XCTAssertEqual(try ConfigLoader.parse(SwitchConfigYAML.text(c)), c)
        XCTAssertTrue(tb.summary.contains("lab-h2: eth0 10.77.2.1/24 fd77:2::1/64 02:5f:00:00:00:02 via 10.77.2.254, fd77:2::fe"), tb.summary)
    }

    func testBadPrefixAndHostCountAreRefused() {
        XCTAssertThrowsError(try TopologyTestbed.star(prefix: "much-too-long").validate()) { XCTAssertTrue("\($0)".contains("must be 1-8 letters")) }
        XCTAssertThrowsError(try TopologyTestbed.star(prefix: "a b").validate())
        XCTAssertThrowsError(try TopologyTestbed.star(prefix: "x", hosts: 251).validate()) { XCTAssertTrue("\($0)".contains("at most 250 hosts"), "\($0)") }
        XCTAssertNoThrow(try TopologyTestbed.star(prefix: "x", hosts: 250, routed: true).validate())
    }
}

import FabricConfig
import FabricCore
import FabricPacket
import XCTest

/// The per-port `pfc_enable` key: the priorities whose PFC a port honours.
final class PFCEnableConfigTests: XCTestCase {
    let base = "switch: {mode: bridge}\nports:\n"

    func testAbsentMeansTheLosslessTCsAndAListOrNoneIsKept() throws {
        let c = try ConfigLoader.parse(base + "  - name: h1\n  - {name: h2, pfc_enable: [3, 4]}\n  - {name: h3, pfc_enable: []}\n"
                                       + "qos: {profile: sonic-azure}\n", file: "t.yaml")
        XCTAssertEqual(c.ports.map(\.pfcEnable), [nil, 1 << 3 | 1 << 4, 0])
        XCTAssertEqual(c.pfcEnabled(port: 0), 1 << 3 | 1 << 4, "sonic-azure's lossless TC3 and TC4")
        XCTAssertEqual(c.pfcEnabled(port: 2), 0)
        let nvidia = try ConfigLoader.parse(base + "  - name: h1\n", file: "t.yaml")
        XCTAssertEqual(nvidia.pfcEnabled(port: 0), 1 << 3)
    }

    func testOutOfRangeOrNotAListIsRejectedWithItsPlace() {
        for (value, expected) in [("[8]", "t.yaml:4: ports[0].pfc_enable[0]: 8 is out of range 0...7"),
                                  ("3", "ports[0].pfc_enable: expected a list")] {
            do {
                _ = try ConfigLoader.parse(base + "  - name: h1\n    pfc_enable: \(value)\n", file: "t.yaml")
                XCTFail("accepted pfc_enable: \(value)")
            } catch {
                XCTAssertTrue("\(error)".contains(expected), "\(error)")
            }
        }
    }

    func testTheWriterWritesItAndReadsItBack() throws {
        var c = SwitchConfig(name: "sw", mode: .bridge, ports: [PortConfig(name: "h1"), PortConfig(name: "h2", pfcEnable: 1 << 3 | 1 << 5),
                                                               PortConfig(name: "h3", pfcEnable: 0)])
        c.pfcWatchdog.action = .forward
        let text = SwitchConfigYAML.text(c)
        XCTAssertTrue(text.contains("  - name: h2\n    pfc_enable: [3, 5]\n"), text)
        XCTAssertTrue(text.contains("  - name: h3\n    pfc_enable: []\n"), text)
        XCTAssertEqual(try ConfigLoader.parse(text, file: "emitted.yaml"), c)
        for action in PFCWatchdogConfig.Action.allCases {
            c.pfcWatchdog.action = action
            XCTAssertEqual(try ConfigLoader.parse(SwitchConfigYAML.text(c), file: "emitted.yaml").pfcWatchdog.action, action)
        }
    }
}

import FabricCore
import FabricPacket
import FabricTestSupport
import XCTest
@testable import FabricIO

/// A renamed interface is the same device: the switch follows it and takes nothing back from
/// the kernel (the real check, by ifindex, runs end to end in HardeningIntegrationTests).
final class RenamedPortTests: XCTestCase {
    func testRenamedPortStaysInServiceAndKeepsItsKernelFrames() throws {
        var sw = try embeddedSwitch(ports: 2, frameCount: 512)
        let kernel = sw.io.kernel
        _ = sw.iterate(now: 1_000)
        let held = kernel.held(port: 1)
        XCTAssertGreaterThan(held, 0)
        kernel.ports[1].renamedTo = "e1-renamed"
        sw.checkPorts()
        XCTAssertTrue(sw.dp.isInService(1))
        XCTAssertEqual(sw.currentNames, ["e0", "e1-renamed"])
        XCTAssertEqual(sw.names, ["e0", "e1"], "reports keep the configured name")
        XCTAssertEqual(kernel.held(port: 1), held, "nothing taken back from the kernel")
        kernel.deliver(Frames.ethernet(dst: 0xFFFF_FFFF_FFFF, src: 0x02_00_00_00_00_0A, length: 64), port: 0)
        _ = sw.iterate(now: 2_000)
        XCTAssertEqual(kernel.ports[1].wire.count, 1, "still forwarding to the renamed port")
        XCTAssertTrue(sw.shutdown().ledger.balances)
    }
}

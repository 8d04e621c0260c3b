import FabricPacket
import XCTest
@testable import FabricCore

/// The limits the configuration loader enforces hold for the tables and frames they describe.
final class ConfigLimitsTests: XCTestCase {
    /// As many static neighbours as a configuration may give: the router's table (as `Router`
    /// builds it) keeps every one.
    func testStaticNeighbourLimitsFitTheTable() {
        var t = NeighbourTable()
        let mac = MACAddress(rawValue: 0x02_00_00_00_00_01)
        let base4: UInt32 = 0x0A50_0000
        func v6(_ i: Int) -> IPv6Address { IPv6Address(high: 0xFD80_0000_0000_0000, low: UInt64(i)) }
        for i in 1...SwitchConfig.maxStaticNeighboursV4 { t.addStatic(base4 + UInt32(i), mac: mac) }
        for i in 1...SwitchConfig.maxStaticNeighboursV6 { t.addStatic(v6(i), mac: mac) }
        for i in 1...SwitchConfig.maxStaticNeighboursV4 { XCTAssertNotNil(t.lookup(base4 + UInt32(i), now: 0), "static 10.80.x.x #\(i)") }
        for i in 1...SwitchConfig.maxStaticNeighboursV6 { XCTAssertNotNil(t.lookup(v6(i), now: 0), "static fd80::\(i)") }
    }

    /// The largest single-frame MTU's frame, at the receive headroom, ends exactly at the end of
    /// its frame; the largest MTU's frames fit the longest chain the switch carries.
    func testLargestMTUFillsOneFrame() {
        for size in [2048, 4096] {
            var b = BufferConfig()
            b.mtu = BufferConfig.singleFrameMTU(frameSize: size)
            XCTAssertEqual(FramePool.rxHeadroom + b.maxFrameBytes, size)
        }
        XCTAssertEqual(BufferConfig.singleFrameMTU(), 3822)
        var b = BufferConfig()
        b.mtu = BufferConfig.largestMTU
        XCTAssertEqual(b.maxFrameBytes, 9518)
        XCTAssertLessThanOrEqual(b.maxFrameBytes, FramePool.largestPacket)
    }
}

import FabricConfig
import XCTest

/// The one set of unit rules (Units.swift): sizes, durations, line rates.
final class UnitsTests: XCTestCase {
    func error(_ body: () throws -> Any) -> String {
        do { return "accepted \(try body())" } catch { return "\(error)" }
    }

    func testSizes() throws {
        XCTAssertEqual(try Units.bytes("4096"), 4096)
        XCTAssertEqual(try Units.bytes("150KB"), 150 * 1024)
        XCTAssertEqual(try Units.bytes("150k"), 150 * 1024)
        XCTAssertEqual(try Units.bytes("1.5MB"), 1536 * 1024)
        XCTAssertEqual(try Units.bytes("64kb"), 65536)
        XCTAssertEqual(try Units.bytes("1G"), 1 << 30)
        XCTAssertEqual(try Units.bytes("0"), 0)
        XCTAssertEqual(error { try Units.bytes("lots") }, "expected a size like 150KB or 1.5MB, got 'lots'")
        XCTAssertEqual(error { try Units.bytes("0.1KB") }, "'0.1KB' is not a whole number of bytes")
        for bad in ["-1KB", "nanKB", "infMB", "0x10", "1TB", "", "KB", "1.5.5MB"] {
            XCTAssertTrue(error { try Units.bytes(bad) }.hasPrefix("expected a size"), bad)
        }
    }

    func testDurations() throws {
        XCTAssertEqual(try Units.nanoseconds("256us"), 256_000)
        XCTAssertEqual(try Units.nanoseconds("256µs"), 256_000)
        XCTAssertEqual(try Units.nanoseconds("1.5ms"), 1_500_000)
        XCTAssertEqual(try Units.nanoseconds("2s"), 2_000_000_000)
        XCTAssertEqual(try Units.nanoseconds("2S"), 2_000_000_000, "case-insensitive")
        XCTAssertEqual(try Units.nanoseconds("500ns"), 500)
        XCTAssertEqual(try Units.nanoseconds("2m"), 120_000_000_000, "m is minutes; ms is matched first")
        XCTAssertEqual(try Units.nanoseconds("50", bare: .microseconds), 50_000)
        XCTAssertEqual(try Units.seconds("5"), 5, "the command line's bare unit is seconds")
        XCTAssertEqual(try Units.seconds("500ms"), 0.5)
        XCTAssertEqual(error { try Units.nanoseconds("50") }, "expected a duration like 256us, 1.5ms or 2s, got '50'", "no bare unit given: a unit is required")
        for bad in ["-1s", "nans", "infs", "fast", "1h", "s"] {
            XCTAssertTrue(error { try Units.nanoseconds(bad, bare: .seconds) }.hasPrefix("expected a duration"), bad)
        }
    }

    func testLineRates() throws {
        XCTAssertEqual(try Units.gbps("10G"), 10)
        XCTAssertEqual(try Units.gbps("800M"), 0.8)
        XCTAssertEqual(try Units.gbps("1.5g"), 1.5)
        XCTAssertEqual(try Units.gbps("1M"), 0.001, "the slowest")
        XCTAssertEqual(try Units.gbps("800G"), 800, "the fastest")
        XCTAssertEqual(error { try Units.gbps("1e-15G") }, "'1e-15G' is below the slowest line rate, 1M")
        XCTAssertEqual(error { try Units.gbps("0M") }, "'0M' is below the slowest line rate, 1M")
        XCTAssertEqual(error { try Units.gbps("900G") }, "'900G' is faster than 800G")
        for bad in ["-1G", "nanG", "infG", "10", "10Gbps", "fast", "G"] {
            XCTAssertTrue(error { try Units.gbps(bad) }.hasPrefix("expected a line rate like 10G or 800M"), bad)
        }
    }

    /// What the emitters write reads back to the same value.
    func testWrittenUnitsReadBack() throws {
        for b in [0, 1, 1000, 1024, 150 * 1024, 1536 * 1024, 8 << 20, 3 << 30, 123_457] {
            XCTAssertEqual(try Units.bytes(Units.text(bytes: b)), b, Units.text(bytes: b))
        }
        XCTAssertEqual(Units.text(bytes: 150 * 1024), "150KB")
        for ns: UInt64 in [1, 999, 1_000, 256_000, 1_500_000, 200_000_000, 2_000_000_000, 60_000_000_000] {
            XCTAssertEqual(try Units.nanoseconds(Units.text(nanoseconds: ns)), ns, Units.text(nanoseconds: ns))
        }
        XCTAssertEqual(Units.text(nanoseconds: 256_000), "256us")
        for g in [0.001, 0.1, 0.2, 0.5, 1, 1.5, 2.5, 10, 25, 100, 800, 0.0015, 1.0 / 3] {
            XCTAssertEqual(try Units.gbps(Units.text(gbps: g)), g, Units.text(gbps: g))
        }
        XCTAssertEqual(Units.text(gbps: 0.2), "200M")
        XCTAssertEqual(Units.text(gbps: 10), "10G")
    }

    func testPercentages() throws {
        XCTAssertEqual(try Units.percent("0.1%"), 0.1)
        XCTAssertEqual(try Units.percent("100%"), 100)
        XCTAssertEqual(try Units.percent("0%"), 0)
        for bad in ["0.1", "%", "-1%", "101%", "inf%", "0x1%", "1 %"] { XCTAssertThrowsError(try Units.percent(bad), bad) }
        for v in [0.1, 5, 0.001, 33.3, 100] { XCTAssertEqual(try Units.percent(Units.text(percent: v)), v) }
        XCTAssertEqual(Units.text(percent: 5), "5%")
    }
}

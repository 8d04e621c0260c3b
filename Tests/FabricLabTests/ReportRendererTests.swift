import Foundation
import XCTest
@testable import FabricLab

/// The report's plots: axis ticks at round values (a 1-2-5 step, every tick a whole multiple
/// of it), linear axes from 0, decades on a log axis, a unit on every axis label. Checked on
/// the SVG text itself, as a reader of the file would find it.
final class ReportRendererTests: XCTestCase {
    struct Axes {
        var x: [Double] = [], y: [Double] = [], xLabel = "", yLabel = ""
    }

    /// The tick values (`data-value` of `class="tick-x|tick-y"` texts) and axis labels of an SVG.
    func axes(_ svg: String) throws -> Axes {
        var a = Axes()
        let tick = try NSRegularExpression(pattern: #"<text class="tick-([xy])" data-value="([^"]+)"[^>]*>([^<]*)</text>"#)
        for m in tick.matches(in: svg, range: NSRange(svg.startIndex..., in: svg)) {
            let axis = String(svg[Range(m.range(at: 1), in: svg)!])
            let value = try XCTUnwrap(Double(svg[Range(m.range(at: 2), in: svg)!]))
            if axis == "x" { a.x.append(value) } else { a.y.append(value) }
        }
        let label = try NSRegularExpression(pattern: #"<text class="label-([xy])"[^>]*>([^<]*)</text>"#)
        for m in label.matches(in: svg, range: NSRange(svg.startIndex..., in: svg)) {
            let text = String(svg[Range(m.range(at: 2), in: svg)!])
            if svg[Range(m.range(at: 1), in: svg)!] == "x" { a.xLabel = text } else { a.yLabel = text }
        }
        return a
    }

    /// A linear axis's ticks: from 0, evenly spaced by 1, 2 or 5 times a power of ten, each a
    /// whole multiple of that step, covering `maximum`.
    func assertRound(_ ticks: [Double], covering maximum: Double, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertGreaterThanOrEqual(ticks.count, 3, "\(what): ticks \(ticks)", file: file, line: line)
        guard ticks.count >= 2 else { return }
        XCTAssertEqual(ticks.first, 0, "\(what) starts at 0: \(ticks)", file: file, line: line)
        XCTAssertGreaterThanOrEqual(ticks.last!, maximum, "\(what) covers the data: \(ticks)", file: file, line: line)
        let step = ticks[1] - ticks[0]
        let mantissa = step / pow(10, floor(log10(step)))
        XCTAssertTrue([1.0, 2, 5].contains { abs($0 - mantissa) < 1e-6 }, "\(what): step \(step) is not 1, 2 or 5 x 10^k", file: file, line: line)
        for (i, t) in ticks.enumerated() {
            XCTAssertEqual(t, Double(i) * step, accuracy: step * 1e-6, "\(what): tick \(t) off the step \(step)", file: file, line: line)
            let k = t / step
            XCTAssertEqual(k, k.rounded(), accuracy: 1e-6, "\(what): tick \(t) is not a whole multiple of \(step)", file: file, line: line)
        }
    }

    func testLinearAxesHaveRoundTicksFromZeroAndUnits() throws {
        // Awkward data: time from 0.37 ms to 731.9 ms, depths up to 913.7 KiB.
        let points = stride(from: 0.37, through: 731.9, by: 3.7).map { ($0, 913.7 * abs(sin($0 / 90))) }
        let svg = ReportRenderer.chart(title: "t", xLabel: "time since the first sample (ms)", yLabel: "queue depth (KiB)",
                                       series: [("h2 q3", points)], bands: [("h2 paused", [(100.1, 233.3)])])
        let a = try axes(svg)
        assertRound(a.x, covering: points.map(\.0).max()!, "time axis")
        assertRound(a.y, covering: points.map(\.1).max()!, "depth axis")
        XCTAssertTrue(a.xLabel.contains("(ms)") && a.yLabel.contains("(KiB)"), "units on both axes: \(a.xLabel) / \(a.yLabel)")
    }

    func testSmallAndLargeRangesStayRound() throws {
        for (xMax, yMax) in [(0.0173, 0.0041), (7.3, 1.0), (48_213.0, 3_874_112.0), (1.0, 999.0), (0.0, 0.0)] {
            let svg = ReportRenderer.chart(title: "t", xLabel: "time (ms)", yLabel: "load (Mb/s)",
                                           series: [("a", [(0, 0), (xMax, yMax)])])
            let a = try axes(svg)
            assertRound(a.x, covering: xMax, "x up to \(xMax)")
            assertRound(a.y, covering: yMax, "y up to \(yMax)")
        }
    }

    func testFractionAxisAndLogAxis() throws {
        // The residence CDF: microseconds on a log axis (decades from 1), fraction 0...1 in 0.2 steps.
        let svg = ReportRenderer.chart(title: "cdf", xLabel: "time (us, log scale)", yLabel: "fraction of frames (0 to 1)",
                                       series: [("h2 q3", [(1, 0.1), (37, 0.5), (4_115, 1)])], logX: true, yMax: 1)
        let a = try axes(svg)
        XCTAssertEqual(a.x, [1, 10, 100, 1_000, 10_000], "decades covering 4115 us")
        XCTAssertEqual(a.y, [0, 0.2, 0.4, 0.6, 0.8, 1.0])
        XCTAssertTrue(svg.contains(">0.2</text>") && svg.contains(">10k</text>"), "labels print the round values")
        XCTAssertTrue(a.xLabel.contains("(us") && a.yLabel.contains("(0 to 1)"))
    }
}

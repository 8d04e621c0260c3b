import FabricTelemetry
import Foundation

/// `fabric report`: a record file (`fabric switch --record`) drawn as SVG plots and a one-page
/// HTML summary (plus the same summary in Markdown): queue depth and pause intervals over time,
/// port load over time, residence-time CDF per egress queue.
public enum ReportRenderer {
    public struct Output: Sendable {
        public var directory: String
        public var files: [String]
    }

    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"]

    /// Tick positions for a linear axis from `low` to at least `high`: a step of 1, 2 or 5 times
    /// a power of ten giving at most `count` intervals, the axis widened to whole steps.
    static func niceTicks(from low: Double, to high: Double, count: Int = 6) -> (step: Double, ticks: [Double]) {
        let high = high > low ? high : low + 1
        let span = high - low
        let raw = span / Double(count)
        let magnitude = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw * (1 - 1e-9) } ?? 10 * magnitude
        let first = floor(low / step + 1e-9), last = ceil(high / step - 1e-9)
        // Each tick as an integer times the step, rounded to the step's decimals (no 0.30000000000000004).
        let decimals = max(0, -Int(floor(log10(step))))
        let scale = pow(10, Double(decimals))
        let ticks = stride(from: first, through: max(last, first + 1), by: 1).map { ($0 * step * scale).rounded() / scale }
        return (step, ticks)
    }

    /// A tick label: the round value as it is, in k or M above 10,000.
    static func tickLabel(_ v: Double) -> String {
        let a = abs(v)
        if a >= 1e6 { return String(format: "%gM", v / 1e6) }
        if a >= 1e4 { return String(format: "%gk", v / 1e3) }
        return String(format: "%g", v)
    }

    /// A line chart: series of (x, y) points, optional shaded x-intervals per series colour.
    /// Both axes start at 0 (time axes count from the first sample; `logX` starts at 1) and carry
    /// ticks at round values: steps of 1, 2 or 5 times a power of ten on a linear axis, decades
    /// on a log one. The labels name the unit of each axis. Tick labels carry
    /// `class="tick-x"`/`"tick-y"` and their value in `data-value`.
    static func chart(title: String, xLabel: String, yLabel: String, series: [(name: String, points: [(Double, Double)])],
                      bands: [(name: String, intervals: [(Double, Double)])] = [], logX: Bool = false, yMax fixedYMax: Double? = nil) -> String {
        let w = 960.0, h = 360.0, left = 70.0, right = 180.0, top = 40.0, bottom = 50.0
        let pw = w - left - right, ph = h - top - bottom
        let xs = series.flatMap { $0.points.map(\.0) } + bands.flatMap { $0.intervals.flatMap { [$0.0, $0.1] } }
        let xTicks: [Double]
        if logX {
            let decades = max(1, Int(ceil(log10(max(xs.max() ?? 10, 10)) - 1e-9)))
            xTicks = (0...decades).map { pow(10, Double($0)) }
        } else {
            xTicks = niceTicks(from: 0, to: max(xs.max() ?? 1, 0)).ticks
        }
        let yTicks = niceTicks(from: 0, to: fixedYMax ?? max(series.flatMap { $0.points.map(\.1) }.max() ?? 1, 0), count: 5).ticks
        let tx: (Double) -> Double = logX ? { log10(max($0, 1)) } : { $0 }
        let xMin = tx(xTicks.first!), xMax = tx(xTicks.last!)
        let yMax = yTicks.last!
        func X(_ x: Double) -> Double { left + (tx(x) - xMin) / (xMax - xMin) * pw }
        func Y(_ y: Double) -> Double { top + ph - y / yMax * ph }
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(w))\" height=\"\(Int(h))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"\(left)\" y=\"22\" font-size=\"15\" font-weight=\"bold\">\(title)</text>\n"
        for (i, b) in bands.enumerated() {
            let c = palette[i % palette.count]
            for (a, z) in b.intervals { s += "<rect x=\"\(X(a))\" y=\"\(top)\" width=\"\(max(1, X(z) - X(a)))\" height=\"\(ph)\" fill=\"\(c)\" fill-opacity=\"0.12\"/>\n" }
        }
        // Axes and ticks.
        s += "<line x1=\"\(left)\" y1=\"\(top + ph)\" x2=\"\(left + pw)\" y2=\"\(top + ph)\" stroke=\"black\"/>\n<line x1=\"\(left)\" y1=\"\(top)\" x2=\"\(left)\" y2=\"\(top + ph)\" stroke=\"black\"/>\n"
        for yv in yTicks {
            s += "<line x1=\"\(left - 4)\" y1=\"\(Y(yv))\" x2=\"\(left + pw)\" y2=\"\(Y(yv))\" stroke=\"#ddd\"/>"
                + "<text class=\"tick-y\" data-value=\"\(yv)\" x=\"\(left - 8)\" y=\"\(Y(yv) + 4)\" text-anchor=\"end\">\(tickLabel(yv))</text>\n"
        }
        for xv in xTicks {
            s += "<line x1=\"\(X(xv))\" y1=\"\(top + ph)\" x2=\"\(X(xv))\" y2=\"\(top + ph + 4)\" stroke=\"black\"/>"
                + "<text class=\"tick-x\" data-value=\"\(xv)\" x=\"\(X(xv))\" y=\"\(top + ph + 18)\" text-anchor=\"middle\">\(tickLabel(xv))</text>\n"
        }
        s += "<text class=\"label-x\" x=\"\(left + pw / 2)\" y=\"\(h - 10)\" text-anchor=\"middle\">\(xLabel)</text>\n"
        s += "<text class=\"label-y\" x=\"16\" y=\"\(top + ph / 2)\" text-anchor=\"middle\" transform=\"rotate(-90 16 \(top + ph / 2))\">\(yLabel)</text>\n"
        for (i, sr) in series.enumerated() where !sr.points.isEmpty {
            let c = palette[i % palette.count]
            let pts = sr.points.map { String(format: "%.1f,%.1f", X($0.0), Y(min($0.1, yMax))) }.joined(separator: " ")
            s += "<polyline fill=\"none\" stroke=\"\(c)\" stroke-width=\"1.5\" points=\"\(pts)\"/>\n"
            s += "<rect x=\"\(left + pw + 15)\" y=\"\(top + Double(i) * 18)\" width=\"12\" height=\"12\" fill=\"\(c)\"/><text x=\"\(left + pw + 32)\" y=\"\(top + Double(i) * 18 + 11)\">\(sr.name)</text>\n"
        }
        for (i, b) in bands.enumerated() where !b.intervals.isEmpty {
            let y = top + Double(series.count + i) * 18 + 6
            s += "<rect x=\"\(left + pw + 15)\" y=\"\(y)\" width=\"12\" height=\"12\" fill=\"\(palette[i % palette.count])\" fill-opacity=\"0.3\"/><text x=\"\(left + pw + 32)\" y=\"\(y + 11)\">\(b.name)</text>\n"
        }
        return s + "</svg>\n"
    }

    /// At most `n` points: the maximum of each run (peaks survive the thinning).
    static func thin(_ xs: [Double], _ ys: [Double], to n: Int = 1500) -> [(Double, Double)] {
        guard xs.count > n else { return Array(zip(xs, ys)) }
        let step = Double(xs.count) / Double(n)
        return (0..<n).map { k in
            let a = Int(Double(k) * step), b = min(xs.count, Int(Double(k + 1) * step))
            let i = (a..<b).max { ys[$0] < ys[$1] } ?? a
            return (xs[i], ys[i])
        }
    }

    public static func render(record file: String, into dir: String) throws -> Output {
        let r = try Recording(file: file).closingGaps()
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var files: [String] = []
        let ports = r.header.ports
        let ms = r.times.map { $0 / 1000 }

        // 1. Queue depth per (port, queue) that ever held anything, pause intervals shaded.
        var depthSeries: [(String, [(Double, Double)])] = []
        var bands: [(String, [(Double, Double)])] = []
        for (p, name) in ports.enumerated() {
            for q in 0..<8 where (r.depths[p][q].max() ?? 0) > 0 {
                depthSeries.append(("\(name) q\(q)", thin(ms, r.depths[p][q].map { $0 / 1024 })))
            }
            var intervals: [(Double, Double)] = []
            var start: Double?
            for (i, m) in r.paused[p].enumerated() {
                if m != 0 && start == nil { start = ms[i] }
                if m == 0, let s0 = start { intervals.append((s0, ms[i])); start = nil }
            }
            if let s0 = start, let end = ms.last { intervals.append((s0, end)) }
            if !intervals.isEmpty { bands.append(("\(name) paused", intervals)) }
        }
        let depthSVG = chart(title: "Egress queue depth (shaded: PFC pause intervals)", xLabel: "time since the first sample (ms)", yLabel: "queue depth (KiB)",
                             series: depthSeries, bands: bands)
        try depthSVG.write(toFile: dir + "/queue-depth.svg", atomically: true, encoding: .utf8)
        files.append("queue-depth.svg")

        // 2. Port load: transmitted Mb/s over 1 ms windows (or the sample interval if longer).
        let window = max(1000.0, Double(r.header.intervalMicroseconds))
        var loadSeries: [(String, [(Double, Double)])] = []
        for (p, name) in ports.enumerated() where (r.txBytes[p].last ?? 0) > (r.txBytes[p].first ?? 0) {
            var pts: [(Double, Double)] = []
            var i0 = 0
            for i in 1..<r.times.count where r.times[i] - r.times[i0] >= window {
                pts.append((ms[i], (r.txBytes[p][i] - r.txBytes[p][i0]) * 8 / (r.times[i] - r.times[i0])))   // bits/us = Mb/s
                i0 = i
            }
            let speed: String = r.header.speedsGbps[p].map { " (\(Int($0 * 1000)) Mb/s)" } ?? ""
            let xs: [Double] = pts.map { $0.0 }, ys: [Double] = pts.map { $0.1 }
            loadSeries.append((name + speed, thin(xs, ys)))
        }
        try chart(title: "Port load over time (transmitted)", xLabel: "time since the first sample (ms)", yLabel: "transmitted (Mb/s)", series: loadSeries)
            .write(toFile: dir + "/port-load.svg", atomically: true, encoding: .utf8)
        files.append("port-load.svg")

        // 3. Residence-time CDF per egress queue with samples, and each port's rx-ring wait.
        var cdfSeries: [(String, [(Double, Double)])] = []
        func cdf(_ label: String, _ flat: [UInt64]) {
            guard flat.count >= 2 else { return }
            let pairs = stride(from: 0, to: flat.count - 1, by: 2).map { (Double(flat[$0]), Double(flat[$0 + 1])) }
            let total = pairs.reduce(0) { $0 + $1.1 }
            var acc = 0.0
            cdfSeries.append((label, pairs.map { acc += $0.1; return (max($0.0, 1), acc / total) }))
        }
        if let t = r.trailer {
            for (p, name) in ports.enumerated() where p < t.residence.count {
                for q in 0..<t.residence[p].count { cdf("\(name) q\(q)", t.residence[p][q]) }
            }
            for (p, name) in ports.enumerated() where p < (t.ringWait?.count ?? 0) { cdf("\(name) rx-ring wait", t.ringWait![p]) }
        }
        try chart(title: "Switch residence time per egress queue, and rx-ring wait per port (CDF)", xLabel: "time (us, log scale)", yLabel: "fraction of frames (0 to 1)",
                  series: cdfSeries, logX: true, yMax: 1)
            .write(toFile: dir + "/residence-cdf.svg", atomically: true, encoding: .utf8)
        files.append("residence-cdf.svg")

        // 4. The one-page summary.
        let md = summary(r)
        try md.write(toFile: dir + "/report.md", atomically: true, encoding: .utf8)
        files.append("report.md")
        var html = "<!doctype html><html><head><meta charset=\"utf-8\"><title>SwiftFabric report: \(r.header.switchName)</title>"
        html += "<style>body{font-family:sans-serif;max-width:1000px;margin:2em auto}pre{background:#f6f6f6;padding:1em;overflow-x:auto}</style></head><body>\n"
        html += "<pre>" + md.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;") + "</pre>\n"
        for f in ["queue-depth.svg", "port-load.svg", "residence-cdf.svg"] { html += "<p><img src=\"\(f)\" alt=\"\(f)\"></p>\n" }
        html += "</body></html>\n"
        try html.write(toFile: dir + "/index.html", atomically: true, encoding: .utf8)
        files.append("index.html")
        return Output(directory: dir, files: files)
    }

    static func summary(_ r: Recording) -> String {
        summaryText(r)
    }

    static func summaryText(_ r: Recording) -> String {
        let duration = (r.times.last ?? 0) / 1e6
        var s = "# SwiftFabric report: switch '\(r.header.switchName)'\n\n"
        s += "Recorded \(r.times.count) samples every \(r.header.intervalMicroseconds) us over \(String(format: "%.3f", duration)) s"
        s += ", started \(Date(timeIntervalSince1970: r.header.startedAtUnixSeconds)).\n\n"
        if let limit = r.trailer?.limitBytes {
            s += "Recording stopped when the file reached its limit (\(limit >> 20) MB, --record-limit); the switch ran on, and the final counters below are from its exit.\n\n"
        }
        guard let f = r.trailer?.final else { return s + "(no final snapshot: the switch did not stop cleanly)\n" }
        s += "| port | rx frames | tx frames | drops | PFC rx | PFC tx | peak queue KB | paused ms |\n|---|---|---|---|---|---|---|---|\n"
        for (p, port) in f.ports.enumerated() {
            let peak = (0..<8).map { r.depths[p][$0].max() ?? 0 }.max() ?? 0
            let pausedSamples = r.paused[p].filter { $0 != 0 }.count
            s += "| \(port.name) | \(port.rxFrames) | \(port.txFrames) | \(port.dropsTotal + port.socket.frames) | \(port.pfcRx.reduce(0, +)) | "
                + "\(port.pfcTx.reduce(0, +)) | \(String(format: "%.1f", peak / 1024)) | \(String(format: "%.1f", Double(pausedSamples * r.header.intervalMicroseconds) / 1000)) |\n"
        }
        let stamped = f.ports.contains { $0.ringWait != nil }
        s += "\nResidence time per egress queue (us), " + (stamped ? "from the XDP stamp (arrival) to transmit; \"in ring\": of the mean, the time in the rx ring"
                                                                   : "from the worker's receive to transmit") + ":\n\n"
        s += "| port | queue | frames | mean | p50 | p99 | p99.9 | max |" + (stamped ? " in ring |\n|---|---|---|---|---|---|---|---|---|\n" : "\n|---|---|---|---|---|---|---|---|\n")
        for port in f.ports {
            for q in port.queues where q.residence.count > 0 {
                let x = q.residence
                s += "| \(port.name) | \(q.queue) | \(x.count) | \(String(format: "%.1f", x.meanMicroseconds)) | \(x.p50) | \(x.p99) | \(x.p999) | \(x.max) |"
                    + (stamped ? " \(String(format: "%.1f", x.ringMeanMicroseconds)) |\n" : "\n")
            }
        }
        if stamped {
            s += "\nRx-ring wait per ingress port (us), XDP stamp to the worker's receive:\n\n| port | frames | mean | p50 | p99 | p99.9 | max |\n|---|---|---|---|---|---|---|\n"
            for port in f.ports {
                guard let w = port.ringWait else { continue }
                s += "| \(port.name) | \(w.count) | \(String(format: "%.1f", w.meanMicroseconds)) | \(w.p50) | \(w.p99) | \(w.p999) | \(w.max) |\n"
            }
        }
        let storms = (r.storms.last ?? 0) - (r.storms.first ?? 0)
        let changes = (r.pathChanges.last ?? 0) - (r.pathChanges.first ?? 0)
        s += "\nEvents: \(Int(storms)) PFC storms declared, \(Int(changes)) flowlet path changes, "
        s += "\(f.ports.reduce(0) { $0 + $1.pfcTx.reduce(0, +) }) PFC frames sent, \(f.ports.reduce(0) { $0 + $1.pfcRx.reduce(0, +) }) received.\n"
        s += "\nPlots: queue-depth.svg (queue depth, pause intervals shaded), port-load.svg, residence-cdf.svg.\n"
        return s
    }
}

extension Recording {
    /// The worker samples only while awake, and sleeps only when every queue is empty: a gap
    /// between samples is a stretch of empty queues. Closes each with a sample of empty queues
    /// one interval after the last, so plots step down instead of ramping across the gap.
    func closingGaps() -> Recording {
        var out = self
        let step = Double(header.intervalMicroseconds)
        out.times = []
        for p in 0..<header.ports.count {
            out.depths[p] = Array(repeating: [], count: 8)
            out.txBytes[p] = []
            out.paused[p] = []
        }
        for i in times.indices {
            if i > 0 && times[i] - times[i - 1] > 2 * step {
                out.times.append(times[i - 1] + step)
                for p in 0..<header.ports.count {
                    for q in 0..<8 { out.depths[p][q].append(0) }
                    out.txBytes[p].append(txBytes[p][i - 1])
                    out.paused[p].append(0)
                }
            }
            out.times.append(times[i])
            for p in 0..<header.ports.count {
                for q in 0..<8 { out.depths[p][q].append(depths[p][q][i]) }
                out.txBytes[p].append(txBytes[p][i])
                out.paused[p].append(paused[p][i])
            }
        }
        return out
    }
}

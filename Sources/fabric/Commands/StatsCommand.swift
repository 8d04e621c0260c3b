import ArgumentParser
import FabricTelemetry
import Foundation

/// `fabric stats`: a running switch's counters through its control socket, as tables shaped
/// like SONiC's show commands, or JSON.
struct StatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Show a running switch's counters (from its control socket).",
        discussion: """
            Views: ports (like `show interfaces counters`), queues (`show queue counters`), pfc (`show pfc counters`), \
            pfcwd (`show pfcwd stats`), watermarks (`watermarkstat`: PG and queue peaks, headroom, shared pool), \
            flowlets (load balancing), latency (switch residence time per egress queue), depth (queue depth over the \
            last second of samples, every 100 us), clear (count from now on: \
            later views show differences, like sonic-clear). Switches: /run/swiftfabric/switch-NAME/control.sock.
            """)

    enum View: String, ExpressibleByArgument, CaseIterable {
        case ports, queues, pfc, pfcwd, watermarks, flowlets, latency, depth, clear
    }

    @Argument(help: "What to show: \(View.allCases.map(\.rawValue).joined(separator: ", ")).") var view: View = .ports
    @Option(help: "The switch's name (default: the only one running).") var `switch`: String?
    @Flag(help: "The switch's whole snapshot as JSON (differences since `clear` where counters).") var json = false
    @Flag(help: "Repeat every --interval seconds until interrupted.") var watch = false
    @Option(help: "Seconds between --watch refreshes (0.1...3600).") var interval: Double = 1

    func validate() throws {
        guard (0.1...3600).contains(interval) else { throw ValidationError("--interval must be 0.1...3600 seconds, got \(interval)") }
    }

    func run() throws {
        let name = try resolveName()
        if view == .clear {
            let now = try ControlClient.request(path: ControlServer.directory(name: name) + "/control.sock", "snapshot")
            try now.write(to: URL(fileURLWithPath: StatsBaseline.path(name)))
            print("switch '\(name)': counters cleared (views now count from here; the switch's own counters are untouched)")
            return
        }
        repeat {
            if view == .depth {
                let raw = try ControlClient.request(path: ControlServer.directory(name: name) + "/control.sock", "depth")
                if json {
                    print(String(decoding: raw, as: UTF8.self))
                } else {
                    let series: DepthSeries
                    do { series = try JSONDecoder().decode(DepthSeries.self, from: raw) } catch {
                        throw ValidationError("switch '\(name)': \(String(decoding: raw.prefix(300), as: UTF8.self))")
                    }
                    if watch { print("\u{1B}[2J\u{1B}[H", terminator: "") }
                    print("switch '\(name)'\n\n" + StatsTables.depth(series), terminator: "")
                }
                fflush(nil)
                if watch { usleep(UInt32(interval * 1e6)) }
                continue
            }
            let raw = try ControlClient.request(path: ControlServer.directory(name: name) + "/control.sock", "snapshot")
            let data = StatsBaseline.subtract(raw, name: name)
            if json {
                print(String(decoding: data, as: UTF8.self))
            } else {
                let r: SwitchReport
                do { r = try JSONDecoder().decode(SwitchReport.self, from: data) } catch {
                    throw ValidationError("switch '\(name)': \(String(decoding: raw.prefix(300), as: UTF8.self))")
                }
                if watch { print("\u{1B}[2J\u{1B}[H", terminator: "") }
                print(StatsTables.render(view, r, name: name, cleared: StatsBaseline.exists(name)), terminator: "")
            }
            fflush(nil)
            if watch { usleep(UInt32(interval * 1e6)) }
        } while watch
    }

    func resolveName() throws -> String {
        if let s = self.switch { return s }
        let all = ControlClient.switches()
        guard all.count == 1 else {
            throw ValidationError(all.isEmpty ? "no running switch has a control socket under \(ControlServer.root)"
                                              : "several switches are running; name one with --switch: \(all.joined(separator: ", "))")
        }
        return all[0]
    }
}

/// `fabric stats clear`: a saved snapshot that later views subtract (the switch's counters are
/// never reset: other readers, the stats file and Prometheus, keep their monotonic view).
enum StatsBaseline {
    static func path(_ name: String) -> String { "\(ControlServer.root)/stats-baseline-\(name).json" }
    static func exists(_ name: String) -> Bool { FileManager.default.fileExists(atPath: path(name)) }

    /// Gauges (levels, peaks, percentiles, configuration) are shown as they are; everything
    /// else numeric is a counter and shown as the difference from the baseline.
    static let gauges: Set<String> = [
        "depthFrames", "depthBytes", "watermarkFrames", "pgBytes", "pgWatermark", "pgShared", "pgHeadroom", "pgHeadroomWatermark",
        "utilisation", "loadBand", "uptimeSeconds", "sequence", "ifindex", "macEntries", "poolBytes", "usedBytes", "watermarkBytes",
        "residence", "ringWait", "pfcReaction", "pfcwdDetectedAfterMilliseconds", "flowletIdleMicroseconds", "ledger", "neighbours",
        "running", "inService", "linkUp", "stormed", "lossless", "queue", "name", "mode", "xdpMode",
    ]

    static func subtract(_ now: Data, name: String) -> Data {
        guard let baseData = try? Data(contentsOf: URL(fileURLWithPath: path(name))),
              let base = try? JSONSerialization.jsonObject(with: baseData) as? [String: Any],
              let cur = try? JSONSerialization.jsonObject(with: now) as? [String: Any],
              (base["uptimeSeconds"] as? Double ?? 0) <= (cur["uptimeSeconds"] as? Double ?? 0),
              let out = try? JSONSerialization.data(withJSONObject: diff(cur, base), options: [.sortedKeys]) else { return now }
        return out
    }

    static func diff(_ a: Any, _ b: Any?, key: String = "") -> Any {
        if gauges.contains(key) { return a }
        switch a {
        case let d as [String: Any]:
            let bd = b as? [String: Any]
            return Dictionary(uniqueKeysWithValues: d.map { ($0.key, diff($0.value, bd?[$0.key], key: $0.key)) })
        case let arr as [Any]:
            let barr = b as? [Any]
            return arr.enumerated().map { diff($0.element, (barr?.count ?? 0) > $0.offset ? barr![$0.offset] : nil, key: key) }
        case let n as NSNumber:
            guard let m = b as? NSNumber else { return n }
            if n.doubleValue.rounded() == n.doubleValue && m.doubleValue.rounded() == m.doubleValue {
                return max(0, n.int64Value - m.int64Value)
            }
            return max(0, n.doubleValue - m.doubleValue)
        default:
            return a
        }
    }
}

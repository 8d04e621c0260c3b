import FabricCore
import FabricTelemetry
import Foundation

/// The tables of `fabric stats`, laid out like the SONiC commands network engineers know.
enum StatsTables {
    static func render(_ view: StatsCommand.View, _ r: SwitchReport, name: String, cleared: Bool) -> String {
        let head = "switch '\(name)' (\(r.mode)), up \(String(format: "%.1f", r.uptimeSeconds)) s\(cleared ? ", counters since `fabric stats clear`" : "")\n\n"
        switch view {
        case .ports: return head + ports(r)
        case .queues: return head + queues(r)
        case .pfc: return head + pfc(r)
        case .pfcwd: return head + pfcwd(r)
        case .watermarks: return head + watermarks(r)
        case .flowlets: return head + flowlets(r)
        case .latency: return head + latency(r)
        case .depth, .clear: return ""
        }
    }

    /// Columns padded to their widest cell, numbers right-aligned, a dashed rule under the header.
    static func table(_ header: [String], _ rows: [[String]]) -> String {
        let widths = header.indices.map { i in ([header[i]] + rows.map { i < $0.count ? $0[i] : "" }).map(\.count).max() ?? 0 }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, c in
                let pad = String(repeating: " ", count: widths[i] - c.count)
                return i == 0 ? c + pad : pad + c
            }.joined(separator: "  ")
        }
        return ([line(header), widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")] + rows.map(line)).joined(separator: "\n") + "\n"
    }

    static func n(_ v: UInt64) -> String {
        var s = String(v), out = ""
        while s.count > 3 { out = "," + s.suffix(3) + out; s = String(s.dropLast(3)) }
        return s + out
    }

    /// The drop reasons counted on the receiving port (RX_DRP); the others are TX_DRP.
    static let ingressDrops = Set(DropReason.allCases.filter(\.isIngress).map(\.description))

    static func ports(_ r: SwitchReport) -> String {
        // With the XDP fast path: what it forwarded, received on the port (never in RX_OK).
        let fast = r.ports.contains { $0.fastpathFrames != nil }
        return table(["IFACE", "STATE", "RX_OK", "RX_BYTES", "RX_DRP", "TX_OK", "TX_BYTES", "TX_DRP", "RoCE", "CNP", "UTIL"]
                     + (fast ? ["FP_OK", "FP_BYTES"] : []),
              r.ports.map { p in
                  let rx = p.drops.filter { ingressDrops.contains($0.key) }.values.reduce(0, +) + p.socket.frames
                  let tx = p.dropsTotal - p.drops.filter { ingressDrops.contains($0.key) }.values.reduce(0, +)
                  return [p.name, p.inService ? "U" : "D", n(p.rxFrames), n(p.rxBytes), n(rx), n(p.txFrames), n(p.txBytes), n(tx),
                          n(p.roceFrames), n(p.cnpFrames), String(format: "%.1f%%", p.utilisation * 100)]
                      + (fast ? [n(p.fastpathFrames ?? 0), n(p.fastpathBytes ?? 0)] : [])
              })
            + {
                let punts = r.ports.flatMap { p in (p.fastpathPunts ?? [:]).sorted { $0.key < $1.key }.map { "\(p.name):\($0.key)=\(n($0.value))" } }
                return punts.isEmpty ? "" : "\nfast path sent to userspace: " + punts.joined(separator: " ") + "\n"
            }()
            + {
                let reasons = r.ports.flatMap { p in p.drops.filter { $0.value > 0 }.sorted { $0.key < $1.key }.map { "\(p.name):\($0.key)=\(n($0.value))" } }
                return reasons.isEmpty ? "" : "\ndrops by reason: " + reasons.joined(separator: " ") + "\n"
            }()
            + (r.mode == "router" ? "\n" + r.neighbourSummary + "\n" : "")
    }

    /// Every unicast queue of every port, as SONiC's `show queue counters` (idle ones too):
    /// frames and bytes sent, frames and bytes dropped (queue full or PFC watchdog), then what
    /// SONiC has no column for. Bytes are frame lengths without the FCS; N/A from a switch that
    /// does not count them.
    static func queues(_ r: SwitchReport) -> String {
        table(["Port", "TxQ", "Counter/pkts", "Counter/bytes", "Drop/pkts", "Drop/bytes", "ECN/marked", "Depth/pkts", "Depth/bytes", "Watermark/pkts"],
              r.ports.flatMap { p in p.queues.map { q in
                  let dropBytes = q.droppedBytes.map { $0 + (q.pfcwdDroppedBytes ?? 0) }
                  return [p.name, "UC\(q.queue)", n(q.dequeued), q.dequeuedBytes.map(n) ?? "N/A", n(q.dropped + q.pfcwdDropped),
                          dropBytes.map(n) ?? "N/A", n(q.ecnMarked), n(UInt64(q.depthFrames)), n(UInt64(q.depthBytes)), n(UInt64(q.watermarkFrames))]
              } })
    }

    static func pfc(_ r: SwitchReport) -> String {
        let prios = (0..<8).map { "PFC\($0)" }
        return table(["Port Rx"] + prios, r.ports.map { p in [p.name] + p.pfcRx.map(n) })
            + "\n" + table(["Port Tx"] + prios, r.ports.map { p in [p.name] + p.pfcTx.map(n) })
            + "\n" + table(["Port paused us"] + prios, r.ports.map { p in [p.name] + p.pfcPausedMicroseconds.map { n(UInt64($0)) } })
            + "\nXOFF->XON transitions: " + r.ports.map { p in "\(p.name) \(p.pfcXonTransitions.reduce(0, +))" }.joined(separator: ", ")
            + "; PAUSE frames received (counted, not honoured): \(r.ports.reduce(0) { $0 + $1.pauseRx })"
            + "; PFC/PAUSE ignored (destination not 01:80:c2:00:00:01): \(r.ports.reduce(0) { $0 + $1.pfcIgnoredDestination })"
            + ", (priority without PFC on the port): \(r.ports.reduce(0) { $0 + $1.pfcIgnoredPriority.reduce(0, +) })\n"
    }

    /// Every lossless queue (one PFC pauses on its port: the watchdog watches it), as SONiC's
    /// `show pfcwd stats` lists every monitored queue, `operational` until a storm; plus any
    /// other queue that stormed. TX OK/DROP: frames the queue sent and frames the watchdog
    /// discarded from it.
    static func pfcwd(_ r: SwitchReport) -> String {
        table(["QUEUE", "STATUS", "STORM DETECTED/RESTORED", "TX OK/DROP", "DETECTED AFTER ms"],
              r.ports.flatMap { p in p.queues.filter { $0.lossless == true || $0.pfcwdStorms > 0 || $0.stormed }.map { q in
                  ["\(p.name):\(q.queue)", q.stormed ? "stormed" : "operational", "\(q.pfcwdStorms)/\(q.pfcwdRestored)",
                   "\(n(q.dequeued))/\(n(q.pfcwdDropped))", q.pfcwdStorms > 0 ? String(format: "%.1f", q.pfcwdDetectedAfterMilliseconds) : "-"]
              } })
    }

    /// SONiC's `watermarkstat` tables, headed by what this switch measures: the PG peak is
    /// everything the PG held (reserved, shared and headroom), not the shared part alone, and
    /// the queue peak counts frames, not bytes.
    static func watermarks(_ r: SwitchReport) -> String {
        let pgs = (0..<8).map { "PG\($0)" }
        return "Ingress buffer held per PG, peak, bytes (reserved + shared + headroom):\n"
            + table(["Port"] + pgs, r.ports.map { p in [p.name] + p.pgWatermark.map(n) })
            + "\nIngress headroom used per PG, peak, bytes:\n"
            + table(["Port"] + pgs, r.ports.map { p in [p.name] + p.pgHeadroomWatermark.map(n) })
            + "\nEgress queue depth per unicast queue, peak, frames:\n"
            + table(["Port"] + (0..<8).map { "UC\($0)" }, r.ports.map { p in [p.name] + p.queues.map { n(UInt64($0.watermarkFrames)) } })
            + "\nShared pool: \(n(UInt64(r.buffer.watermarkBytes))) of \(n(UInt64(r.buffer.poolBytes))) bytes at peak, \(n(UInt64(r.buffer.usedBytes))) now\n"
    }

    static func flowlets(_ r: SwitchReport) -> String {
        let lb = r.loadBalancing
        return "new flowlets \(n(lb.newFlowlets)), path changes \(n(lb.pathChanges)), collisions \(n(lb.collisions)), "
            + "packets sprayed \(n(lb.sprayed)) (flowlet idle \(Int(lb.flowletIdleMicroseconds)) us)\n\n"
            + table(["Port", "UTIL", "BAND", "TX_OK", "TX_BYTES"],
                    r.ports.map { p in [p.name, String(format: "%.1f%%", p.utilisation * 100), "\(p.loadBand)", n(p.txFrames), n(p.txBytes)] })
    }

    /// The depth ring: per queue that held anything, now / mean / peak and a sparkline of the
    /// peaks across the window (taken only while the worker was awake: it sleeps with every
    /// queue empty).
    static func depth(_ s: DepthSeries) -> String {
        let span = (s.times.last ?? 0) / 1000
        var rows: [[String]] = []
        let bars = Array("▁▂▃▄▅▆▇█")
        for (p, name) in s.ports.enumerated() {
            for q in 0..<8 {
                let d = s.depths[p][q]
                guard let peak = d.max(), peak > 0 else { continue }
                let mean = Double(d.reduce(0) { $0 + UInt64($1) }) / Double(d.count)
                let pausedShare = Double(s.paused[p].filter { $0 & (1 << UInt8(q)) != 0 }.count) / Double(max(1, d.count))
                let width = 40
                let spark = String((0..<width).map { k -> Character in
                    let a = k * d.count / width, b = max(a + 1, (k + 1) * d.count / width)
                    let m = d[a..<min(b, d.count)].max() ?? 0
                    return bars[min(bars.count - 1, Int(Double(m) / Double(peak) * Double(bars.count - 1) + 0.5))]
                })
                rows.append([name, "UC\(q)", n(UInt64(d.last ?? 0)), n(UInt64(mean)), n(UInt64(peak)), String(format: "%.0f%%", pausedShare * 100), spark])
            }
        }
        return "Queue depth in bytes over the last \(s.times.count) samples (\(s.intervalMicroseconds) us apart while busy, \(String(format: "%.1f", span)) ms):\n"
            + table(["Port", "TxQ", "Now", "Mean", "Peak", "Paused", "Peaks over the window"], rows)
    }

    static func latency(_ r: SwitchReport) -> String {
        let stamped = r.ports.contains { $0.ringWait != nil }
        let mean = { (v: Double) in String(format: "%.1f", v) }
        var out = "Switch residence time per egress queue, microseconds: "
            + (stamped ? "from the frame's arrival (XDP stamp) to transmit submit; \"in ring\" is the part of the mean spent in the rx ring before the worker read it.\n"
                       : "from the worker's receive to transmit submit (no XDP stamps: --ring-wait off or AF_PACKET).\n")
        out += table(["Port", "TxQ", "Packets", "mean", "p50", "p99", "p99.9", "max"] + (stamped ? ["in ring"] : []),
                     r.ports.flatMap { p in p.queues.filter { $0.residence.count > 0 }.map { q in
                         let x = q.residence
                         return [p.name, "UC\(q.queue)", n(x.count), mean(x.meanMicroseconds), "\(x.p50)", "\(x.p99)", "\(x.p999)", "\(x.max)"]
                             + (stamped ? [mean(x.ringMeanMicroseconds)] : [])
                     } })
        guard stamped else { return out }
        out += "\nRx-ring wait per ingress port (XDP stamp to the worker's receive), microseconds:\n"
        out += table(["Port", "Packets", "mean", "p50", "p99", "p99.9", "max"],
                     r.ports.compactMap { p in p.ringWait.map { w in
                         [p.name, n(w.count), mean(w.meanMicroseconds), "\(w.p50)", "\(w.p99)", "\(w.p999)", "\(w.max)"]
                     } })
        return out
    }
}

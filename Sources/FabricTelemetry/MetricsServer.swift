import FabricSystem
import FabricCore
import Foundation
import Glibc
import Prometheus

/// A Prometheus `/metrics` endpoint (text exposition format, rendered by swift-prometheus) on
/// a TCP address, 127.0.0.1 unless told otherwise. Each scrape asks the worker for a snapshot
/// through the control server and renders it; nothing is kept between scrapes.
///
/// Metric names (labels in braces):
/// - `fabric_up`, `fabric_uptime_seconds`
/// - `fabric_port_rx_frames_total`, `fabric_port_rx_bytes_total`, `fabric_port_tx_frames_total`,
///   `fabric_port_tx_bytes_total` {port}; `fabric_port_drops_total` {port, reason};
///   `fabric_port_utilisation` {port}; with `--fastpath on`: `fabric_port_fastpath_frames_total`,
///   `fabric_port_fastpath_bytes_total`, `fabric_port_fastpath_tx_frames_total`,
///   `fabric_port_fastpath_tx_bytes_total` {port}, `fabric_port_fastpath_punts_total` {port, reason}
/// - `fabric_queue_transmitted_total`, `fabric_queue_dropped_total`, `fabric_queue_ecn_marked_total`,
///   `fabric_queue_depth_bytes`, `fabric_queue_watermark_frames` {port, queue}
/// - `fabric_residence_seconds` {port, queue}: histogram (`_bucket` {le}, `_sum`, `_count`) of the
///   switch residence time, from the XDP stamp (`--ring-wait on`) or the worker's receive to
///   transmit; `fabric_ring_wait_seconds` {port}: histogram of the time received frames waited in
///   the port's socket rx ring (`--ring-wait on`); `fabric_residence_microseconds` {port, queue,
///   quantile = 0.5, 0.99, 0.999, 1}: the same residence as percentiles (older dashboards)
/// - `fabric_pfc_rx_frames_total`, `fabric_pfc_tx_frames_total`, `fabric_pfc_paused_microseconds_total`
///   {port, priority}; `fabric_pfcwd_storms_total` {port, queue}
/// - `fabric_pg_bytes`, `fabric_pg_watermark_bytes`, `fabric_pg_headroom_watermark_bytes` {port, pg}
/// - `fabric_buffer_pool_bytes`, `fabric_buffer_pool_used_bytes`, `fabric_buffer_pool_watermark_bytes`
/// - `fabric_flowlets_total`, `fabric_flowlet_path_changes_total`, `fabric_flowlet_collisions_total`,
///   `fabric_sprayed_packets_total`
/// - bridge mode: `fabric_mac_entries`, `fabric_mac_learn_failures_total`, `fabric_mac_moves_total`
public final class MetricsServer: @unchecked Sendable {
    let fd: Int32
    let control: ControlServer
    public let address: String
    /// How long one scraper may hold the endpoint (set before `start`).
    public var limits = ClientLimits()

    /// `host` must be a loopback address unless `public` (opt-in: the counters are not secret,
    /// but a lab switch should not listen on the world by accident).
    public init(host: String, port: UInt16, allowPublic: Bool, control: ControlServer) throws {
        guard allowPublic || host == "127.0.0.1" || host == "localhost" else {
            throw SystemError("--metrics \(host):\(port): not a loopback address; add --metrics-public to listen there")
        }
        let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard s >= 0 else { throw SystemError("metrics socket: \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        guard inet_pton(AF_INET, host == "localhost" ? "127.0.0.1" : host, &addr.sin_addr) == 1 else {
            close(s)
            throw SystemError("--metrics: '\(host)' is not an IPv4 address")
        }
        let ok = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard ok == 0, listen(s, 16) == 0 else {
            let e = String(cString: strerror(errno))
            close(s)
            throw SystemError("--metrics \(host):\(port): \(e)")
        }
        fd = s
        self.control = control
        address = "\(host):\(port)"
    }

    public func start() {
        _ = Listener.start(fd: fd, name: "fabric-metrics", limits: limits, stopping: { false }) { [self] c in handle(c) }
    }

    public func stop() {
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
    }

    func handle(_ c: Int32) {
        guard let request = FD.readRequest(c, deadline: ClientLimits.deadline(limits.request)) else { return }
        let line = request.split(separator: "\r\n").first ?? ""
        let (status, body): (String, String)
        if line.hasPrefix("GET /metrics") {
            if let r = control.report() { (status, body) = ("200 OK", Self.render(r)) } else { (status, body) = ("503 Service Unavailable", "the switch did not answer\n") }
        } else {
            (status, body) = ("404 Not Found", "only GET /metrics here\n")
        }
        let bytes = Array(body.utf8)
        let head = "HTTP/1.1 \(status)\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: \(bytes.count)\r\nConnection: close\r\n\r\n"
        let all = Array(head.utf8) + bytes
        _ = all.withUnsafeBytes { FD.sendAll(c, $0.baseAddress!, $0.count, deadline: ClientLimits.deadline(limits.answer)) }
    }

    /// The snapshot in Prometheus text format.
    public static func render(_ r: SwitchReport) -> String {
        let reg = PrometheusCollectorRegistry()
        // Histograms are rendered here from the switch's own: swift-prometheus' take one sample
        // at a time.
        var histograms = HistogramText()
        func counter(_ name: String, _ help: String, _ labels: [(String, String)], _ v: UInt64) {
            reg.makeCounter(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: labels)
                .increment(by: Int64(clamping: v))
        }
        func gauge(_ name: String, _ help: String, _ labels: [(String, String)], _ v: Double) {
            reg.makeGauge(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: labels).set(v)
        }
        gauge("fabric_up", "1 while the switch runs", [("switch", r.name)], r.running ? 1 : 0)
        gauge("fabric_uptime_seconds", "Seconds since the switch started", [("switch", r.name)], r.uptimeSeconds)
        for p in r.ports {
            let port = [("port", p.name)]
            counter("fabric_port_rx_frames_total", "Frames received", port, p.rxFrames)
            counter("fabric_port_rx_bytes_total", "Bytes received", port, p.rxBytes)
            counter("fabric_port_tx_frames_total", "Frames transmitted", port, p.txFrames)
            counter("fabric_port_tx_bytes_total", "Bytes transmitted", port, p.txBytes)
            gauge("fabric_port_utilisation", "EWMA utilisation of the port's line rate", port, p.utilisation)
            if let f = p.fastpathFrames {
                counter("fabric_port_fastpath_frames_total", "Frames received that the XDP fast path forwarded", port, f)
                counter("fabric_port_fastpath_bytes_total", "Bytes received that the XDP fast path forwarded", port, p.fastpathBytes ?? 0)
                counter("fabric_port_fastpath_tx_frames_total", "Frames the XDP fast path sent out of the port", port, p.fastpathTxFrames ?? 0)
                counter("fabric_port_fastpath_tx_bytes_total", "Bytes the XDP fast path sent out of the port", port, p.fastpathTxBytes ?? 0)
                for (reason, v) in (p.fastpathPunts ?? [:]).sorted(by: { $0.key < $1.key }) {
                    counter("fabric_port_fastpath_punts_total", "Frames the XDP fast path sent to userspace, by reason", port + [("reason", reason)], v)
                }
            }
            let n = p.neighbour
            counter("fabric_neighbour_requests_rate_limited_total", "ARP requests and solicitations not sent: request budget used up", port, n.requestsRateLimited)
            counter("fabric_neighbour_incomplete_limit_hits_total", "Addresses being resolved pushed out by newer ones (per-port limit)", port, n.incompleteLimitHits)
            counter("fabric_neighbour_failed_total", "Addresses that never answered and were removed", port, n.failed)
            counter("fabric_neighbour_expired_total", "Resolved neighbours removed unconfirmed after the reachable time", port, n.expired)
            counter("fabric_neighbour_refreshes_total", "Requests sent to keep a neighbour in use resolved", port, n.refreshes)
            counter("fabric_neighbour_table_full_total", "Neighbours not learned: resolved entries at their limit", port, n.tableFull)
            for (reason, v) in p.drops.sorted(by: { $0.key < $1.key }) {
                counter("fabric_port_drops_total", "Frames dropped, by reason", port + [("reason", reason)], v)
            }
            for q in p.queues {
                let l = port + [("queue", "\(q.queue)")]
                counter("fabric_queue_transmitted_total", "Frames the egress queue sent", l, q.dequeued)
                counter("fabric_queue_dropped_total", "Frames the egress queue dropped (full or PFC watchdog)", l, q.dropped + q.pfcwdDropped)
                counter("fabric_queue_ecn_marked_total", "Frames marked CE on the queue", l, q.ecnMarked)
                counter("fabric_pfcwd_storms_total", "PFC storms the watchdog declared on the queue", l, q.pfcwdStorms)
                gauge("fabric_queue_depth_bytes", "Bytes queued now", l, Double(q.depthBytes))
                gauge("fabric_queue_watermark_frames", "Deepest the queue has been, frames", l, Double(q.watermarkFrames))
                if q.residence.count > 0 {
                    histograms.add("fabric_residence_seconds", "Switch residence time (XDP stamp, else worker receive, to transmit) of the queue's frames",
                                   l, q.residence)
                    for (quantile, v) in [("0.5", q.residence.p50), ("0.99", q.residence.p99), ("0.999", q.residence.p999), ("1", q.residence.max)] {
                        gauge("fabric_residence_microseconds", "Switch residence time (receive to transmit) of the queue's frames", l + [("quantile", quantile)], Double(v))
                    }
                }
            }
            if let w = p.ringWait {
                histograms.add("fabric_ring_wait_seconds", "Time received frames waited in the port's socket rx ring (XDP stamp to worker)", port, w)
            }
            for prio in 0..<8 {
                let l = port + [("priority", "\(prio)")]
                counter("fabric_pfc_rx_frames_total", "802.1Qbb frames received for the priority", l, p.pfcRx[prio])
                counter("fabric_pfc_tx_frames_total", "802.1Qbb frames the switch sent for the priority", l, p.pfcTx[prio])
                counter("fabric_pfc_paused_microseconds_total", "Time the priority's queue was paused", l, UInt64(p.pfcPausedMicroseconds[prio]))
                counter("fabric_pfc_rx_ignored_frames_total", "802.1Qbb frames naming the priority, not honoured: the port has no PFC on it",
                        l, p.pfcIgnoredPriority[prio])
            }
            counter("fabric_pfc_rx_wrong_destination_frames_total", "PFC/PAUSE frames to a destination other than 01:80:c2:00:00:01: consumed, not honoured",
                    port, p.pfcIgnoredDestination)
            counter("fabric_pfc_tx_failures_total", "802.1Qbb frames the switch could not send (no frame, control queue full)", port, p.pfcTxFailures)
            for pg in 0..<8 {
                let l = port + [("pg", "\(pg)")]
                gauge("fabric_pg_bytes", "Ingress bytes held by the priority group", l, Double(p.pgBytes[pg]))
                gauge("fabric_pg_watermark_bytes", "Most ingress bytes the priority group held", l, Double(p.pgWatermark[pg]))
                gauge("fabric_pg_headroom_watermark_bytes", "Most headroom the priority group used", l, Double(p.pgHeadroomWatermark[pg]))
            }
        }
        let resolved = r.neighbours.filter { $0.mac != nil }.count
        gauge("fabric_neighbours", "Neighbour entries, by state", [("state", "resolved")], Double(resolved))
        gauge("fabric_neighbours", "Neighbour entries, by state", [("state", "resolving")], Double(r.neighbours.count - resolved))
        gauge("fabric_buffer_pool_bytes", "Size of the shared ingress pool", [], Double(r.buffer.poolBytes))
        gauge("fabric_buffer_pool_used_bytes", "Shared pool bytes in use", [], Double(r.buffer.usedBytes))
        gauge("fabric_buffer_pool_watermark_bytes", "Most shared pool bytes in use", [], Double(r.buffer.watermarkBytes))
        counter("fabric_frame_allocations_refused_total", "Frame allocations the frame memory refused (it ran short)", [], r.ledger.refusals)
        counter("fabric_flowlets_total", "Flowlets started", [], r.loadBalancing.newFlowlets)
        counter("fabric_flowlet_path_changes_total", "Flowlets that moved to another member", [], r.loadBalancing.pathChanges)
        counter("fabric_flowlet_collisions_total", "Packets whose flowlet entry another flow held", [], r.loadBalancing.collisions)
        counter("fabric_sprayed_packets_total", "Packets sprayed", [], r.loadBalancing.sprayed)
        if r.mode == "bridge" {
            gauge("fabric_mac_entries", "Addresses in the MAC table", [], Double(r.macEntries))
            counter("fabric_mac_learn_failures_total", "Source addresses the full MAC table could not learn", [], r.macLearnFailures ?? 0)
            counter("fabric_mac_moves_total", "Learned addresses seen again on another port (moved host or loop)", [], r.macMoves ?? 0)
        }
        return reg.emitToString() + histograms.text
    }
}

/// Prometheus histogram families in the text exposition format, from `ResidenceReport`s:
/// cumulative `_bucket` counts at `ResidenceReport.bounds` and `+Inf`, `_sum` and `_count`, in
/// seconds. Each family's series are kept together, after its HELP and TYPE lines.
struct HistogramText {
    private var families: [(name: String, help: String, lines: [String])] = []

    mutating func add(_ name: String, _ help: String, _ labels: [(String, String)], _ r: ResidenceReport) {
        var lines: [String] = []
        func series(_ suffix: String, _ extra: [(String, String)], _ v: String) {
            let all = (labels + extra).map { "\($0.0)=\"\(Self.escape($0.1))\"" }.joined(separator: ",")
            lines.append("\(name)\(suffix){\(all)} \(v)")
        }
        let below = r.below ?? []
        for (i, bound) in ResidenceReport.bounds.enumerated() where i < below.count {
            series("_bucket", [("le", Self.seconds(Double(bound)))], "\(below[i])")
        }
        series("_bucket", [("le", "+Inf")], "\(r.count)")
        series("_sum", [], Self.seconds(r.sumMicroseconds ?? 0))
        series("_count", [], "\(r.count)")
        if let i = families.firstIndex(where: { $0.name == name }) {
            families[i].lines += lines
        } else {
            families.append((name, help, lines))
        }
    }

    var text: String {
        families.map { f in "# HELP \(f.name) \(f.help)\n# TYPE \(f.name) histogram\n" + f.lines.map { $0 + "\n" }.joined() }.joined()
    }

    /// Microseconds as seconds, without float noise (1e-06, 0.5, 1).
    static func seconds(_ us: Double) -> String {
        let s = us / 1e6
        return s == s.rounded() ? String(Int(s)) : "\(s)"
    }

    static func escape(_ v: String) -> String {
        v.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
    }
}

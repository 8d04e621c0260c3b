import FabricTelemetry
import FabricLab
import FabricTraffic
import Foundation
import XCTest

/// The operator's view of a running switch: `fabric stats` through the control socket.
final class StatsIntegrationTests: LabTestCase {
    static let schema = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../scripts/stats.schema.json").standardized.path

    func testStatsOfARunningSwitchMatchWhatTheWorkloadSentAndBalance() throws {
        let (tb, sw) = try routedBedWithSwitch(hosts: 2)
        let name = "\(tb.prefix)-sw"
        let socket = ControlServer.directory(name: name) + "/control.sock"
        let mode = try FileManager.default.attributesOfItem(atPath: socket)[.posixPermissions] as? Int
        XCTAssertEqual(mode, 0o600, "the control socket is for root only")
        addTeardownBlock { try? FileManager.default.removeItem(atPath: "/run/swiftfabric/stats-baseline-\(name).json") }

        let r = try RoCERun.run(fabric: fabric, from: tb.hostNamespace(1), to: tb.hostNamespace(2), destination: tb.hostAddress(2),
                                seconds: 1, rate: 0.05, qps: 2, message: 16384, mtu: 1024)
        XCTAssertGreaterThan(r.sender.packets, 1000)
        // While the switch runs: JSON through the control socket.
        let json = try Shell.run([fabric, "stats", "--switch", name, "--json"])
        let report = try JSONDecoder().decode(SwitchReport.self, from: Data(json.utf8))
        XCTAssertTrue(report.running)
        XCTAssertEqual(report.ports[0].roceFrames, r.sender.packets, "every RoCEv2 packet the sender sent was counted at h1's port")
        XCTAssertEqual(report.ports[1].queues[3].dequeued, r.sender.packets, "and left through queue 3 of h2's port")
        XCTAssertEqual(report.ports[1].queues[3].residence.count, r.sender.packets, "each with its residence time")
        // The documented schema accepts it (an independent validator: Python's jsonschema).
        let file = NSTemporaryDirectory() + "fabric-snapshot-\(getpid()).json"
        try json.write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let check = try Shell.run(["python3", "-c", "import json,jsonschema,sys; jsonschema.validate(json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))); print('valid')",
                                   file, Self.schema], check: false)
        XCTAssertTrue(check.contains("valid"), check)
        // The tables.
        let latency = try Shell.run([fabric, "stats", "--switch", name, "latency"])
        XCTAssertTrue(latency.contains("h2") && latency.contains("UC3"), latency)
        let queues = try Shell.run([fabric, "stats", "--switch", name, "queues"])
        XCTAssertTrue(queues.contains("Counter/pkts") && queues.contains("UC3"), queues)
        let pfc = try Shell.run([fabric, "stats", "--switch", name, "pfc"])
        XCTAssertTrue(pfc.contains("Port Rx") && pfc.contains("PFC7"), pfc)
        // clear: later views count from there.
        _ = try Shell.run([fabric, "stats", "--switch", name, "clear"])
        let after = try JSONDecoder().decode(SwitchReport.self, from: Data(try Shell.run([fabric, "stats", "--switch", name, "--json"]).utf8))
        XCTAssertLessThan(after.ports[0].roceFrames, 10, "cleared")
        // Stopped: every frame that came in went out, was dropped, used up by the switch or is
        // still queued; frames the switch made itself went out too.
        XCTAssertEqual(sw.child.stop(), 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: socket), "the control socket is removed on exit")
        let final = try StatsFile.read(statsFile)
        let b = final.balance
        XCTAssertEqual(b.into, b.outOf, "rx + made by the switch = tx + drops + consumed + queued: \(b)")
    }

    func testStatsNamesTheRunningSwitchesWhenAskedWithoutOne() throws {
        let out = try Shell.run([fabric, "stats", "--switch", "no-such-switch-\(getpid())"], check: false)
        XCTAssertTrue(out.contains("no switch answers at"), out)
    }
}

final class MetricsIntegrationTests: LabTestCase {
    /// /metrics of a running switch parses with Prometheus' own Python parser and carries the
    /// documented names with the traffic in them.
    func testMetricsEndpointParsesAsPrometheusTextFormat() throws {
        let tb = try makeTestbed(hosts: 2, routed: true)
        let sw = try startSwitch(tb, extra: ["--metrics", "9464"])
        XCTAssertTrue(sw.child.output.contains("Prometheus metrics at http://127.0.0.1:9464/metrics"), sw.child.output)
        XCTAssertEqual(try Ping.run(from: tb.hostNamespace(1), to: tb.hostAddress(2), count: 5).received, 5)
        let script = """
            import sys, urllib.request
            from prometheus_client.parser import text_string_to_metric_families
            text = urllib.request.urlopen('http://127.0.0.1:9464/metrics', timeout=5).read().decode()
            fams = {f.name: f for f in text_string_to_metric_families(text)}
            for name in sys.argv[1:]:
                assert name in fams, 'missing ' + name
            rx = sum(s.value for s in fams['fabric_port_rx_frames'].samples if s.labels.get('port') == 'h1' and s.name.endswith('_total'))
            # Histograms (seconds): cumulative buckets ending in +Inf = _count, and a _sum.
            for fam, port in (('fabric_ring_wait_seconds', 'h1'), ('fabric_residence_seconds', 'h2')):
                assert fams[fam].type == 'histogram', fam
                ss = [s for s in fams[fam].samples if s.labels.get('port') == port and s.labels.get('queue', '0') == '0']
                buckets = [s.value for s in ss if s.name.endswith('_bucket')]
                count = [s.value for s in ss if s.name.endswith('_count')][0]
                total = [s.value for s in ss if s.name.endswith('_sum')][0]
                assert buckets == sorted(buckets) and buckets[-1] == count >= 5 and 0 < total < count, (fam, buckets, count, total)
            print('families', len(fams), 'h1_rx', int(rx))
            """
        let names = ["fabric_up", "fabric_port_rx_frames", "fabric_port_tx_bytes", "fabric_queue_transmitted", "fabric_residence_microseconds", "fabric_residence_seconds", "fabric_ring_wait_seconds",
                     "fabric_pfc_rx_frames", "fabric_pg_watermark_bytes", "fabric_buffer_pool_used_bytes", "fabric_flowlets"]
        let out = try Shell.inNamespace(tb.switchNamespace, ["python3", "-c", script] + names, check: false)
        XCTAssertTrue(out.contains("families"), out)
        let rx = out.split(separator: " ").last.flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? 0
        XCTAssertGreaterThanOrEqual(rx, 5, "h1's echo requests counted: \(out)")
        // Not on a non-loopback address without the opt-in.
        let refused = try Shell.run([fabric, "switch", "--netns", tb.switchNamespace, "--config", tb.configPath, "--name", "\(tb.prefix)-other",
                                     "--metrics", "0.0.0.0:9465"], check: false)
        XCTAssertTrue(refused.contains("not a loopback address; add --metrics-public"), refused)
        XCTAssertEqual(sw.child.stop(), 0)
    }
}

final class CaptureIntegrationTests: LabTestCase {
    /// --capture h1:FILE: what h1's port received (RoCEv2) and sent (the switch's PFC), as
    /// pcapng with nanosecond timestamps and directions, decoded by tshark.
    func testCaptureOfAPortDecodesInTsharkWithItsPFCFrames() throws {
        let tb = try makeTestbed(hosts: 2, routed: true)
        let pcap = NSTemporaryDirectory() + "fabric-capture-\(getpid()).pcapng"
        defer { try? FileManager.default.removeItem(atPath: pcap) }
        let sw = try startSwitch(tb, config: config(tb, speeds: [2: 0.2]) { $0.useSmallLosslessBuffers() },
                                 extra: ["--capture", "h1:\(pcap)", "--capture-limit", "20"])
        let r = try RoCERun.run(fabric: fabric, from: tb.hostNamespace(1), to: tb.hostNamespace(2), destination: tb.hostAddress(2),
                                seconds: 0.5, rate: 1, qps: 1, message: 16384, mtu: 1024)
        XCTAssertGreaterThan(r.sender.pauseFrames, 0)
        XCTAssertEqual(sw.child.stop(), 0)
        XCTAssertTrue(sw.child.output.contains("capture h1:"), sw.child.output)
        let fields = try Shell.run(["tshark", "-r", pcap, "-T", "fields", "-E", "separator=|", "-e", "frame.p2p_dir",
                                    "-e", "macc.opcode", "-e", "infiniband.bth.opcode", "-e", "frame.time_epoch", "-e", "_ws.expert.severity"])
        let rows = fields.split(separator: "\n").map { $0.split(separator: "|", omittingEmptySubsequences: false).map(String.init) }.filter { $0.count == 5 }
        // frame.p2p_dir, from the pcapng epb_flags direction: 1 received, 0 sent.
        let inbound = rows.filter { $0[0] == "1" }, outbound = rows.filter { $0[0] == "0" }
        let roceIn = inbound.filter { !$0[2].isEmpty }.count
        let pfcOut = outbound.filter { $0[1] == "0x0101" }.count
        print("capture: \(rows.count) frames, \(roceIn) RoCEv2 in, \(pfcOut) PFC out")
        XCTAssertGreaterThan(roceIn, 1000, "the sender's RoCEv2 frames, decoded as InfiniBand BTH")
        XCTAssertGreaterThan(pfcOut, 0, "the switch's PFC frames towards h1")
        XCTAssertEqual(inbound.count + outbound.count, rows.count, "every frame has a direction")
        let fraction = rows.first?[3].split(separator: ".").last ?? ""
        XCTAssertEqual(fraction.count, 9, "nanosecond timestamps: \(rows.first ?? [])")
        XCTAssertFalse(rows.contains { $0[4] == "error" }, "no malformed frame")
    }
}

final class RecordReportIntegrationTests: LabTestCase {
    /// --record while lossless traffic meets a slow port, then `fabric report`: the plots and
    /// the summary exist and hold what happened (queue 3 of h2's port built up; PFC went out).
    func testRecordAndReportDrawTheQueueAndThePFC() throws {
        let tb = try makeTestbed(hosts: 2, routed: true)
        let record = NSTemporaryDirectory() + "fabric-rec-\(getpid()).rec"
        let dir = NSTemporaryDirectory() + "fabric-rec-\(getpid()).report"
        defer {
            for f in [record, dir] { try? FileManager.default.removeItem(atPath: f) }
        }
        let sw = try startSwitch(tb, config: config(tb, speeds: [2: 0.2]) { $0.useSmallLosslessBuffers() }, extra: ["--record", record])
        let r = try RoCERun.run(fabric: fabric, from: tb.hostNamespace(1), to: tb.hostNamespace(2), destination: tb.hostAddress(2),
                                seconds: 0.5, rate: 1, qps: 1, message: 16384, mtu: 1024)
        XCTAssertGreaterThan(r.sender.pauseFrames, 0)
        // The always-on depth ring, through the control socket, while the switch still runs.
        let name = "\(tb.prefix)-sw"
        let depthTable = try Shell.run([fabric, "stats", "--switch", name, "depth"])
        XCTAssertTrue(depthTable.contains("h2") && depthTable.contains("UC3"), depthTable)
        let series = try JSONDecoder().decode(DepthSeries.self, from: Data(try Shell.run([fabric, "stats", "--switch", name, "depth", "--json"]).utf8))
        XCTAssertEqual(series.ports, ["h1", "h2"])
        XCTAssertGreaterThan(series.depths[1][3].max() ?? 0, 10_000, "the ring saw h2's queue 3 build up")
        XCTAssertLessThanOrEqual(series.times.count, 10_000, "bounded")
        XCTAssertEqual(sw.child.stop(), 0)
        let out = try Shell.run([fabric, "report", record, "--out", dir])
        XCTAssertTrue(out.contains("index.html"), out)
        let recording = try Recording(file: record)
        XCTAssertGreaterThan(recording.times.count, 100, "samples every 100 us while traffic flowed")
        XCTAssertGreaterThan(recording.depths[1][3].max() ?? 0, 10_000, "h2's queue 3 built up behind the 200 Mb/s wire")
        XCTAssertNotNil(recording.trailer, "the final snapshot closes the file")
        for f in ["queue-depth.svg", "port-load.svg", "residence-cdf.svg", "index.html", "report.md"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: "\(dir)/\(f)"), f)
        }
        let depth = try String(contentsOfFile: "\(dir)/queue-depth.svg", encoding: .utf8)
        XCTAssertTrue(depth.contains("<polyline") && depth.contains("h2 q3"), "the queue's line and legend")
        let cdf = try String(contentsOfFile: "\(dir)/residence-cdf.svg", encoding: .utf8)
        XCTAssertTrue(cdf.contains("h2 q3"))
        XCTAssertTrue(cdf.contains("h1 rx-ring wait"), "the ring wait of the port the traffic came in on (--ring-wait on)")
        let summary = try String(contentsOfFile: "\(dir)/report.md", encoding: .utf8)
        XCTAssertTrue(summary.contains("| h2 | 3 |"), summary)
        XCTAssertTrue(summary.contains("PFC frames sent"), summary)
        XCTAssertTrue(summary.contains("from the XDP stamp (arrival) to transmit") && summary.contains("Rx-ring wait per ingress port"), summary)
        // An independent SVG reader (librsvg, when installed) renders the plots.
        if Shell.exists("rsvg-convert") {
            let png = dir + "/queue-depth.png"
            _ = try Shell.run(["rsvg-convert", "\(dir)/queue-depth.svg", "-o", png])
            XCTAssertGreaterThan((try FileManager.default.attributesOfItem(atPath: png)[.size] as? Int) ?? 0, 5_000)
        }
    }
}

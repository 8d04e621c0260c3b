import FabricConfig
import FabricCore
import FabricLab
import FabricTelemetry
import Foundation
import XCTest

/// Issue 16: a frame the XDP fast path forwards is byte for byte the frame the userspace
/// pipeline makes of the same input. The same fixed set of frames (made by scapy in
/// `fastpath_identity.py`: UDP of several sizes, TCP with options and payloads, ICMP echo, IPv4
/// with TTLs from 2 to 255, TOS and DF variations and header checksums at the edges of the one's
/// complement range, IPv6 with hop limits from 2 to 255, traffic classes and flow labels, Ethernet
/// padding behind the IP packet) goes from h1 to h2 twice, once with `--fastpath off` and once
/// with `--fastpath on`, on the same test bed; h2's interface captures each run. Then:
///
/// - the userspace run went through the pipeline (no fast path counters, the pipeline received
///   every frame), the fast path run through XDP (h1's port `fastpathFrames` and h2's port
///   `fastpathTxFrames` rose by exactly the frames sent);
/// - every frame arrived in both runs, and each is what the helper works out a bridge
///   (nothing changed) or a router (MACs, TTL or hop limit - 1, the IPv4 checksum valid if it
///   was, as far off as it was if not) makes of it, so a fault both paths share fails too;
/// - the fast path kept the order the frames were sent in, the pipeline kept it within each
///   traffic class (its strict priority lets the DSCP 48 frame overtake frames still queued);
/// - the two captures are identical, frame by frame (matched by the marker), in their whole
///   length.
///
/// Frames not of the set (the priming pings, ARP, ND, h2's own answers) are told apart by a
/// marker in the payload. The captures are kept (pcap, path printed) when a test fails.
final class FastPathIdentityIntegrationTests: LabTestCase {
    /// What `fastpath_identity.py` reports of one run.
    struct Capture: Decodable {
        var names: [String]
        var dscp: [Int]
        var sent: [String]
        /// In the order of arrival, as `order` (their indices in `sent`) and `latencyUs`.
        var received: [String]
        var order: [Int]
        var latencyUs: [Int]
        var problems: [String]
        var others: Int

        enum CodingKeys: String, CodingKey {
            case names, dscp, sent, received, order, problems, others
            case latencyUs = "latency_us"
        }

        /// The frame received for frame `i` of the set.
        func received(_ i: Int) -> String? { order.firstIndex(of: i).map { received[$0] } }
    }

    static let helper = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("fastpath_identity.py").path

    func testBridgeIPv4FramesAreIdenticalThroughTheFastPathAndUserspace() throws {
        try compareRuns(routed: false, family: 4)
    }

    func testBridgeIPv6FramesAreIdenticalThroughTheFastPathAndUserspace() throws {
        try compareRuns(routed: false, family: 6)
    }

    func testRouterIPv4FramesAreIdenticalThroughTheFastPathAndUserspace() throws {
        try compareRuns(routed: true, family: 4)
    }

    func testRouterIPv6FramesAreIdenticalThroughTheFastPathAndUserspace() throws {
        try compareRuns(routed: true, family: 6)
    }

    /// The switch's live report (`fabric stats --json`).
    func report(_ tb: TopologyTestbed) throws -> SwitchReport {
        let json = try Shell.run([fabric, "stats", "--switch", tb.switchNamespace, "--json"])
        return try JSONDecoder().decode(SwitchReport.self, from: Data(json.utf8))
    }

    /// The bridge or router, once with the fast path off and once on, each given the frame set.
    func compareRuns(routed: Bool, family: Int) throws {
        let tb = try makeTestbed(hosts: 2, routed: routed)
        try tb.prepareHostsForFastPath()
        // The switch's port MACs: what its router answers ARP and ND with and sends from.
        let portMACs = try tb.switchPorts.map {
            try Shell.inNamespace(tb.switchNamespace, ["cat", "/sys/class/net/\($0)/address"]).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let dir = NSTemporaryDirectory() + "fabric-ident-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        addTeardownBlock {
            if (self.testRun?.totalFailureCount ?? 0) > 0 {
                print("fast path identity: captures kept in \(dir)")
            } else {
                try? FileManager.default.removeItem(atPath: dir)
            }
        }
        // The bridge bed's hosts have no IPv6 (and need none: the frames are sent and captured
        // raw). h1 knows h2's MAC for good, so its kernel sends h2 no unicast ARP probe that the
        // fast path would count with the set.
        let (source, destination) = family == 4 ? (tb.hostAddress(1), tb.hostAddress(2))
            : routed ? (tb.hostAddress6(1), tb.hostAddress6(2)) : ("fd77::1", "fd77::2")
        if !routed {
            try Shell.run(["ip", "-n", tb.hostNamespace(1), "neigh", "replace", tb.hostAddress(2), "lladdr", tb.hostMAC(2),
                           "dev", tb.hostInterface(1), "nud", "permanent"])
        }
        let what = "\(routed ? "router" : "bridge") IPv\(family)"

        var captures: [Capture] = []
        for fast in [false, true] {
            let run = fast ? "fast path" : "userspace"
            let sw = try startSwitch(tb, extra: ["--fastpath", fast ? "on" : "off"])
            // Prime: the bridge learns both MACs, the router resolves h2 (and h1 its gateway);
            // the fast path's maps take them at the next 100 ms tick.
            let pings = try Ping.run(from: tb.hostNamespace(1), to: routed && family == 6 ? tb.hostAddress6(2) : tb.hostAddress(2),
                                     count: 3, interval: 0.02)
            XCTAssertEqual(pings.received, 3, "\(what), \(run): priming pings h1 -> h2")
            usleep(400_000)
            let before = try report(tb)
            var args = ["python3", Self.helper, "--family", "\(family)",
                        "--tx", "\(tb.hostNamespace(1)):\(tb.hostInterface(1))", "--rx", "\(tb.hostNamespace(2)):\(tb.hostInterface(2))",
                        "--eth-src", tb.hostMAC(1), "--eth-dst", routed ? portMACs[0] : tb.hostMAC(2),
                        "--ip-src", source, "--ip-dst", destination,
                        "--pcap-sent", "\(dir)/sent.pcap", "--pcap-received", "\(dir)/\(fast ? "fastpath" : "userspace").pcap"]
            if routed { args += ["--router", "\(portMACs[1]),\(tb.hostMAC(2))"] }
            let out = try Shell.run(args)
            let capture = try JSONDecoder().decode(Capture.self, from: Data(out.utf8))
            let after = try report(tb)
            XCTAssertEqual(sw.stop(), 0, "\(what), \(run): clean shutdown")
            captures.append(capture)

            let n = UInt64(capture.sent.count)
            print("\(what), \(run): \(n) frames sent, \(capture.received.count) of them received by h2 (\(capture.others) other frames); "
                  + "h1's port: pipeline rx +\(after.ports[0].rxFrames - before.ports[0].rxFrames), "
                  + "fast path +\((after.ports[0].fastpathFrames ?? 0) - (before.ports[0].fastpathFrames ?? 0)) "
                  + "(punts \((after.ports[0].fastpathPunts ?? [:]).filter { $0.value > 0 }))")
            XCTAssertEqual(capture.problems, [String](), "\(what), \(run): frames not as a \(routed ? "router" : "bridge") must forward them")
            XCTAssertEqual(capture.received.count, capture.sent.count, "\(what), \(run): every frame of the set reached h2")
            print("\(what), \(run): arrival order \(capture.order), microseconds from send \(capture.latencyUs)")
            if fast {
                // XDP forwards each frame as it comes.
                XCTAssertEqual(capture.order, Array(0..<capture.sent.count), "\(what): the fast path kept the order")
            } else {
                // The pipeline keeps the order within a traffic class; a higher class may
                // overtake (strict priority: DSCP 48 is TC6) when frames meet in its queues.
                let tc = tb.switchConfig().qos.dscpToTC
                for c in Set(capture.dscp.map { tc[$0] }) {
                    let inClass = capture.order.filter { tc[capture.dscp[$0]] == c }
                    XCTAssertEqual(inClass, inClass.sorted(), "\(what): userspace kept the order within TC\(c)")
                }
            }
            if fast {
                XCTAssertEqual((after.ports[0].fastpathFrames ?? 0) - (before.ports[0].fastpathFrames ?? 0), n,
                               "\(what): h1's port forwarded the set in XDP: punts \(after.ports[0].fastpathPunts ?? [:])")
                XCTAssertEqual((after.ports[1].fastpathTxFrames ?? 0) - (before.ports[1].fastpathTxFrames ?? 0), n,
                               "\(what): XDP sent the set out of h2's port")
            } else {
                XCTAssertNil(after.ports[0].fastpathFrames, "\(what): no fast path with --fastpath off")
                XCTAssertGreaterThanOrEqual(after.ports[0].rxFrames - before.ports[0].rxFrames, n, "\(what): the set through the pipeline")
                XCTAssertGreaterThanOrEqual(after.ports[1].txFrames - before.ports[1].txFrames, n, "\(what): out of h2's port by the pipeline")
            }
        }

        let (user, xdp) = (captures[0], captures[1])
        XCTAssertEqual(user.sent, xdp.sent, "the same frames sent in both runs")
        XCTAssertEqual(xdp.received.count, user.received.count, "\(what): as many frames through the fast path as through userspace")
        var identical = 0
        var differences: [String] = []
        for i in user.sent.indices {
            guard let u = user.received(i), let x = xdp.received(i) else { continue }   // missing: failed above
            if u == x {
                identical += 1
            } else {
                differences.append("frame \(i) (\(user.names[i])) \(Self.difference(u, x))")
            }
        }
        print("\(what): \(identical) of \(user.sent.count) frames byte-identical through the fast path and userspace")
        XCTAssertEqual(identical, user.sent.count,
                       "\(what): every frame byte-identical; differing:\n  " + differences.joined(separator: "\n  "))
    }

    /// Where two frames (hex) first differ, for a person.
    static func difference(_ userspace: String, _ fastpath: String) -> String {
        let u = Array(userspace.utf8), x = Array(fastpath.utf8)
        guard let k = (0..<min(u.count, x.count)).first(where: { u[$0] != x[$0] }) else {
            return "userspace \(u.count / 2) bytes, fast path \(x.count / 2)"
        }
        let byte = k / 2
        func at(_ s: [UInt8]) -> String { String(decoding: s[(byte * 2)..<min(s.count, byte * 2 + 16)], as: UTF8.self) }
        return "from byte \(byte): userspace \(at(u)), fast path \(at(x)) (lengths \(u.count / 2), \(x.count / 2))"
    }
}

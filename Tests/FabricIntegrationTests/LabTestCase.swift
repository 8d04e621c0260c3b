import FabricConfig
import FabricCore
import FabricLab
import Foundation
import XCTest

/// The shared frame of every integration test: root or skip, the built `fabric` executable,
/// a stats file, and test beds and switches that are removed after the test whatever happens
/// (XCTest runs teardown blocks also when an assertion fails).
class LabTestCase: XCTestCase {
    var fabric = ""
    var statsFile = ""

    override func setUpWithError() throws {
        try XCTSkipUnless(getuid() == 0, "integration tests need root (namespaces, veth, XDP); run scripts/test.sh as root")
        let dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        var candidate = dir.appendingPathComponent("fabric").path
        if !FileManager.default.isExecutableFile(atPath: candidate) {
            candidate = dir.deletingLastPathComponent().appendingPathComponent("fabric").path
        }
        fabric = candidate
        guard FileManager.default.isExecutableFile(atPath: fabric) else {
            XCTFail("no fabric executable next to the test bundle (\(fabric)); run `swift build` first (scripts/test.sh does)")
            throw XCTSkip("fabric not built")
        }
        statsFile = NSTemporaryDirectory() + "fabric-it-\(getpid())-\(UUID().uuidString.prefix(8)).json"
    }

    /// Starts the built `fabric switch` (it finds the XDP object next to the build).
    var launcher: SwitchLauncher { SwitchLauncher(fabric: fabric) }

    /// The echo replies `ping`'s summary line reports ("3 packets transmitted, 3 received").
    func pingReplies(_ output: String) -> Int {
        let line = output.split(separator: "\n").first { $0.contains("received") } ?? ""
        return line.split(separator: ",").first { $0.contains("received") }?.split(separator: " ").first.flatMap { Int($0) } ?? 0
    }

    /// iperf3 TCP from host `from` to host `to` (1-based) for `seconds`, a one-shot server on
    /// `port`: the receiver's bits per second (fails the test when iperf3 gives none).
    func iperf3(_ tb: TopologyTestbed, from: Int, to: Int, seconds: Int = 1, port: Int = 5202) throws -> Double {
        let server = try ChildProcess(["ip", "netns", "exec", tb.hostNamespace(to), "iperf3", "-s", "-1", "-p", "\(port)"])
        defer { server.stop(grace: 2) }
        usleep(300_000)
        let out = try Shell.inNamespace(tb.hostNamespace(from), ["iperf3", "-c", tb.hostAddress(to), "-p", "\(port)", "-t", "\(seconds)", "-J"],
                                        check: false)
        return try XCTUnwrap(iperf3ReceivedBitsPerSecond(out), "iperf3 h\(from) -> h\(to): \(out.prefix(400))")
    }

    /// `end.sum_received.bits_per_second` of iperf3's `-J` output; nil when it is not there.
    func iperf3ReceivedBitsPerSecond(_ json: String) -> Double? {
        let root = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        return (((root?["end"] as? [String: Any])?["sum_received"] as? [String: Any])?["bits_per_second"] as? NSNumber)?.doubleValue
    }

    /// A star test bed with a prefix no other run uses, removed after the test.
    func makeTestbed(hosts: Int, routed: Bool = false, mtu: Int = 1500, queues: Int = 1) throws -> TopologyTestbed {
        let tb = TopologyTestbed.star(prefix: "it" + String(UUID().uuidString.prefix(5)).lowercased(), hosts: hosts, routed: routed, mtu: mtu,
                                      queues: queues)
        addTeardownBlock {
            tb.down()
            XCTAssertEqual(tb.existingNamespaces(), [], "test bed namespaces left behind")
            XCTAssertFalse(FileManager.default.fileExists(atPath: tb.configPath), "test bed configuration left behind")
            try? FileManager.default.removeItem(atPath: self.statsFile)
        }
        try tb.up()
        return tb
    }

    /// The test bed's own switch configuration with port `n` (1-based) at `gbps` (others
    /// unchanged), then `edit`.
    func config(_ tb: TopologyTestbed, speeds: [Int: Double] = [:], _ edit: (inout SwitchConfig) -> Void = { _ in }) -> SwitchConfig {
        var c = tb.switchConfig()
        for (n, gbps) in speeds { c.ports[n - 1].speedGbps = gbps }
        edit(&c)
        return c
    }

    /// The switch on `tb` from its generated configuration or `config`, stopped after the test.
    func startSwitch(_ tb: TopologyTestbed, config: SwitchConfig? = nil, extra: [String] = [], ipNetnsExec: Bool = false) throws -> RunningSwitch {
        var path = tb.configPath
        if let c = config {
            path = NSTemporaryDirectory() + "fabric-it-\(getpid())-\(UUID().uuidString.prefix(8)).yaml"
            try SwitchConfigYAML.write(c, to: path, header: "\(name)")
            addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        }
        var l = launcher
        l.arguments = extra
        l.ipNetnsExec = ipNetnsExec
        let sw = try l.start(.init(namespace: tb.switchNamespace, config: path, statsFile: statsFile))
        addTeardownBlock { sw.stop(grace: 5) }
        return sw
    }

    /// A routed test bed with the switch running as its router.
    func routedBedWithSwitch(hosts: Int) throws -> (TopologyTestbed, RunningSwitch) {
        let tb = try makeTestbed(hosts: hosts, routed: true)
        return (tb, try startSwitch(tb))
    }
}

extension SwitchConfig {
    /// What the lossless tests give a software switch: no reserve, a 64 KB static threshold, and
    /// headroom that also covers what waits in its own rx ring when XOFF goes out (up to 2048
    /// frames, measured peaks of 0.4-0.55 MB): 3 MB.
    mutating func useSmallLosslessBuffers() {
        buffers.lossless = BufferConfig.Profile(reservedBytes: 0, threshold: .fixed(64 * 1024))
        buffers.xonOffsetBytes = 32 * 1024
        buffers.headroomBytes = 3 << 20
    }
}

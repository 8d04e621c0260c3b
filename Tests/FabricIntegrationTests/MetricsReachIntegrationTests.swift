import FabricLab
import Foundation
import XCTest

/// A Prometheus outside the switch's namespace scrapes it the way the README says: a veth pair
/// from the host's namespace into the switch's, `--metrics ADDRESS:PORT --metrics-public` on the
/// switch's end, the scrape from the host's end.
final class MetricsReachIntegrationTests: LabTestCase {
    func testHostNamespaceScrapesTheSwitchOverAManagementVeth() throws {
        let tb = try makeTestbed(hosts: 2, routed: true)
        let host = "\(tb.prefix)mg", inside = "\(tb.prefix)ms"
        addTeardownBlock { _ = try? Shell.run(["ip", "link", "del", host], check: false) }
        try Shell.run(["ip", "link", "add", host, "type", "veth", "peer", "name", inside])
        try Shell.run(["ip", "link", "set", inside, "netns", tb.switchNamespace])
        try Shell.run(["ip", "addr", "add", "169.254.77.1/30", "dev", host])
        try Shell.run(["ip", "link", "set", host, "up"])
        try Shell.inNamespace(tb.switchNamespace, ["ip", "addr", "add", "169.254.77.2/30", "dev", inside])
        try Shell.inNamespace(tb.switchNamespace, ["ip", "link", "set", inside, "up"])
        let sw = try startSwitch(tb, extra: ["--metrics", "169.254.77.2:9464", "--metrics-public"])
        XCTAssertTrue(sw.child.output.contains("Prometheus metrics at http://169.254.77.2:9464/metrics"), sw.child.output)
        XCTAssertEqual(try Ping.run(from: tb.hostNamespace(1), to: tb.hostAddress(2), count: 3).received, 3)
        // From this (the host's) namespace, with Prometheus' own parser.
        let script = """
            import urllib.request
            from prometheus_client.parser import text_string_to_metric_families
            text = urllib.request.urlopen('http://169.254.77.2:9464/metrics', timeout=5).read().decode()
            fams = {f.name: f for f in text_string_to_metric_families(text)}
            up = [s.value for s in fams['fabric_up'].samples][0]
            print('fabric_up', int(up), 'families', len(fams))
            """
        let out = try Shell.run(["python3", "-c", script], check: false)
        XCTAssertTrue(out.contains("fabric_up 1"), out)
        XCTAssertEqual(sw.child.stop(), 0)
    }
}

import Foundation

/// The kernel's own counters of an interface (`ip -s -j link`), read from outside.
public struct LinkStats: Sendable {
    public var rxPackets: UInt64
    public var rxBytes: UInt64
    public var txPackets: UInt64
    public var txBytes: UInt64
    public var rxDropped: UInt64
    public var txDropped: UInt64

    public static func read(namespace ns: String, device: String) throws -> LinkStats {
        let out = try Shell.run(["ip", "-n", ns, "-s", "-j", "link", "show", "dev", device])
        guard let arr = try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [[String: Any]],
              let stats = arr.first?["stats64"] as? [String: Any],
              let rx = stats["rx"] as? [String: Any], let tx = stats["tx"] as? [String: Any] else {
            throw TestbedError("cannot read counters of \(ns):\(device)")
        }
        func n(_ d: [String: Any], _ k: String) -> UInt64 { (d[k] as? NSNumber)?.uint64Value ?? 0 }
        return LinkStats(rxPackets: n(rx, "packets"), rxBytes: n(rx, "bytes"), txPackets: n(tx, "packets"),
                         txBytes: n(tx, "bytes"), rxDropped: n(rx, "dropped"), txDropped: n(tx, "dropped"))
    }
}

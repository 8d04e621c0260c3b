import Foundation

/// A star test bed: N host namespaces, each with one veth to a single switch namespace.
///
///     <prefix>-h1 [eth0 10.77.0.1/24] ── veth ── [h1] <prefix>-sw [h2] ── veth ── [eth0 10.77.0.2/24] <prefix>-h2
///
/// - Addresses come from 10.77.0.0/24 (host i is 10.77.0.i), MACs are 02:5f:00:00:00:<i>; both
///   exist only inside the namespaces created here. The switch ports carry no address: the
///   switch is a bridge.
/// - VLAN offload is off on both veth ends (tags must stay in the frame), and so is TX
///   checksum offload: a veth otherwise hands out UDP/TCP frames whose checksum is only
///   "to be filled in" (CHECKSUM_PARTIAL). A switch that forwards raw frames through AF_XDP
///   would pass on the unfinished checksum, and the receiving host drops the segment.
/// - IPv6 is off in every namespace of the test bed so the only frames on the wire are the
///   ones a test sends (plus ARP), and the switch namespace's kernel never talks on the switch
///   ports; the foundation switch is an L2 bridge and does not need IPv6.
/// - Hosts need nothing extra to receive what the switch sends: AF_XDP TX hands an skb to the
///   veth, which delivers it like any other frame. (XDP *redirect* into a veth would need an
///   XDP program on the peer; see bpf/xdp_pass.bpf.c, used by the benchmarks.)
///
/// `up` first removes anything left by an earlier run with the same prefix (safe after a
/// crash); `down` removes every namespace with the prefix, and with it every veth.
public struct Testbed: Sendable {
    public let prefix: String
    public let hostCount: Int

    public init(prefix: String = "sf", hosts: Int = 4) {
        self.prefix = prefix
        self.hostCount = hosts
    }

    public var switchNamespace: String { "\(prefix)-sw" }
    public func hostNamespace(_ i: Int) -> String { "\(prefix)-h\(i)" }
    /// Name of the switch port (in the switch namespace) facing host i.
    public func switchPort(_ i: Int) -> String { "h\(i)" }
    public var switchPorts: [String] { (1...hostCount).map(switchPort) }
    public func hostAddress(_ i: Int) -> String { "10.77.0.\(i)" }
    public func hostMAC(_ i: Int) -> String { String(format: "02:5f:00:00:00:%02x", i) }
    public static let hostInterface = "eth0"

    public func validate() throws {
        guard (1...200).contains(hostCount) else { throw TestbedError("hosts must be 1...200 (got \(hostCount))") }
        guard !prefix.isEmpty, prefix.count <= 8,
              prefix.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" }) else {
            throw TestbedError("prefix '\(prefix)' must be 1-8 letters, digits or '-'")
        }
    }

    /// Namespaces of this test bed that exist now.
    public func existingNamespaces() -> [String] {
        let out = (try? Shell.run(["ip", "netns", "list"])) ?? ""
        let names = out.split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) }
        let hostPattern = "\(prefix)-h"
        return names.filter { n in
            n == switchNamespace || (n.hasPrefix(hostPattern) && Int(n.dropFirst(hostPattern.count)) != nil)
        }
    }

    public func up() throws {
        try validate()
        down()
        do {
            try Shell.run(["ip", "netns", "add", switchNamespace])
            try Shell.inNamespace(switchNamespace, ["ip", "link", "set", "lo", "up"])
            // The switch ports belong to the switch: the kernel of the switch namespace must not
            // talk on them (IPv6 would send router solicitations and MLD reports).
            try Shell.inNamespace(switchNamespace, ["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"])
            try Shell.inNamespace(switchNamespace, ["sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"])
            for i in 1...hostCount {
                let ns = hostNamespace(i)
                let port = switchPort(i)
                try Shell.run(["ip", "netns", "add", ns])
                try Shell.run(["ip", "-n", switchNamespace, "link", "add", port, "type", "veth",
                               "peer", "name", Self.hostInterface, "netns", ns])
                try Shell.inNamespace(ns, ["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"])
                try Shell.inNamespace(ns, ["sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"])
                try Shell.run(["ip", "-n", ns, "link", "set", Self.hostInterface, "address", hostMAC(i)])
                try Shell.run(["ip", "-n", ns, "addr", "add", "\(hostAddress(i))/24", "dev", Self.hostInterface])
                try Shell.run(["ip", "-n", ns, "link", "set", "lo", "up"])
                try Shell.run(["ip", "-n", ns, "link", "set", Self.hostInterface, "up"])
                try Shell.run(["ip", "-n", switchNamespace, "link", "set", port, "up"])
                // Keep VLAN tags in the frame on both ends (ethtool may be missing a feature on
                // old kernels; that is not fatal).
                try Shell.inNamespace(ns, ["ethtool", "-K", Self.hostInterface, "rxvlan", "off", "txvlan", "off"], check: false)
                try Shell.inNamespace(switchNamespace, ["ethtool", "-K", port, "rxvlan", "off", "txvlan", "off"], check: false)
                try Shell.inNamespace(ns, ["ethtool", "-K", Self.hostInterface, "tx", "off"])
                try Shell.inNamespace(switchNamespace, ["ethtool", "-K", port, "tx", "off"])
            }
        } catch {
            down()
            throw error
        }
    }

    /// Removes every namespace of this test bed (and so every veth and XDP program in them).
    /// Idempotent; never throws.
    public func down() {
        for ns in existingNamespaces() {
            _ = try? Shell.run(["ip", "netns", "del", ns], check: false)
        }
    }

    /// Describes the test bed for a person.
    public var summary: String {
        var s = "test bed '\(prefix)': switch namespace \(switchNamespace), ports \(switchPorts.joined(separator: ","))\n"
        for i in 1...hostCount {
            s += "  \(hostNamespace(i)): \(Self.hostInterface) \(hostAddress(i))/24 \(hostMAC(i)) <-> \(switchNamespace):\(switchPort(i))\n"
        }
        return s
    }
}

public struct TestbedError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}

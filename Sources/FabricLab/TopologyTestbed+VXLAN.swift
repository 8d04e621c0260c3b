import FabricCore
import FabricPacket
import Foundation

/// A bed's VXLAN links (Topology+VXLAN.swift), as containerlab makes them: the device is made in
/// the machine's namespace (`underlayNamespace`) with the underlay device that reaches `remote`,
/// then moved into its node's namespace under the endpoint's name. Its MTU is the link's, or the
/// underlay's less the VXLAN overhead; the switch gets it as one more port.
extension TopologyTestbed {
    /// `ip` in the machine's namespace.
    func underlayIP(_ args: [String]) -> [String] { ["ip"] + (underlayNamespace.map { ["-n", $0] } ?? []) + args }

    /// The name VXLAN link `i` has in the machine's namespace until it moves (unique per bed,
    /// so that it never meets an interface of the machine's).
    func vxlanStagingName(_ i: Int) -> String { "vx\(prefix)-\(i)" }

    /// The underlay device towards `remote` and its MTU, as the machine's routing table has it.
    func underlay(towards remote: String) throws -> (device: String, mtu: Int) {
        let route = try Shell.run(underlayIP(["-o", "route", "get", remote]))
        let words = route.split(whereSeparator: \.isWhitespace).map(String.init)
        guard let i = words.firstIndex(of: "dev"), i + 1 < words.count else {
            throw TestbedError("no underlay route towards \(remote) in \(underlayNamespace.map { "namespace \($0)" } ?? "this namespace"): \(route)")
        }
        let link = try Shell.run(underlayIP(["-o", "link", "show", "dev", words[i + 1]]))
        let lw = link.split(whereSeparator: \.isWhitespace).map(String.init)
        guard let m = lw.firstIndex(of: "mtu"), m + 1 < lw.count, let mtu = Int(lw[m + 1]) else {
            throw TestbedError("no MTU for underlay device \(words[i + 1]): \(link)")
        }
        return (words[i + 1], mtu)
    }

    /// Makes every VXLAN link's device and moves it into its node's namespace.
    func addVXLANLinks() throws {
        for (i, l) in topology.vxlanLinks.enumerated() {
            try Interrupt.check()
            let (device, underlayMTU) = try underlay(towards: l.remote)
            let mtu = try l.interfaceMTU(underlay: underlayMTU)
            let staging = vxlanStagingName(i), ns = namespace(l.endpoint.node)
            try Shell.run(underlayIP(["link", "add", staging, "mtu", "\(mtu)", "type", "vxlan", "id", "\(l.vni)", "remote", l.remote,
                                      "dstport", "\(l.udpPort)", "dev", device]))
            try Shell.run(underlayIP(["link", "set", staging, "netns", ns]))
            try Shell.run(["ip", "-n", ns, "link", "set", staging, "name", l.endpoint.interface])
            try Shell.run(["ip", "-n", ns, "link", "set", l.endpoint.interface, "address", vxlanMAC(i).description])
            // As on a veth: tags stay in the frame, checksums are finished before the switch sees them.
            try Shell.inNamespace(ns, ["ethtool", "-K", l.endpoint.interface, "rxvlan", "off", "txvlan", "off"], check: false)
            try Shell.inNamespace(ns, ["ethtool", "-K", l.endpoint.interface, "tx", "off"], check: false)
            try Shell.run(["ip", "-n", ns, "link", "set", l.endpoint.interface, "up"])
            vxlanMTUs[l.endpoint.description] = mtu
            // A bridge forwards, it does not fragment: a frame larger than the tunnel's MTU is lost
            // in it. (A router drops it and counts it: oversize.)
            if topology.mode == .bridge, let widest = topology.links.map(topology.mtu(of:)).max(), widest > mtu {
                notes.append("vxlan link \(l.endpoint): its MTU is \(mtu), the bed's links carry \(widest); "
                             + "frames over \(mtu) are lost in the tunnel (give the bed swiftfabric.mtu: \(mtu))")
            }
        }
    }

    /// VXLAN link `i`'s MAC: the file's, else 02:5f:vv:vv:vv:fd from the VNI, the same on both
    /// machines (a learning bridge never sends from its port's own MAC).
    func vxlanMAC(_ i: Int) -> MACAddress {
        let l = topology.vxlanLinks[i]
        return l.mac.flatMap { MACAddress($0) } ?? MACAddress(rawValue: 0x025F_0000_00FD | UInt64(l.vni) << 8)
    }

    /// Switch `node`'s VXLAN links as ports of its configuration, and its `buffers.mtu` large
    /// enough for each interface's MTU.
    func addVXLANPorts(_ node: String, to c: inout SwitchConfig) {
        for (i, l) in topology.vxlanLinks.enumerated() where l.endpoint.node == node {
            c.ports.append(PortConfig(name: l.endpoint.interface, mac: vxlanMAC(i), speedGbps: topology.uplinkGbps))
            if let mtu = vxlanMTUs[l.endpoint.description] ?? l.mtu { c.buffers.mtu = max(c.buffers.mtu, mtu) }
        }
    }

    /// A VXLAN device `up` made but had not yet moved when it failed (a moved one goes with
    /// its node's namespace).
    func removeVXLANLeftovers() {
        for i in topology.vxlanLinks.indices {
            _ = try? Shell.run(underlayIP(["link", "del", vxlanStagingName(i)]), check: false)
        }
    }
}

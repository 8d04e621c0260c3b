// A lab split over two machines, as containerlab splits one: each machine's file holds its half
// of the lab and, for every link that crosses to the other machine, an extended link of
// `type: vxlan` (containerlab.dev/manual/multi-node):
//
//   - type: vxlan
//     endpoint: {node: br1, interface: vx1}    # this half's node and the interface it sees
//     remote: 192.0.2.2                        # the other machine's underlay address
//     vni: 100                                 # the same on both machines
//     dst-port: 4789                           # (containerlab's reader also takes udp-port)
//     mtu: 1450                                # optional: at most the underlay MTU - 50
//
// `fabric testbed up` creates the VXLAN device in the machine's namespace (where it runs, or
// --underlay-netns), where its underlay reaches `remote`, and moves it into the node's namespace
// under the endpoint's interface name; the tunnel's sockets stay in the machine's namespace.
//
// Limit: a VXLAN link joins the L2 domains of the two halves. It ends on a switch or bridge node
// of an L2 bed (mode bridge, or a bridge node); the hosts of both halves share 10.B.0.0/24, the
// second half numbering its hosts after the first's (`swiftfabric.first_host`). A routed bed
// refuses it: its AddressPlan numbers switch-to-switch links within one bed, and a link whose
// far end is another bed's switch would need the two plans to agree on addresses and routes.
import FabricPacket
import Foundation

extension Topology {
    /// A link from `endpoint` to a node on another machine, through VXLAN.
    public struct VXLANLink: Sendable, Equatable {
        public var endpoint: Endpoint
        /// The other machine's underlay address (IPv4 or IPv6).
        public var remote: String
        public var vni: Int
        public var udpPort: Int
        /// The VXLAN interface's MTU (nil: the underlay MTU less `overhead`).
        public var mtu: Int?
        /// The VXLAN interface's MAC (nil: the bed gives it one).
        public var mac: String?
        public init(endpoint: Endpoint, remote: String, vni: Int, udpPort: Int = Self.ianaPort, mtu: Int? = nil, mac: String? = nil) {
            (self.endpoint, self.remote, self.vni, self.udpPort, self.mtu, self.mac) = (endpoint, remote, vni, udpPort, mtu, mac)
        }

        /// IANA's VXLAN port (RFC 7348 section 5).
        public static let ianaPort = 4789
        /// What VXLAN adds to every frame on the underlay (RFC 7348 section 5): outer IPv4 20
        /// (IPv6 40) + UDP 8 + VXLAN 8 + the inner Ethernet header 14, which the inner MTU does
        /// not count.
        public var overhead: Int { isV6 ? 70 : 50 }
        var isV6: Bool { remote.contains(":") }

        /// The interface MTU on an underlay of MTU `underlay`: the link's own, if it fits.
        public func interfaceMTU(underlay: Int) throws -> Int {
            let fits = underlay - overhead
            if let mtu {
                guard mtu <= fits else {
                    throw TestbedError("vxlan link \(endpoint): mtu \(mtu) does not fit the underlay towards \(remote) (MTU \(underlay) "
                                       + "less \(overhead) bytes of VXLAN over IPv\(isV6 ? 6 : 4) is \(fits)); give mtu \(fits) or less")
                }
                return mtu
            }
            return fits
        }
    }
}

/// One machine's part of a lab written as one file: `fabric testbed up --topology WHOLE --nodes
/// a,b,... --remote ADDR` builds only these nodes, and every link from one of them to a node on
/// the other machine becomes a VXLAN link towards `remote` (VNI `vniBase` + the link's index in
/// the whole file, so both machines agree). The addressing and routes stay the whole lab's
/// (`AddressPlan` of the whole topology), which is what lets a routed lab span two machines: a
/// crossing link keeps its addresses at both ends. A host stays on its switch's machine.
extension Topology {
    public struct Split: Sendable, Equatable, Codable {
        public var nodes: [String]
        public var remote: String
        public var vniBase: Int
        public var udpPort: Int
        public init(nodes: [String], remote: String, vniBase: Int = Self.defaultVNIBase, udpPort: Int = VXLANLink.ianaPort) {
            (self.nodes, self.remote, self.vniBase, self.udpPort) = (nodes, remote, vniBase, udpPort)
        }
        public static let defaultVNIBase = 10_000
    }

    /// The part of this topology `split` keeps: its nodes, the links among them, and the links
    /// that cross to the other machine as VXLAN links at the link's MTU.
    public func part(_ split: Split) throws -> Topology {
        let local = Set(split.nodes)
        for n in split.nodes where kind(n) == nil {
            throw TestbedError("--nodes: the topology has no node '\(n)'; its nodes: \(nodes.map(\.name).joined(separator: ","))")
        }
        guard IPAddress(split.remote) != nil else { throw TestbedError("--remote: expected the other machine's IPv4 or IPv6 address, got '\(split.remote)'") }
        guard vxlanLinks.isEmpty else { throw TestbedError("--nodes: this topology has vxlan links of its own; give the whole lab, without them") }
        var t = self
        t.nodes = nodes.filter { local.contains($0.name) }
        t.links = []
        t.vxlanLinks = []
        for (i, l) in links.enumerated() {
            switch (local.contains(l.a.node), local.contains(l.b.node)) {
            case (true, true): t.links.append(l)
            case (false, false): continue
            case (let aHere, _):
                let (mine, far) = aHere ? (l.a, l.b) : (l.b, l.a)
                guard kind(mine.node) == .switch, kind(far.node) == .switch else {
                    let host = kind(mine.node) == .host ? mine.node : far.node
                    throw TestbedError("--nodes: host \(host)'s link \(l.a) -- \(l.b) would cross machines: "
                                       + "a host goes on its switch's machine")
                }
                let vni = split.vniBase + i + 1
                guard (1...16_777_215).contains(vni) else { throw TestbedError("--vni-base: VNI \(vni) of link \(i + 1) is out of range 1...16777215") }
                t.vxlanLinks.append(VXLANLink(endpoint: mine, remote: split.remote, vni: vni, udpPort: split.udpPort, mtu: mtu(of: l)))
            }
        }
        return t
    }
}

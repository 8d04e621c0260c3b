import FabricPacket

/// How the switch forwards: as a learning bridge (L2) or as a router (L3, RoCEv2-aware).
public enum ForwardingMode: String, Sendable, CaseIterable {
    case bridge, router
}

/// One switch port as configured.
public struct PortConfig: Sendable, Equatable {
    public var name: String
    /// The port's MAC; nil = the interface's own address.
    public var mac: MACAddress?
    /// Interface addresses with their prefix length (host bits kept): 10.77.1.254/24.
    public var addresses: [IPPrefix]
    public var trust: TrustMode
    /// Emulated line rate in Gb/s (the shaper, PFC quanta, headroom, port load); nil = unlimited.
    public var speedGbps: Double?
    /// Emulated propagation delay, switch to peer (`DelayLine`): a frame leaves no earlier than
    /// its departure from the shaper + this. 0: none.
    public var delayNanoseconds: UInt64
    /// Emulated random loss on the way out, percent (0...100; `RandomLoss`), counted as
    /// `emulated_loss`. The switch's own PFC frames are never lost.
    public var lossPercent: Double
    /// The loss draw's seed (nil: a fresh one each start).
    public var lossSeed: UInt64?

    /// Bit n set: PFC received on this port for priority n is honoured (802.1Qbb's per-port
    /// PFC enable; SONiC's `pfc_enable`). nil = the QoS maps' lossless traffic classes.
    public var pfcEnable: UInt8?

    public init(name: String, mac: MACAddress? = nil, addresses: [IPPrefix] = [], trust: TrustMode = .dscp, speedGbps: Double? = nil,
                delayNanoseconds: UInt64 = 0, lossPercent: Double = 0, lossSeed: UInt64? = nil, pfcEnable: UInt8? = nil) {
        self.name = name
        self.mac = mac
        self.addresses = addresses
        self.trust = trust
        self.speedGbps = speedGbps
        self.delayNanoseconds = delayNanoseconds
        self.lossPercent = lossPercent
        self.lossSeed = lossSeed
        self.pfcEnable = pfcEnable
    }
}

/// Link emulation limits: what a port's delay line may hold.
extension PortConfig {
    /// The longest delay a port takes (netem's limit is larger; a second of wire is already
    /// more than any fabric has).
    public static let maxDelayNanoseconds: UInt64 = 1_000_000_000
    /// The most frames one delay line holds (the largest egress queue capacity).
    public static let maxDelayLineFrames = 65536
    /// A port without an emulated speed has no bound on the frames on its wire: its line holds
    /// this many, and the link carries at most this many frames per delay (more wait in their
    /// egress queue).
    public static let unshapedDelayLineFrames = 4096
    /// The fewest wire bytes a frame takes: a 60-byte minimum frame (AF_XDP frames carry no
    /// FCS) + the shaper's 24 bytes of preamble, FCS and inter-frame gap.
    public static let minimumWireBytes = 84

    /// Frames on the wire at most with this delay at this speed: delay x line rate in
    /// minimum-size frames (0 without a delay, nil without a speed).
    public static func framesInFlight(delayNanoseconds: UInt64, gbps: Double?) -> Int? {
        guard delayNanoseconds > 0 else { return 0 }
        guard let g = gbps else { return nil }
        return Int((Double(delayNanoseconds) * g / 8 / Double(minimumWireBytes)).rounded(.up))
    }

    /// Entries of this port's delay line: `framesInFlight` rounded up to a power of two (at least
    /// 64), `unshapedDelayLineFrames` without a speed, 0 without a delay. Above
    /// `maxDelayLineFrames` the delay cannot be held (the loader refuses it).
    public var delayLineFrames: Int {
        guard let frames = Self.framesInFlight(delayNanoseconds: delayNanoseconds, gbps: speedGbps) else { return Self.unshapedDelayLineFrames }
        guard frames > 0 else { return 0 }
        var n = 64
        while n < frames { n <<= 1 }
        return n
    }

    /// The longest delay this port's speed lets a line of `maxDelayLineFrames` hold (nil:
    /// no speed, any delay up to `maxDelayNanoseconds`).
    public var longestDelayNanoseconds: UInt64? {
        guard let g = speedGbps else { return nil }
        return UInt64(Double(Self.maxDelayLineFrames * Self.minimumWireBytes) * 8 / g)
    }
}

/// A static route: a prefix and its next-hop addresses (more than one: ECMP).
public struct RouteConfig: Sendable, Equatable {
    public var prefix: IPPrefix
    public var nextHops: [IPAddress]
    /// The ECMP group's own mode, if it has one (else `load_balancing.mode`).
    public var mode: LoadBalancingMode?
    public init(prefix: IPPrefix, nextHops: [IPAddress], mode: LoadBalancingMode? = nil) {
        self.prefix = prefix
        self.nextHops = nextHops
        self.mode = mode
    }
}

/// `load_balancing`: the default mode of ECMP groups and the flowlet table.
public struct LoadBalancingConfig: Sendable, Equatable {
    public var mode: LoadBalancingMode = .ecmp
    /// A gap longer than this starts a new flowlet (Broadcom DLB's default 256 us).
    public var flowletIdleNanoseconds: UInt64 = 256_000
    /// Entries of the flowlet table (a power of two), hashed on the 5-tuple.
    public var flowletTableSize = 4096
    public init() {}
}

public struct NeighbourConfig: Sendable, Equatable {
    public var address: IPAddress
    public var mac: MACAddress
    public init(address: IPAddress, mac: MACAddress) {
        self.address = address
        self.mac = mac
    }
}

/// A validated switch configuration: everything the data plane needs, in plain values.
/// Produced by the YAML loader (FabricConfig) or built directly (tests, test bed).
public struct SwitchConfig: Sendable, Equatable {
    public var name: String
    public var mode: ForwardingMode
    public var ports: [PortConfig]
    public var routes: [RouteConfig]
    public var neighbours: [NeighbourConfig]
    public var qos: QoSMaps
    /// How ECMP groups choose their member by default, and the flowlet table.
    public var loadBalancing: LoadBalancingConfig
    public var ecn = ECNConfig()
    public var pfcWatchdog = PFCWatchdogConfig()
    public var buffers = BufferConfig()
    /// Neighbour table sizes, lifetimes and request rates (not in the YAML file yet: defaults).
    public var neighbourLimits = NeighbourLimits()

    public init(name: String = "switch", mode: ForwardingMode = .router, ports: [PortConfig], routes: [RouteConfig] = [],
                neighbours: [NeighbourConfig] = [], qos: QoSMaps = .nvidiaRoCE, loadBalancing: LoadBalancingConfig = LoadBalancingConfig()) {
        self.name = name
        self.mode = mode
        self.ports = ports
        self.routes = routes
        self.neighbours = neighbours
        self.qos = qos
        self.loadBalancing = loadBalancing
    }

    /// The priorities whose PFC port `port` honours: its `pfcEnable`, else the lossless TCs.
    public func pfcEnabled(port: Int) -> UInt8 { ports[port].pfcEnable ?? qos.losslessTCs }

    /// Port index whose connected subnet contains `address`, if any.
    public func connectedPort(for address: IPAddress) -> Int? {
        ports.firstIndex { $0.addresses.contains { $0.contains(address) } }
    }

    /// FIB entries: connected routes from port addresses, then static routes whose next hops
    /// resolve to the port of a connected subnet. Nil entries for unresolvable next hops are a
    /// configuration error the loader reports before this is called.
    public func fibEntries() -> [FIB.Entry] {
        var entries: [FIB.Entry] = []
        for (i, p) in ports.enumerated() {
            for a in p.addresses {
                entries.append(FIB.Entry(prefix: a.network, nextHops: [NextHop(port: i, gateway: nil)]))
            }
        }
        for r in routes {
            let hops = r.nextHops.compactMap { nh in connectedPort(for: nh).map { NextHop(port: $0, gateway: nh) } }
            if !hops.isEmpty { entries.append(FIB.Entry(prefix: r.prefix, nextHops: hops, mode: r.mode ?? loadBalancing.mode)) }
        }
        return entries
    }
}

/// What a configuration may hold beyond the ranges of single values (checked by the loader).
extension SwitchConfig {
    /// Ports one switch drives.
    public static let maxPorts = 255
    /// Static neighbours per family: a quarter of the IPv4 table's 4096 entries and half of
    /// the IPv6 table's 256, so every one is kept and learning (which stops at half of the
    /// IPv4 table) keeps room for the others.
    public static let maxStaticNeighboursV4 = 1024
    public static let maxStaticNeighboursV6 = 128

    /// Nil if `name` may name a switch, else why not: it names the control socket's directory
    /// (/run/swiftfabric/switch-NAME).
    public static func nameProblem(_ name: String) -> String? {
        guard !name.isEmpty, name.count <= 64, name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) else {
            return "switch name '\(name)' must be 1-64 letters, digits, '-', '_' or '.' (it names the control socket's directory)"
        }
        return nil
    }
}

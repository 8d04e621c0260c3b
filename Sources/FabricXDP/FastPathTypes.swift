// The fast path's tables as the control plane sees them: what `FastPathMaps` writes into
// `fp_config` and `fp_ports`, and what it reads back as a port's counters.

/// `fp_config`: whether the fast path runs, and what it needs of the QoS maps.
public struct FastPathConfig: Sendable, Equatable {
    /// The fast path forwards (else every frame goes to the socket, as without it).
    public var on = false
    /// Route (else bridge), as the switch's forwarding mode.
    public var router = true
    /// Stamp every frame sent to the socket with the time XDP saw it (8 bytes of metadata).
    public var stamp = false
    /// Bit n set: traffic class n goes to userspace (the QoS maps' lossless classes).
    public var userspaceTrafficClasses: UInt8 = 0
    /// The bridge's MAC aging time: a destination not seen for this long is unknown.
    public var macAgingNanoseconds: UInt64 = 300_000_000_000
    /// DSCP -> traffic class, 64 entries (`QoSMaps.dscpToTC`).
    public var dscpToTrafficClass: [UInt8] = Array(repeating: 0, count: 64)
    public init() {}
}

/// `fp_ports[i]`: what the fast path needs to know of port i, on the way in and out.
public struct FastPathPort: Sendable, Equatable {
    /// Frames arriving here may take the fast path.
    public var fastPath = true
    /// Carrier and admin up (`PortLoad.up`): ECMP skips a member whose link is down.
    public var linkUp = true
    /// In service (`Datapath.service`).
    public var inService = true
    /// Classifies by VLAN PCP (an untagged frame is then class 0).
    public var trustPCP = false
    /// Has an emulated speed, delay or loss: its frames must go through the egress queues.
    public var emulated = false
    /// Captured (`--capture`): every frame in or out must pass userspace.
    public var capture = false
    /// The longest frame its interface takes (`Datapath.largestFrame`); 0: no limit.
    public var largestFrame: UInt32 = 0
    /// The port's own MAC (`MACAddress.rawValue`): the router's source MAC, and the destination
    /// MAC a routed frame must arrive with.
    public var mac: UInt64 = 0
    public init() {}
}

/// Frames the fast path forwarded, on one port, summed over CPUs.
public struct FastPathPortStats: Sendable, Equatable {
    public var rxFrames: UInt64 = 0
    public var rxBytes: UInt64 = 0
    public var txFrames: UInt64 = 0
    public var txBytes: UInt64 = 0
    public init() {}
}

import FabricPacket

/// QoS classification as the data path applies it (the maps of `QoSMaps`): a packet's traffic
/// class from its DSCP or its VLAN PCP, per the ingress port's trust mode; a traffic class's
/// egress queue and ingress priority group.
public struct Classifier: ~Copyable {
    @usableFromInline let trustPCP: UnsafeMutablePointer<Bool>
    @usableFromInline let dscpToTC: UnsafeMutablePointer<UInt8>
    @usableFromInline let pcpToTC: UnsafeMutablePointer<UInt8>
    @usableFromInline let tcToQueue: UnsafeMutablePointer<UInt8>
    @usableFromInline let tcToPG: UnsafeMutablePointer<UInt8>

    public init(qos: QoSMaps, trust: [TrustMode]) {
        trustPCP = .allocate(capacity: max(1, trust.count))
        trustPCP.initialize(from: trust.map { $0 == .pcp }, count: trust.count)
        dscpToTC = .allocate(capacity: 64)
        dscpToTC.initialize(from: qos.dscpToTC.map { $0 & 7 }, count: 64)
        pcpToTC = .allocate(capacity: 8)
        pcpToTC.initialize(from: qos.pcpToTC.map { $0 & 7 }, count: 8)
        tcToQueue = .allocate(capacity: 8)
        tcToQueue.initialize(from: qos.tcToQueue.map { $0 & 7 }, count: 8)
        tcToPG = .allocate(capacity: 8)
        tcToPG.initialize(from: qos.tcToPriorityGroup.map { $0 & 7 }, count: 8)
    }

    deinit {
        trustPCP.deallocate()
        for p in [dscpToTC, pcpToTC, tcToQueue, tcToPG] { p.deallocate() }
    }

    /// The traffic class of an IP packet that arrived on `port` (an untagged packet on a port
    /// that trusts PCP is class 0).
    @inlinable public func trafficClass(port: Int, info: PacketInfo) -> UInt8 {
        trafficClass(trustsPCP: trustPCP[port], info: info)
    }

    /// `trafficClass(port:info:)` on a port whose trust mode the caller read once (a batch
    /// comes from one port).
    @inlinable @inline(__always) public func trafficClass(trustsPCP: Bool, info: PacketInfo) -> UInt8 {
        trustsPCP ? (info.hasVLAN ? pcpToTC[Int(info.pcp & 7)] : 0) : dscpToTC[Int(info.dscp & 63)]
    }

    /// Whether `port` classifies by VLAN PCP (else by DSCP).
    @inlinable public func trustsPCP(port: Int) -> Bool { trustPCP[port] }

    @inlinable public func queue(trafficClass tc: UInt8) -> Int { Int(tcToQueue[Int(tc & 7)]) }
    @inlinable public func priorityGroup(trafficClass tc: UInt8) -> Int { Int(tcToPG[Int(tc & 7)]) }

    /// New maps and trust modes from now on (a live change; the tables are rewritten in place,
    /// between two batches). `trust` has one entry per port.
    public func update(qos: QoSMaps, trust: [TrustMode]) {
        for (p, t) in trust.enumerated() { trustPCP[p] = t == .pcp }
        for i in 0..<64 { dscpToTC[i] = qos.dscpToTC[i] & 7 }
        for i in 0..<8 {
            pcpToTC[i] = qos.pcpToTC[i] & 7
            tcToQueue[i] = qos.tcToQueue[i] & 7
            tcToPG[i] = qos.tcToPriorityGroup[i] & 7
        }
    }
}

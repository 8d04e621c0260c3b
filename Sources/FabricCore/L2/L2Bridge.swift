import CFabricShims
import FabricPacket

/// Pipeline stage: an IEEE 802.1D-style transparent learning bridge that classifies as the
/// router does, so its lossless class is lossless too.
///
/// For each frame: drop runts; consume MAC Control (EtherType 0x8808: PAUSE, PFC), whatever
/// its destination, before anything else: 802.3 Annex 31B has the MAC Control sublayer use up
/// every such frame, so it is never relayed and teaches the MAC table nothing (the datapath's
/// PFC receiver decides whether to honour it). Then drop impossible source addresses, learn
/// the source on the ingress port, never forward other link-local group addresses (STP, LLDP),
/// flood group and unknown destinations, forward known unicast to its port, and drop frames
/// whose destination sits behind the port they came in on (no hairpin).
///
/// Classification (`Classifier`, the ingress port's trust): PCP of a VLAN-tagged frame, or the
/// DSCP of an IP packet, gives the traffic class, hence the egress queue, the ingress priority
/// group it is charged to and whether ECN may mark it (`Batch.ipVersion`). A frame that is not
/// IP (or not tagged, under PCP trust), or whose IP header is malformed, is bridged unchanged in
/// class 0 and never marked: a bridge relays what it cannot parse, it does not judge it.
public struct L2Bridge: ~Copyable {
    public var table: MACTable

    public init(table: consuming MACTable) { self.table = table }

    /// How many frames ahead stage 1 prefetches a frame's first cache line.
    @usableFromInline static var prefetchDistance: Int { 4 }

    public mutating func process(_ batch: inout Batch, frames: UnsafeRawPointer, classifier: borrowing Classifier) {
        let now = batch.timestamp
        let ingress = batch.ingress
        let count = batch.count
        // Stage 1: parse every frame, a later frame's header prefetched.
        for i in 0..<count {
            if i &+ Self.prefetchDistance < count { sf_prefetch(frames + Int(batch.addr[i &+ Self.prefetchDistance])) }
            FrameParser.parse(frames + Int(batch.addr[i]), length: Int(batch.len[i]), into: &batch.packet[i])
        }
        // Stage 2: learn, look up, classify.
        for i in 0..<count {
            let frame = frames + Int(batch.addr[i])
            let len = Int(batch.len[i])
            batch.tc[i] = 0
            batch.ipVersion[i] = 0
            guard let eth = EthernetView(frame, length: len) else {
                batch.verdict[i] = .drop(.runt)
                continue
            }
            let info = batch.packet[i]
            if info.etherType == EtherType.macControl {
                batch.verdict[i] = .consume
                continue
            }
            let src = eth.source
            if src.isGroup || src.isZero {
                batch.verdict[i] = .drop(.invalidSource)
                continue
            }
            table.learn(src, port: ingress, now: now)
            let dst = eth.destination
            if dst.isGroup {
                if dst.isLinkLocal {
                    batch.verdict[i] = .drop(.linkLocal)
                    continue
                }
                batch.verdict[i] = .flood
            } else if let port = table.lookup(dst, now: now) {
                if port == ingress {
                    batch.verdict[i] = .drop(.sameSegment)
                    continue
                }
                batch.verdict[i] = .port(port)
            } else {
                batch.verdict[i] = .flood
            }
            classify(&batch, i, info: info, port: ingress, classifier: classifier)
        }
    }

    /// Frame `i`'s traffic class and, for a well-formed IP packet, where its IP header is.
    @inlinable @inline(__always)
    func classify(_ batch: inout Batch, _ i: Int, info: PacketInfo, port: Int, classifier: borrowing Classifier) {
        // A UDP 4791 packet with a BTH opcode we do not know is still well-formed IP.
        let wellFormedIP = (info.error == nil || info.error == .unknownRoCEOpcode)
            && (info.etherType == EtherType.ipv4 || info.etherType == EtherType.ipv6)
        if classifier.trustsPCP(port: port) {
            // The tag is read before anything after it can fail to parse.
            batch.tc[i] = classifier.trafficClass(port: port, info: info)
        } else if wellFormedIP {
            batch.tc[i] = classifier.trafficClass(port: port, info: info)
        }
        if wellFormedIP {
            batch.l3Offset[i] = info.l3Offset
            batch.ipVersion[i] = info.etherType == EtherType.ipv4 ? 4 : 6
        }
    }
}

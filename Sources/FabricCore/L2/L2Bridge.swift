import FabricPacket

/// Pipeline stage: an IEEE 802.1D-style transparent learning bridge.
///
/// For each frame: drop runts and impossible source addresses, learn the source on the
/// ingress port, never forward link-local group addresses (PAUSE/PFC are consumed by the link),
/// flood group and unknown destinations, forward known unicast to its port, and drop frames
/// whose destination sits behind the port they came in on (no hairpin).
public struct L2Bridge: ~Copyable {
    public var table: MACTable

    public init(table: consuming MACTable) { self.table = table }

    public mutating func process(_ batch: inout Batch, frames: UnsafeRawPointer) {
        let now = batch.timestamp
        let ingress = batch.ingress
        for i in 0..<batch.count {
            guard let eth = EthernetView(frames + Int(batch.addr[i]), length: Int(batch.len[i])) else {
                batch.verdict[i] = .drop(.runt)
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
                batch.verdict[i] = dst.isLinkLocal ? .drop(.linkLocal) : .flood
            } else if let port = table.lookup(dst, now: now) {
                batch.verdict[i] = port == ingress ? .drop(.sameSegment) : .port(port)
            } else {
                batch.verdict[i] = .flood
            }
        }
    }
}

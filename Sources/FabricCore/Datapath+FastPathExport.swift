import FabricPacket

/// What the XDP fast path's control plane (FabricIO's `FastPathSync`) reads of the data path's
/// tables to mirror them into the BPF maps, and the two things it folds back: when the fast path
/// saw a bridged source (`refreshMAC`) and that it forwarded to a neighbour (`markNeighbourUsed`).
/// Off the per-packet path: each walks a whole table.
extension Datapath {
    /// The longest frame `port` takes (`setLargestFrame`; `UInt32.max`: not told yet).
    public func largestFrameBytes(port: Int) -> UInt32 { largestFrame[port] }

    /// Every learned MAC address (`MACAddress.rawValue`), its port and when it was last seen.
    public func forEachLearnedMAC(_ body: (_ mac: UInt64, _ port: Int, _ seen: UInt64) -> Void) {
        let keys = bridge.table.keys, ports = bridge.table.ports, seen = bridge.table.seen
        for i in 0..<bridge.table.capacity where keys[i] != 0 { body(keys[i], Int(ports[i]), seen[i]) }
    }

    /// The MAC table's aging time (nanoseconds).
    public var macAgingTime: UInt64 { bridge.table.agingTime }

    /// `mac` was seen (by the fast path) at `seen`: moves its last-seen time forward, never back.
    /// Nothing happens for an address the table does not hold.
    public mutating func refreshMAC(_ mac: UInt64, seen: UInt64) {
        guard mac != 0 else { return }
        let keys = bridge.table.keys, seenAt = bridge.table.seen, mask = bridge.table.mask
        var i = bridge.table.slot(mac)
        while true {
            let k = keys[i]
            if k == mac {
                if seen > seenAt[i] { seenAt[i] = seen }
                return
            }
            if k == 0 { return }
            i = (i &+ 1) & mask
        }
    }

    /// Every resolved IPv4 neighbour (host order), its MAC and until when it is good (monotonic
    /// nanoseconds: last confirmed + reachable time; 0 for a static one).
    public func forEachResolvedNeighbour4(_ body: (_ ip: UInt32, _ mac: UInt64, _ expires: UInt64) -> Void) {
        router.neighbours.v4.forEachResolved(body)
    }

    public func forEachResolvedNeighbour6(_ body: (_ ip: IPv6Address, _ mac: UInt64, _ expires: UInt64) -> Void) {
        router.neighbours.v6.forEachResolved(body)
    }

    /// The fast path forwarded to this neighbour: its entry counts as used (refreshed before it
    /// lapses), as a lookup by the router would have marked it.
    public mutating func markNeighbourUsed(v4 ip: UInt32) { router.neighbours.v4.markUsed(ip) }
    public mutating func markNeighbourUsed(v6 ip: IPv6Address) { router.neighbours.v6.markUsed(ip) }
}

extension NeighbourCache {
    func forEachResolved(_ body: (Key, UInt64, UInt64) -> Void) {
        for i in 0..<capacity where keys[i] != Key.unused && macs[i] != 0 {
            body(keys[i], macs[i], flags[i] & Self.isStatic != 0 ? 0 : stamps[i] &+ reachableTime)
        }
    }

    mutating func markUsed(_ key: Key) {
        guard let i = index(of: key), macs[i] != 0, flags[i] & Self.isStatic == 0 else { return }
        flags[i] |= Self.used
    }
}

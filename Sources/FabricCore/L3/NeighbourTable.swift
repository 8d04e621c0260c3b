import FabricPacket

/// IPv4 neighbours (ARP cache): address -> MAC and port, learned from ARP and from static
/// configuration. Open addressing over fixed arrays like `MACTable`; entries learned from
/// ARP age out after `reachableTime`, static ones never. An address being resolved has an
/// incomplete entry that remembers when the last request went out, so a burst of packets to
/// it sends one ARP request per `retryInterval`, not one per packet.
public struct NeighbourTable: ~Copyable {
    public let capacity: Int
    @usableFromInline let mask: Int
    @usableFromInline let keys: UnsafeMutablePointer<UInt32>   // 0 = empty (0.0.0.0 is never a neighbour)
    @usableFromInline let macs: UnsafeMutablePointer<UInt64>   // 0 = incomplete
    @usableFromInline let stamps: UnsafeMutablePointer<UInt64> // last confirmed, or last request if incomplete
    @usableFromInline let flags: UnsafeMutablePointer<UInt8>   // 1 = static
    public var count = 0
    public let reachableTime: UInt64
    public let retryInterval: UInt64

    /// IPv6 neighbours (static and learned by neighbour discovery): a small linear table, as a
    /// lab switch has a handful of IPv6 neighbours per port. Same states as IPv4.
    public static let v6Capacity = 256
    @usableFromInline let v6Keys: UnsafeMutablePointer<IPv6Address>
    @usableFromInline let v6Macs: UnsafeMutablePointer<UInt64>
    @usableFromInline let v6Stamps: UnsafeMutablePointer<UInt64>
    @usableFromInline let v6Static: UnsafeMutablePointer<Bool>
    @usableFromInline var v6Count = 0

    public init(capacity: Int = 4096, reachableTime: UInt64 = 300_000_000_000, retryInterval: UInt64 = 1_000_000_000) {
        precondition(capacity & (capacity - 1) == 0)
        self.capacity = capacity
        mask = capacity - 1
        self.reachableTime = reachableTime
        self.retryInterval = retryInterval
        keys = .filled(with: 0, count: capacity)
        macs = .filled(with: 0, count: capacity)
        stamps = .filled(with: 0, count: capacity)
        flags = .filled(with: 0, count: capacity)
        v6Keys = .allocate(capacity: Self.v6Capacity)
        v6Macs = .allocate(capacity: Self.v6Capacity)
        v6Stamps = .allocate(capacity: Self.v6Capacity)
        v6Static = .allocate(capacity: Self.v6Capacity)
    }

    deinit {
        keys.deallocate()
        macs.deallocate()
        stamps.deallocate()
        flags.deallocate()
        v6Keys.deallocate()
        v6Macs.deallocate()
        v6Stamps.deallocate()
        v6Static.deallocate()
    }

    @inlinable func slot(_ ip: UInt32) -> Int {
        Int(truncatingIfNeeded: (UInt64(ip) &* 0x9E37_79B9_7F4A_7C15) >> 40) & mask
    }

    /// Index of `ip`'s entry, or of the empty slot where it would go (nil if full).
    @inlinable func find(_ ip: UInt32) -> Int? {
        var i = slot(ip)
        for _ in 0..<capacity {
            if keys[i] == ip || keys[i] == 0 { return i }
            i = (i + 1) & mask
        }
        return nil
    }

    /// The MAC of a resolved, unexpired neighbour.
    @inlinable public func lookup(_ ip: UInt32, now: UInt64) -> MACAddress? {
        guard let i = find(ip), keys[i] == ip, macs[i] != 0 else { return nil }
        if flags[i] == 0 && now &- stamps[i] >= reachableTime { return nil }
        return MACAddress(rawValue: macs[i])
    }

    /// Records `ip` at `mac` (ARP reply, or any ARP from it). Static entries are not changed.
    public mutating func learn(_ ip: UInt32, mac: MACAddress, now: UInt64) {
        guard ip != 0, let i = find(ip) else { return }
        if keys[i] == 0 {
            guard count < capacity / 2 else { return }
            keys[i] = ip
            count += 1
        } else if flags[i] != 0 {
            return
        }
        macs[i] = mac.rawValue
        stamps[i] = now
    }

    public mutating func addStatic(_ ip: UInt32, mac: MACAddress) {
        guard ip != 0, let i = find(ip) else { return }
        if keys[i] == 0 { keys[i] = ip; count += 1 }
        macs[i] = mac.rawValue
        flags[i] = 1
    }

    @inlinable func index6(_ ip: IPv6Address) -> Int? {
        for i in 0..<v6Count where v6Keys[i] == ip { return i }
        return nil
    }

    mutating func insert6(_ ip: IPv6Address) -> Int? {
        if let i = index6(ip) { return i }
        guard v6Count < Self.v6Capacity else { return nil }
        v6Keys[v6Count] = ip
        v6Macs[v6Count] = 0
        v6Stamps[v6Count] = 0
        v6Static[v6Count] = false
        v6Count += 1
        return v6Count - 1
    }

    public mutating func addStatic(_ ip: IPv6Address, mac: MACAddress) {
        guard let i = insert6(ip) else { return }
        v6Macs[i] = mac.rawValue
        v6Static[i] = true
    }

    /// The MAC of a resolved, unexpired IPv6 neighbour.
    @inlinable public func lookup(_ ip: IPv6Address, now: UInt64) -> MACAddress? {
        guard let i = index6(ip), v6Macs[i] != 0 else { return nil }
        if !v6Static[i] && now &- v6Stamps[i] >= reachableTime { return nil }
        return MACAddress(rawValue: v6Macs[i])
    }

    /// Records `ip` at `mac` (neighbour advertisement or solicitation). Static entries stay.
    public mutating func learn(_ ip: IPv6Address, mac: MACAddress, now: UInt64) {
        guard let i = insert6(ip), !v6Static[i] else { return }
        v6Macs[i] = mac.rawValue
        v6Stamps[i] = now
    }

    /// As `shouldRequest` for IPv4: true when a neighbour solicitation should go out now.
    public mutating func shouldRequest(_ ip: IPv6Address, now: UInt64) -> Bool {
        guard let i = insert6(ip) else { return false }
        if v6Macs[i] != 0 && (v6Static[i] || now &- v6Stamps[i] < reachableTime) { return false }
        if v6Macs[i] != 0 { v6Macs[i] = 0; v6Stamps[i] = 0 }
        guard v6Stamps[i] == 0 || now &- v6Stamps[i] >= retryInterval else { return false }
        v6Stamps[i] = now
        return true
    }

    public func entries6(now: UInt64) -> [(ip: IPv6Address, mac: MACAddress?, isStatic: Bool)] {
        (0..<v6Count).map { i in (v6Keys[i], v6Macs[i] == 0 ? nil : MACAddress(rawValue: v6Macs[i]), v6Static[i]) }
    }

    /// For a packet that needs `ip` resolved: true when an ARP request should go out now
    /// (none sent for it within `retryInterval`). Creates the incomplete entry.
    public mutating func shouldRequest(_ ip: UInt32, now: UInt64) -> Bool {
        guard ip != 0, let i = find(ip) else { return false }
        if keys[i] == 0 {
            guard count < capacity / 2 else { return false }
            keys[i] = ip
            count += 1
            macs[i] = 0
            stamps[i] = now
            return true
        }
        if macs[i] != 0 && (flags[i] != 0 || now &- stamps[i] < reachableTime) { return false }  // resolved meanwhile
        if macs[i] != 0 { macs[i] = 0 }  // expired: resolve again
        guard now &- stamps[i] >= retryInterval || stamps[i] == 0 else { return false }
        stamps[i] = now
        return true
    }

    /// Every entry, for display.
    public func entries(now: UInt64) -> [(ip: UInt32, mac: MACAddress?, isStatic: Bool)] {
        (0..<capacity).compactMap { i in
            keys[i] == 0 ? nil : (keys[i], macs[i] == 0 ? nil : MACAddress(rawValue: macs[i]), flags[i] != 0)
        }
    }
}

import FabricPacket

/// An address the neighbour cache can key on: IPv4 (`UInt32`) or IPv6.
@usableFromInline protocol NeighbourKey: Equatable {
    /// The key of an empty slot (0.0.0.0 and :: are never neighbours).
    static var unused: Self { get }
    /// 64 bits that differ wherever two addresses do (hashed further by the users).
    var hashBits: UInt64 { get }
    var address: IPAddress { get }
}

extension UInt32: NeighbourKey {
    @inlinable static var unused: UInt32 { 0 }
    @inlinable var hashBits: UInt64 { UInt64(self) }
    @usableFromInline var address: IPAddress { .v4(self) }
}

extension IPv6Address: NeighbourKey {
    @inlinable static var unused: IPv6Address { IPv6Address(high: 0, low: 0) }
    // The hosts of one /64 differ only in `low`: it goes in whole, `high` multiplied in.
    @inlinable var hashBits: UInt64 { (high &* 0xFF51_AFD7_ED55_8CCD) ^ low }
    @usableFromInline var address: IPAddress { .v6(self) }
}

/// The neighbours of one address family: address -> MAC, in two states.
///
/// - *Incomplete*: a request went out and no answer came yet. Created only when a request is
///   sent (`startResolving`), asked for at most `probes` times `retryInterval` apart while
///   frames want it, and removed (failed) `probes` x `retryInterval` after the first request.
///   Each port keeps a ring of the last `perPort` addresses it started resolving: starting
///   one more overwrites the oldest, which, if still incomplete, gives way (an incomplete-limit
///   hit). So a port never has more than `perPort` incomplete entries, whatever it is sent.
/// - *Resolved*: a MAC confirmed at `stamps[i]` (an ARP or neighbour advertisement from it),
///   good for `reachableTime`. Used entries are asked again in the last `probes` retry
///   intervals of that time (`sweep`), so a neighbour in use never lapses while it answers;
///   unused or silent ones are removed when it ends (expired). At most `resolvedLimit`
///   (static ones included); incomplete entries never take their room.
///
/// Open addressing with linear probing over fixed arrays, sized so the table is at most half
/// full (`resolvedLimit` + ports x `perPort` entries), with backward-shift deletion as
/// `MACTable`; the hash is seeded per process, so which addresses share a probe run cannot
/// be worked out offline. Nothing allocates after `init`.
@usableFromInline struct NeighbourCache<Key: NeighbourKey>: ~Copyable {
    @usableFromInline static var isStatic: UInt8 { 1 }
    /// Set by `lookup` on a resolved entry: frames used it since it was last confirmed.
    @usableFromInline static var used: UInt8 { 2 }

    @usableFromInline let capacity: Int
    @usableFromInline let mask: Int
    @usableFromInline let shift: UInt64
    @usableFromInline let seed: UInt64
    @usableFromInline let keys: UnsafeMutablePointer<Key>
    @usableFromInline let macs: UnsafeMutablePointer<UInt64>     // 0 = incomplete
    @usableFromInline let stamps: UnsafeMutablePointer<UInt64>   // resolved: last confirmed; incomplete: first request
    @usableFromInline let asked: UnsafeMutablePointer<UInt64>    // the last request for it (probe or refresh)
    @usableFromInline let probes: UnsafeMutablePointer<UInt8>    // requests since it was created or confirmed
    @usableFromInline let flags: UnsafeMutablePointer<UInt8>     // isStatic | used
    @usableFromInline let ports: UnsafeMutablePointer<UInt16>    // asked on, or learned on
    @usableFromInline let reachableTime: UInt64
    let retryInterval: UInt64
    let maxProbes: Int
    let resolvedLimit: Int
    let portCount: Int
    let perPort: Int
    /// Per port, its last `perPort` new addresses and when each was started; the next to go.
    @usableFromInline let ringKeys: UnsafeMutablePointer<Key>
    @usableFromInline let ringStamps: UnsafeMutablePointer<UInt64>
    @usableFromInline let ringNext: UnsafeMutablePointer<Int>
    private(set) var resolved = 0
    private(set) var incomplete = 0

    init(portCount: Int, limits: NeighbourLimits, seed: UInt64) {
        let entries = limits.resolvedEntries + max(1, portCount) * limits.incompletePerPort
        var slots = 16
        while slots < 2 * entries { slots <<= 1 }
        capacity = slots
        mask = capacity - 1
        shift = UInt64(64 - capacity.trailingZeroBitCount)
        self.seed = seed
        reachableTime = limits.reachableTime
        retryInterval = limits.retryInterval
        maxProbes = limits.probes
        resolvedLimit = limits.resolvedEntries
        self.portCount = max(1, portCount)
        perPort = limits.incompletePerPort
        keys = .filled(with: Key.unused, count: capacity)
        macs = .filled(with: 0, count: capacity)
        stamps = .filled(with: 0, count: capacity)
        asked = .filled(with: 0, count: capacity)
        probes = .filled(with: 0, count: capacity)
        flags = .filled(with: 0, count: capacity)
        ports = .filled(with: 0, count: capacity)
        ringKeys = .filled(with: Key.unused, count: self.portCount * perPort)
        ringStamps = .filled(with: 0, count: self.portCount * perPort)
        ringNext = .filled(with: 0, count: self.portCount)
    }

    // Inlinable: the table's setter (serialised, as the cache is @usableFromInline) destroys
    // the old value, and the release-mode inliner asserted on an opaque deinit there (Swift
    // 6.3.1: "Should never be inlining a resilient function into a fragile function").
    @inlinable deinit {
        keys.deallocate()
        macs.deallocate()
        stamps.deallocate()
        asked.deallocate()
        probes.deallocate()
        flags.deallocate()
        ports.deallocate()
        ringKeys.deallocate()
        ringStamps.deallocate()
        ringNext.deallocate()
    }

    /// An incomplete entry has failed this long after its first request.
    var failAfter: UInt64 { UInt64(maxProbes) &* retryInterval }

    @inlinable func slot(_ key: Key) -> Int {
        Int(truncatingIfNeeded: ((key.hashBits ^ seed) &* 0x9E37_79B9_7F4A_7C15) >> shift)
    }

    /// The slot holding `key`. The table is never more than half full, so the probe ends.
    @inlinable func index(of key: Key) -> Int? {
        var i = slot(key)
        while true {
            let k = keys[i]
            if k == key { return i }
            if k == Key.unused { return nil }
            i = (i &+ 1) & mask
        }
    }

    /// The MAC of a resolved entry within its reachable time (static: always); marks it used.
    @inlinable func lookup(_ key: Key, now: UInt64) -> MACAddress? {
        guard let i = index(of: key), macs[i] != 0 else { return nil }
        let f = flags[i]
        if f & Self.isStatic == 0 {
            guard now &- stamps[i] < reachableTime else { return nil }
            if f & Self.used == 0 { flags[i] = f | Self.used }
        }
        return MACAddress(rawValue: macs[i])
    }

    /// Where `key` goes (it is not in the table).
    func freeSlot(for key: Key) -> Int {
        var i = slot(key)
        while keys[i] != Key.unused { i = (i &+ 1) & mask }
        return i
    }

    mutating func put(_ key: Key, at i: Int, mac: UInt64, port: Int, now: UInt64, probes n: UInt8, flags f: UInt8) {
        keys[i] = key
        macs[i] = mac
        stamps[i] = now
        asked[i] = now
        probes[i] = n
        flags[i] = f
        ports[i] = UInt16(truncatingIfNeeded: port)
    }

    /// `key` is at `mac`, confirmed at `now` by a message that came in on `port`. True when
    /// frames waiting for it may go (it was not resolved, or its MAC changed). Static entries
    /// stay as configured.
    mutating func learn(_ key: Key, mac: MACAddress, port: Int, now: UInt64, counters: UnsafeMutablePointer<NeighbourCounters>) -> Bool {
        guard key != Key.unused else { return false }
        if let i = index(of: key) {
            if flags[i] & Self.isStatic != 0 { return false }
            let wasResolved = macs[i] != 0
            if !wasResolved {
                guard resolved < resolvedLimit else {
                    counters[port].tableFull &+= 1
                    return false
                }
                incomplete -= 1
                resolved += 1
            }
            let changed = !wasResolved || macs[i] != mac.rawValue || now &- stamps[i] >= reachableTime
            put(key, at: i, mac: mac.rawValue, port: port, now: now, probes: 0, flags: 0)
            return changed
        }
        guard resolved < resolvedLimit else {
            counters[port].tableFull &+= 1
            return false
        }
        put(key, at: freeSlot(for: key), mac: mac.rawValue, port: port, now: now, probes: 0, flags: 0)
        resolved += 1
        return true
    }

    mutating func addStatic(_ key: Key, mac: MACAddress) {
        guard key != Key.unused else { return }
        if let i = index(of: key) {
            if macs[i] == 0 { incomplete -= 1; resolved += 1 }
            put(key, at: i, mac: mac.rawValue, port: Int(ports[i]), now: 0, probes: 0, flags: Self.isStatic)
            return
        }
        guard resolved < resolvedLimit else { return }
        put(key, at: freeSlot(for: key), mac: mac.rawValue, port: 0, now: 0, probes: 0, flags: Self.isStatic)
        resolved += 1
    }

    /// What to do for a frame that needs `key` on `port` and found no usable MAC.
    enum Need {
        /// Nothing: the address was asked for within the retry interval, or has had all its
        /// probes (it fails when its time is up).
        case wait
        /// Asked before and due again: one more probe, if the budget allows.
        case retry(Int)
        /// Not in the table (a failed or lapsed entry is removed here and counted).
        case new
    }

    mutating func need(_ key: Key, now: UInt64, counters: UnsafeMutablePointer<NeighbourCounters>) -> Need {
        guard let i = index(of: key) else { return .new }
        if macs[i] != 0 {
            if flags[i] & Self.isStatic != 0 || now &- stamps[i] < reachableTime { return .wait }  // resolved meanwhile
            counters[Int(ports[i])].expired &+= 1
            remove(at: i)
            return .new
        }
        if now &- stamps[i] >= failAfter {
            counters[Int(ports[i])].failed &+= 1
            remove(at: i)
            return .new
        }
        return Int(probes[i]) < maxProbes && now &- asked[i] >= retryInterval ? .retry(i) : .wait
    }

    /// A request for the incomplete entry at `i` went out.
    mutating func probed(_ i: Int, now: UInt64) {
        asked[i] = now
        probes[i] &+= 1
    }

    /// A first request for `key` went out on `port`: the incomplete entry, in place of the
    /// port's oldest if the port is at its limit.
    mutating func startResolving(_ key: Key, port: Int, now: UInt64, counters: UnsafeMutablePointer<NeighbourCounters>) {
        guard key != Key.unused else { return }
        let r = port * perPort + ringNext[port]
        let old = ringKeys[r]
        if old != Key.unused, let j = index(of: old), macs[j] == 0, Int(ports[j]) == port, stamps[j] == ringStamps[r] {
            counters[port].incompleteLimitHits &+= 1
            remove(at: j)
        }
        ringKeys[r] = key
        ringStamps[r] = now
        ringNext[port] = ringNext[port] + 1 == perPort ? 0 : ringNext[port] + 1
        put(key, at: freeSlot(for: key), mac: 0, port: port, now: now, probes: 1, flags: 0)
        incomplete += 1
    }

    /// Housekeeping: removes failed incomplete entries and lapsed resolved ones (counted on
    /// their port), and writes the used entries due for a refresh request into `due` (at most
    /// `room`; the rest are due again next time). Returns how many it wrote.
    mutating func sweep(now: UInt64, counters: UnsafeMutablePointer<NeighbourCounters>,
                        due: UnsafeMutablePointer<IPAddress>, ports duePorts: UnsafeMutablePointer<UInt16>, room: Int) -> Int {
        let refreshFrom = reachableTime > failAfter ? reachableTime - failAfter : 0
        var n = 0
        var i = 0
        while i < capacity {
            guard keys[i] != Key.unused, flags[i] & Self.isStatic == 0 else {
                i += 1
                continue
            }
            let age = now &- stamps[i]
            if macs[i] == 0 ? age >= failAfter : age >= reachableTime {
                if macs[i] == 0 { counters[Int(ports[i])].failed &+= 1 } else { counters[Int(ports[i])].expired &+= 1 }
                remove(at: i)
                continue  // backward shift may have moved another entry into slot i
            }
            if macs[i] != 0, flags[i] & Self.used != 0, age >= refreshFrom, Int(probes[i]) < maxProbes,
               now &- asked[i] >= retryInterval, n < room {
                asked[i] = now
                probes[i] &+= 1
                due[n] = keys[i].address
                duePorts[n] = ports[i]
                counters[Int(ports[i])].refreshes &+= 1
                n += 1
            }
            i += 1
        }
        return n
    }

    /// Forgets every entry learned or being resolved on `port` (not static ones).
    mutating func flush(port: Int) {
        var i = 0
        while i < capacity {
            if keys[i] != Key.unused && flags[i] & Self.isStatic == 0 && Int(ports[i]) == port {
                remove(at: i)
                continue
            }
            i += 1
        }
    }

    /// Linear-probing deletion without tombstones (Knuth 6.4, Algorithm R), as `MACTable`.
    mutating func remove(at index: Int) {
        if macs[index] == 0 { incomplete -= 1 } else { resolved -= 1 }
        var hole = index
        var j = index
        while true {
            j = (j + 1) & mask
            let k = keys[j]
            if k == Key.unused { break }
            let home = slot(k)
            let inRange = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j)
            if !inRange {
                keys[hole] = k
                macs[hole] = macs[j]
                stamps[hole] = stamps[j]
                asked[hole] = asked[j]
                probes[hole] = probes[j]
                flags[hole] = flags[j]
                ports[hole] = ports[j]
                hole = j
            }
        }
        keys[hole] = Key.unused
        macs[hole] = 0
    }

    /// Every entry, for display (allocates; not for the data path).
    func entries() -> [(key: Key, mac: MACAddress?, isStatic: Bool)] {
        (0..<capacity).compactMap { i in
            keys[i] == Key.unused ? nil : (keys[i], macs[i] == 0 ? nil : MACAddress(rawValue: macs[i]), flags[i] & Self.isStatic != 0)
        }
    }
}

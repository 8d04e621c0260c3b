import FabricPacket

/// The learning bridge's forwarding database: MAC address -> port, with aging.
///
/// Open addressing with linear probing over fixed arrays (no allocation after `init`), kept at
/// most half full so probes stay short. Key 0 marks an empty slot, which is safe because the
/// bridge never learns the all-zero address (it drops such frames as `invalidSource`).
/// Aging is lazy on lookup (an expired entry is a miss) and eager in `age(now:)`, which the
/// run loop calls off the per-packet path and which deletes with backward shifting so no
/// tombstones build up.
///
/// The slot of an address is a keyed hash with a secret drawn at random for each table (each
/// switch start): source addresses are chosen by whoever sends frames, and with a fixed hash
/// they can be computed offline to share one slot, so that every learn and lookup walks one
/// long probe chain on the single worker. With the secret they cannot be aimed.
public struct MACTable: ~Copyable {
    public let capacity: Int
    public let agingTime: UInt64
    @usableFromInline let shift: UInt64
    @usableFromInline let mask: Int
    @usableFromInline let keys: UnsafeMutablePointer<UInt64>
    @usableFromInline let ports: UnsafeMutablePointer<UInt16>
    @usableFromInline let seen: UnsafeMutablePointer<UInt64>
    /// The hash's secret (`slot`): two words, the second odd.
    @usableFromInline let seed: (UInt64, UInt64)
    public var count = 0
    /// Learn attempts refused because the table was at its load limit.
    public var learnFailures: UInt64 = 0
    /// Entries that moved to another port (a host moved, or a loop).
    public var moves: UInt64 = 0

    /// - Parameters:
    ///   - capacity: slots, a power of two; at most `capacity / 2` addresses are learned.
    ///   - agingTime: nanoseconds an entry lives without traffic from its address.
    ///   - seed: the hash's secret; random unless a test fixes it.
    public init(capacity: Int = 8192, agingTime: UInt64 = 300_000_000_000,
                seed: (UInt64, UInt64) = (.random(in: .min ... .max), .random(in: .min ... .max))) {
        precondition(capacity >= 2 && capacity & (capacity - 1) == 0, "MACTable capacity must be a power of two")
        self.capacity = capacity
        self.agingTime = agingTime
        mask = capacity - 1
        shift = UInt64(64 - capacity.trailingZeroBitCount)
        self.seed = (seed.0, seed.1 | 1)
        keys = .filled(with: 0, count: capacity)
        ports = .filled(with: 0, count: capacity)
        seen = .filled(with: 0, count: capacity)
    }

    deinit {
        keys.deallocate()
        ports.deallocate()
        seen.deallocate()
    }

    @inlinable @inline(__always) func slot(_ key: UInt64) -> Int {
        // wyhash's mix: the full 128-bit product of the keyed address and a secret odd
        // multiplier, its halves folded, then Fibonacci hashing for the top bits. The fold
        // makes the slot depend on the secret non-linearly (a fixed difference between two
        // addresses does not give a fixed difference between their slots). Not a PRF like
        // SipHash, which would cost several times more on the per-packet path.
        let m = (key ^ seed.0).multipliedFullWidth(by: seed.1)
        return Int(truncatingIfNeeded: ((m.high ^ m.low) &* 0x9E37_79B9_7F4A_7C15) >> shift)
    }

    /// The longest distance any entry sits from its home slot (diagnostics and tests; walks
    /// the whole table).
    public func longestProbe() -> Int {
        (0..<capacity).reduce(0) { longest, i in
            keys[i] == 0 ? longest : max(longest, (i &- slot(keys[i])) & mask)
        }
    }

    /// The port `mac` was last seen on, or nil when unknown or aged out.
    @inlinable @inline(__always) public func lookup(_ mac: MACAddress, now: UInt64) -> Int? {
        let key = mac.rawValue
        var i = slot(key)
        while true {
            let k = keys[i]
            if k == key {
                return now &- seen[i] < agingTime ? Int(ports[i]) : nil
            }
            if k == 0 { return nil }
            i = (i &+ 1) & mask
        }
    }

    /// Records that `mac` was seen on `port` at `now`.
    @inlinable @inline(__always) public mutating func learn(_ mac: MACAddress, port: Int, now: UInt64) {
        let key = mac.rawValue
        var i = slot(key)
        while true {
            let k = keys[i]
            if k == key {
                if ports[i] != UInt16(truncatingIfNeeded: port) {
                    ports[i] = UInt16(truncatingIfNeeded: port)
                    moves &+= 1
                }
                seen[i] = now
                return
            }
            if k == 0 {
                guard count < capacity / 2 else {
                    learnFailures &+= 1
                    return
                }
                keys[i] = key
                ports[i] = UInt16(truncatingIfNeeded: port)
                seen[i] = now
                count &+= 1
                return
            }
            i = (i &+ 1) & mask
        }
    }

    /// Removes every entry not refreshed within the aging time. Returns how many went.
    @discardableResult
    public mutating func age(now: UInt64) -> Int {
        var removed = 0
        var i = 0
        while i < capacity {
            if keys[i] != 0 && now &- seen[i] >= agingTime {
                remove(at: i)
                removed += 1
                // Backward shift may have moved another entry into slot i: look at it again.
                continue
            }
            i += 1
        }
        return removed
    }

    /// Forgets every address learned on `port` (used when a port goes out of service).
    public mutating func flush(port: Int) {
        var i = 0
        while i < capacity {
            if keys[i] != 0 && Int(ports[i]) == port {
                remove(at: i)
                continue
            }
            i += 1
        }
    }

    /// Linear-probing deletion without tombstones (Knuth 6.4, Algorithm R): pull later
    /// entries of the same probe run back into the hole.
    @usableFromInline mutating func remove(at index: Int) {
        var hole = index
        var j = index
        while true {
            j = (j + 1) & mask
            let k = keys[j]
            if k == 0 { break }
            let home = slot(k)
            // Move k into the hole if its home slot is not cyclically in (hole, j].
            let inRange = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j)
            if !inRange {
                keys[hole] = k
                ports[hole] = ports[j]
                seen[hole] = seen[j]
                hole = j
            }
        }
        keys[hole] = 0
        count -= 1
    }

    /// Every live entry, for display (allocates; not for the data path).
    public func entries(now: UInt64) -> [(mac: MACAddress, port: Int, ageNanoseconds: UInt64)] {
        (0..<capacity).compactMap { i in
            keys[i] == 0 ? nil : (MACAddress(rawValue: keys[i]), Int(ports[i]), now &- seen[i])
        }
    }
}

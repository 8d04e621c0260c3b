/// How many ARP requests and neighbour solicitations the switch may send for addresses it is
/// resolving (RFC 6583 §7.1.2: rate-limit resolution). Token buckets in their virtual-
/// scheduling form (GCRA, ITU-T I.371), one theoretical arrival time each: a request conforms
/// when the bucket's time is at most `tolerance` ahead of now, and moves it on by `interval`
/// (`tolerance` = burst - 1 intervals).
///
/// - Every request takes from its port's bucket and from the switch's.
/// - A request with `priority` (an address asked for again: a retry, a second frame for an
///   address the budget refused before, a route's gateway) that finds either empty may take
///   from its port's reserve instead. A scan, which sends to each address once, never gets
///   the reserve: a host traffic keeps asking for still does.
///
/// Refreshes of resolved entries in use are not counted here: there are at most as many as
/// resolved entries, and keeping those comes first (RFC 6583 §7.1.1).
@usableFromInline struct RequestBudget: ~Copyable {
    let portBucket: UnsafeMutablePointer<UInt64>
    let reserveBucket: UnsafeMutablePointer<UInt64>
    var switchBucket: UInt64 = 0
    let portInterval: UInt64, portTolerance: UInt64
    let reserveInterval: UInt64, reserveTolerance: UInt64
    let switchInterval: UInt64, switchTolerance: UInt64

    init(portCount: Int, limits: NeighbourLimits) {
        func bucket(_ perSecond: Int, _ burst: Int) -> (UInt64, UInt64) {
            let interval = 1_000_000_000 / UInt64(perSecond)
            return (interval, interval * UInt64(burst - 1))
        }
        (portInterval, portTolerance) = bucket(limits.requestsPerSecondPerPort, limits.requestBurstPerPort)
        (reserveInterval, reserveTolerance) = bucket(limits.reservedPerSecondPerPort, limits.reservedBurstPerPort)
        (switchInterval, switchTolerance) = bucket(limits.requestsPerSecond, limits.requestBurst)
        portBucket = .filled(with: 0, count: max(1, portCount))
        reserveBucket = .filled(with: 0, count: max(1, portCount))
    }

    deinit {
        portBucket.deallocate()
        reserveBucket.deallocate()
    }

    /// True (and the request counted) when a request on `port` may go at `now`.
    mutating func allow(port: Int, priority: Bool, now: UInt64) -> Bool {
        let p = max(portBucket[port], now), s = max(switchBucket, now)
        if p - now <= portTolerance && s - now <= switchTolerance {
            portBucket[port] = p + portInterval
            switchBucket = s + switchInterval
            return true
        }
        guard priority else { return false }
        let r = max(reserveBucket[port], now)
        guard r - now <= reserveTolerance else { return false }
        reserveBucket[port] = r + reserveInterval
        return true
    }
}

/// Which addresses frames wanted lately: one (fingerprint, time) word per slot of a
/// direct-mapped array over hashed (port, address). A second frame for an address within
/// `window` finds its own fingerprint and is told so; a scan overwrites random slots, so the
/// memory of one address survives `n` other new addresses with probability about
/// exp(-n / slots).
@usableFromInline struct DemandFilter: ~Copyable {
    static let slots = 1 << 16
    let words: UnsafeMutablePointer<UInt64>
    let windowMilliseconds: UInt32
    let seed: UInt64

    init(window: UInt64, seed: UInt64) {
        words = .filled(with: 0, count: Self.slots)
        windowMilliseconds = UInt32(clamping: window / 1_000_000)
        self.seed = seed
    }

    deinit { words.deallocate() }

    /// Records that a frame wanted `bits` (an address's `hashBits`) on `port` at `now`; true if
    /// one did within the window before.
    mutating func wantedAgain(_ bits: UInt64, port: Int, now: UInt64) -> Bool {
        // MurmurHash3's 64-bit finaliser: every output bit depends on every input bit, so the
        // slot (top 16 bits) and the fingerprint (low 32) are independent.
        var h = bits ^ seed ^ (UInt64(truncatingIfNeeded: port) &* 0x9E37_79B9_7F4A_7C15)
        h ^= h >> 33
        h &*= 0xFF51_AFD7_ED55_8CCD
        h ^= h >> 33
        h &*= 0xC4CE_B9FE_1A85_EC53
        h ^= h >> 33
        let i = Int(truncatingIfNeeded: h >> 48)
        let fingerprint = UInt32(truncatingIfNeeded: h) | 1
        let ms = UInt32(truncatingIfNeeded: now / 1_000_000)
        let word = words[i]
        let again = UInt32(truncatingIfNeeded: word >> 32) == fingerprint && ms &- UInt32(truncatingIfNeeded: word) <= windowMilliseconds
        words[i] = UInt64(fingerprint) << 32 | UInt64(ms)
        return again
    }
}

import FabricPacket

/// IPv6 longest-prefix match by binary search on prefix lengths is overkill for a lab switch;
/// this is the simpler relative: one open-addressing hash table per prefix length in use,
/// probed from the longest length down (Waldvogel et al.'s per-length tables without the
/// markers). Cost: one probe per distinct length in the table, typically a handful (/128,
/// /64, /48, /0). Built once, read-only afterwards, no allocation on lookup.
public struct IPv6LPM: ~Copyable {
    @usableFromInline let lengths: UnsafeMutablePointer<Int>      // distinct lengths, longest first
    @usableFromInline let lengthCount: Int
    @usableFromInline let tables: UnsafeMutablePointer<Slot>      // lengthCount tables of `slots` each
    @usableFromInline let slots: Int
    public let count: Int

    @usableFromInline struct Slot {
        @usableFromInline var high: UInt64 = 0
        @usableFromInline var low: UInt64 = 0
        @usableFromInline var value: UInt32 = 0
        @usableFromInline var used = false
        @usableFromInline init(high: UInt64 = 0, low: UInt64 = 0, value: UInt32 = 0, used: Bool = false) {
            self.high = high
            self.low = low
            self.value = value
            self.used = used
        }
    }

    public struct Route: Sendable, Equatable {
        public var prefix: IPv6Address
        public var length: Int
        public var value: UInt32
        public init(prefix: IPv6Address, length: Int, value: UInt32) {
            self.prefix = IPv6LPM.mask(prefix, length)
            self.length = length
            self.value = value
        }
    }

    @inlinable @inline(__always)
    static func mask(_ a: IPv6Address, _ len: Int) -> IPv6Address { a.masked(to: len) }

    @inlinable @inline(__always)
    static func hash(_ a: IPv6Address) -> UInt64 {
        var h = a.high &* 0x9E37_79B9_7F4A_7C15
        h ^= (a.low &+ 0x632B_E59B_D9B4_E019) &* 0xBF58_476D_1CE4_E5B9
        return h ^ (h >> 31)
    }

    public init(routes: [Route]) {
        var byLength: [Int: [Route]] = [:]
        for r in routes { byLength[r.length, default: []].append(r) }
        let ls = byLength.keys.sorted(by: >)
        lengthCount = ls.count
        lengths = .allocate(capacity: max(1, ls.count))
        for (i, l) in ls.enumerated() { lengths[i] = l }
        let biggest = byLength.values.map(\.count).max() ?? 0
        var s = 4
        while s < biggest * 2 { s <<= 1 }
        slots = s
        tables = .filled(with: Slot(), count: max(1, ls.count) * s)
        var n = 0
        for (i, l) in ls.enumerated() {
            for r in byLength[l]! {
                var j = Int(truncatingIfNeeded: Self.hash(r.prefix)) & (s - 1)
                while tables[i * s + j].used && !(tables[i * s + j].high == r.prefix.high && tables[i * s + j].low == r.prefix.low) {
                    j = (j + 1) & (s - 1)
                }
                if !tables[i * s + j].used { n += 1 }
                tables[i * s + j] = Slot(high: r.prefix.high, low: r.prefix.low, value: r.value, used: true)
            }
        }
        count = n
    }

    deinit {
        lengths.deallocate()
        tables.deallocate()
    }

    @inlinable
    public func lookup(_ address: IPv6Address) -> UInt32? {
        for i in 0..<lengthCount {
            let key = Self.mask(address, lengths[i])
            var j = Int(truncatingIfNeeded: Self.hash(key)) & (slots - 1)
            let base = tables + i * slots
            while base[j].used {
                if base[j].high == key.high && base[j].low == key.low { return base[j].value }
                j = (j + 1) & (slots - 1)
            }
        }
        return nil
    }
}

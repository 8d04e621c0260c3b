import CFabricShims

/// IPv4 longest-prefix match in the compact form of DXR (Zec, Rizzo, Mikuc, "DXR: towards a
/// billion routing lookups per second in software", SIGCOMM CCR 42(5), 2012): a direct table
/// indexed by the top 16 bits of the address, and for each /16 that more than one route
/// divides, its ranges (where each starts, in the low 16 bits, and the entry it has), sorted,
/// found by binary search. A lookup reads one direct entry, or one direct entry, a few range
/// starts and one range entry.
///
/// Why not DIR-24-8's 64 MiB first level (which builds it here): a batch routed to many
/// prefixes reads one random line of it per frame, and the lines of 100k prefixes do not stay
/// in cache. The direct table is 512 KiB and the ranges of 100k random prefixes about 1 MiB,
/// on huge pages (`HugePageTable`), so the lines a batch reads are mostly cached however many
/// routes there are, and the TLB covers all of it. The data path prefetches a batch's direct
/// entries (`prefetch`) and then their ranges (`prefetchRanges`) before it looks them up.
///
/// Entries: 0 = no route, else a route's value + 1. Direct entry: count << 32 | index of the
/// /16's first range, or (count 0) the entry of the whole /16. Built once from a route list
/// (prefixes applied shortest first, so longer ones overwrite); the data plane only reads it.
public struct IPv4LPM: ~Copyable {
    @usableFromInline let direct: UnsafeMutablePointer<UInt64>
    /// Every range, the ranges of one /16 back to back: where it starts (the address's low 16
    /// bits) and its entry. A /16's first range starts at 0.
    @usableFromInline let starts: UnsafeMutablePointer<UInt16>
    @usableFromInline let entries: UnsafeMutablePointer<UInt32>
    @usableFromInline let rangeCount: Int
    /// A /16 with at most this many ranges is searched by a linear count, not a binary search.
    @usableFromInline static var scanned: Int { 4 }
    let memory: HugePageTable
    public let count: Int

    public struct Route: Sendable, Equatable {
        public var prefix: UInt32
        public var length: Int
        public var value: UInt32
        public init(prefix: UInt32, length: Int, value: UInt32) {
            self.prefix = length == 0 ? 0 : prefix & ~UInt32(0) << (32 - length)
            self.length = length
            self.value = value
        }
    }

    /// Builds the table. Values must be < 2^31 - 1. Later duplicates of a prefix win.
    public init(routes: [Route]) {
        let table = DIR248(routes: routes)
        var directEntries = [UInt64](repeating: 0, count: 1 << 16)
        var rangeStarts: [UInt16] = [], rangeEntries: [UInt32] = []
        for c in 0..<(1 << 16) {
            // Only routes of /16 or shorter cover this /16: all of it has one entry.
            guard table.divided[c] else {
                directEntries[c] = UInt64(table.tbl24[c << 8])
                continue
            }
            let first = rangeEntries.count
            var last: UInt32? = nil
            func add(_ start: Int, _ e: UInt32) {
                guard e != last else { return }
                rangeStarts.append(UInt16(truncatingIfNeeded: start))
                rangeEntries.append(e)
                last = e
            }
            for j in 0..<256 {
                let e = table.tbl24[c << 8 | j]
                if e & DIR248.groupFlag != 0 {
                    let g = Int(e & ~DIR248.groupFlag) << 8
                    for k in 0..<256 { add(j << 8 | k, table.tbl8[g | k]) }
                } else {
                    add(j << 8, e)
                }
            }
            let n = rangeEntries.count - first
            if n == 1 {   // divided by routes that all ended up with the same entry
                directEntries[c] = UInt64(rangeEntries[first])
                rangeStarts.removeLast()
                rangeEntries.removeLast()
            } else {
                directEntries[c] = UInt64(n) << 32 | UInt64(first)
            }
        }
        table.free()
        rangeCount = rangeEntries.count
        let directBytes = (1 << 16) * 8, entryBytes = rangeCount * 4
        memory = HugePageTable(byteCount: directBytes + entryBytes + rangeCount * 2)
        direct = memory.base.bindMemory(to: UInt64.self, capacity: 1 << 16)
        direct.update(from: directEntries, count: 1 << 16)
        entries = (memory.base + directBytes).bindMemory(to: UInt32.self, capacity: max(1, rangeCount))
        entries.update(from: rangeEntries, count: rangeCount)
        starts = (memory.base + directBytes + entryBytes).bindMemory(to: UInt16.self, capacity: max(1, rangeCount))
        starts.update(from: rangeStarts, count: rangeCount)
        count = Set(routes.map { "\($0.prefix)/\($0.length)" }).count
    }

    deinit { memory.free() }

    /// Some /16 is divided between routes (a lookup may read its ranges).
    @inlinable public var hasRanges: Bool { rangeCount > 0 }

    /// Starts loading the direct entry of `address` into cache (a hint; never faults).
    @inlinable @inline(__always)
    public func prefetch(_ address: UInt32) {
        sf_prefetch(direct + Int(address >> 16))
    }

    /// Starts loading the ranges of `address`'s /16, if it has them. Reads the direct entry:
    /// call it after `prefetch` had time to bring that in.
    @inlinable @inline(__always)
    public func prefetchRanges(_ address: UInt32) {
        let d = direct[Int(address >> 16)]
        let n = Int(truncatingIfNeeded: d >> 32)
        guard n != 0 else { return }
        let base = Int(truncatingIfNeeded: UInt32(truncatingIfNeeded: d))
        if n <= Self.scanned {   // the linear count reads starts[base + 1 ..< base + n]
            sf_prefetch(starts + (base &+ 1))
            sf_prefetch(starts + (base &+ n &- 1))
        } else {
            sf_prefetch(starts + (base &+ n >> 1))
        }
        sf_prefetch(entries + base)
    }

    /// The value of the longest prefix covering `address`, or nil.
    @inlinable @inline(__always)
    public func lookup(_ address: UInt32) -> UInt32? {
        let d = direct[Int(address >> 16)]
        var e = UInt32(truncatingIfNeeded: d)
        var n = Int(truncatingIfNeeded: d >> 32)
        if n != 0 {
            // The last range starting at or below the key: [i, i + n) holds it, and the
            // first range starts at 0, so it exists.
            let key = UInt16(truncatingIfNeeded: address)
            var i = Int(truncatingIfNeeded: e)
            if n <= Self.scanned {
                // Few ranges (most divided /16s): the index is the number of later starts at
                // or below the key, counted without a branch over a fixed window whose reads
                // stay inside the /16's ranges (a position past them reads the last one again
                // and does not count).
                var below = 0
                for k in 1..<Self.scanned {
                    let start = starts[i &+ min(k, n &- 1)]
                    below &+= (k < n ? 1 : 0) & (start <= key ? 1 : 0)
                }
                i &+= below
            } else {
                while n > 1 {
                    let half = n >> 1
                    if starts[i &+ half] <= key { i &+= half }
                    n &-= half
                }
            }
            e = entries[i]
        }
        return e == 0 ? nil : e &- 1
    }
}

/// DIR-24-8 (Gupta, Lin, McKeown, "Routing lookups in hardware at memory access speeds",
/// INFOCOM 1998; DPDK's rte_lpm), the builder of `IPv4LPM`: one 2^24-entry table indexed by
/// the top 24 bits of the address, and 256-entry second-level groups for prefixes longer than
/// /24. Entry: 0 = no route; bit 31 clear = value + 1; bit 31 set = index of a group. On huge
/// pages while it is built (a 2 MiB region costs nothing until a route is written into it),
/// freed once `IPv4LPM` has its ranges.
struct DIR248 {
    static let groupFlag: UInt32 = 0x8000_0000
    let tbl24: UnsafeMutablePointer<UInt32>
    var tbl8: UnsafeMutablePointer<UInt32>
    var tbl8Groups = 0
    var tbl8Capacity = 0
    let tbl24Memory: HugePageTable
    var tbl8Memory: HugePageTable?
    /// Per /16: some route longer than /16 lies in it (its entries differ).
    var divided = [Bool](repeating: false, count: 1 << 16)

    init(routes: [IPv4LPM.Route]) {
        tbl24Memory = HugePageTable(byteCount: (1 << 24) * 4)
        tbl24 = tbl24Memory.base.bindMemory(to: UInt32.self, capacity: 1 << 24)
        tbl8Memory = nil
        tbl8 = tbl24   // no group yet: never read (no entry has the group flag)
        for r in routes.enumerated().sorted(by: { ($0.element.length, $0.offset) < ($1.element.length, $1.offset) }).map(\.element) {
            insert(r)
        }
    }

    func free() {
        tbl24Memory.free()
        tbl8Memory?.free()
    }

    mutating func newGroup(fill: UInt32) -> UInt32 {
        if tbl8Groups == tbl8Capacity {
            let newCap = max(16, tbl8Capacity * 2)
            let memory = HugePageTable(byteCount: newCap * 256 * 4)
            let bigger = memory.base.bindMemory(to: UInt32.self, capacity: newCap * 256)
            if tbl8Groups > 0 { bigger.update(from: tbl8, count: tbl8Groups * 256) }
            tbl8Memory?.free()
            tbl8Memory = memory
            tbl8 = bigger
            tbl8Capacity = newCap
        }
        let g = tbl8Groups
        tbl8Groups += 1
        (tbl8 + g * 256).initialize(repeating: fill, count: 256)
        return UInt32(g)
    }

    mutating func insert(_ r: IPv4LPM.Route) {
        precondition(r.length >= 0 && r.length <= 32 && r.value < 0x7FFF_FFFF)
        let entry = r.value + 1
        if r.length > 16 { divided[Int(r.prefix >> 16)] = true }
        if r.length <= 24 {
            let first = Int(r.prefix >> 8)
            let span = 1 << (24 - r.length)
            for i in first..<(first + span) {
                let e = tbl24[i]
                if e & Self.groupFlag != 0 {
                    // Only possible for equal-length re-inserts; update the group's default part.
                    let g = Int(e & ~Self.groupFlag)
                    for j in 0..<256 { tbl8[g * 256 + j] = entry }
                } else {
                    tbl24[i] = entry
                }
            }
        } else {
            let i = Int(r.prefix >> 8)
            var e = tbl24[i]
            if e & Self.groupFlag == 0 {
                let g = newGroup(fill: e)
                e = Self.groupFlag | g
                tbl24[i] = e
            }
            let g = Int(e & ~Self.groupFlag)
            let first = Int(r.prefix & 0xFF)
            for j in first..<(first + (1 << (32 - r.length))) { tbl8[g * 256 + j] = entry }
        }
    }
}

import CFabricShims

/// IPv4 longest-prefix match with DIR-24-8 (Gupta, Lin, McKeown, "Routing lookups in hardware
/// at memory access speeds", INFOCOM 1998; DPDK's rte_lpm): one 2^24-entry table indexed by the
/// top 24 bits of the address, and 256-entry second-level groups for prefixes longer than /24.
/// A lookup is one memory access, two for addresses under a /25../32.
///
/// Entry encoding (UInt32): 0 = no route; bit 31 clear = value + 1 (a route target index);
/// bit 31 set = index of a second-level group. The table is built once from a route list
/// (prefixes applied shortest first, so longer ones overwrite) and then only read: the data
/// plane never changes it. Memory: 64 MiB for the first level, plus 1 KiB per /25../32-covered
/// /24, both on transparent huge pages (`HugePageTable`: a 2 MiB region costs nothing until a
/// route is written into it), so that the TLB covers the whole table however many routes it
/// holds. The data path prefetches a batch's entries (`prefetch`, `prefetchGroup`) before it
/// looks them up: with many routes the entries a batch needs are rarely all in cache.
public struct IPv4LPM: ~Copyable {
    @usableFromInline let tbl24: UnsafeMutablePointer<UInt32>
    @usableFromInline var tbl8: UnsafeMutablePointer<UInt32>
    @usableFromInline var tbl8Groups = 0
    var tbl8Capacity = 0
    let tbl24Memory: HugePageTable
    var tbl8Memory: HugePageTable?
    public private(set) var count = 0

    @usableFromInline static let groupFlag: UInt32 = 0x8000_0000

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
        tbl24Memory = HugePageTable(byteCount: (1 << 24) * 4)
        tbl24 = tbl24Memory.base.bindMemory(to: UInt32.self, capacity: 1 << 24)
        tbl8Capacity = 0
        tbl8Memory = nil
        tbl8 = tbl24   // no group yet: never read (no entry has the group flag)
        for r in routes.enumerated().sorted(by: { ($0.element.length, $0.offset) < ($1.element.length, $1.offset) }).map(\.element) {
            insert(r)
        }
        count = Set(routes.map { "\($0.prefix)/\($0.length)" }).count
    }

    deinit {
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

    mutating func insert(_ r: Route) {
        precondition(r.length >= 0 && r.length <= 32 && r.value < 0x7FFF_FFFF)
        let entry = r.value + 1
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

    /// Some route is longer than /24 (a lookup may read the second level).
    @inlinable public var hasGroups: Bool { tbl8Groups > 0 }

    /// Starts loading the first-level entry of `address` into cache (a hint; never faults).
    @inlinable @inline(__always)
    public func prefetch(_ address: UInt32) {
        sf_prefetch(tbl24 + Int(address >> 8))
    }

    /// Starts loading the second-level entry of `address`, if it has one. Reads the first
    /// level: call it after `prefetch` had time to bring that in.
    @inlinable @inline(__always)
    public func prefetchGroup(_ address: UInt32) {
        let e = tbl24[Int(address >> 8)]
        if e & Self.groupFlag != 0 { sf_prefetch(tbl8 + (Int(e & ~Self.groupFlag) << 8 | Int(address & 0xFF))) }
    }

    /// The value of the longest prefix covering `address`, or nil.
    @inlinable @inline(__always)
    public func lookup(_ address: UInt32) -> UInt32? {
        var e = tbl24[Int(address >> 8)]
        if e & Self.groupFlag != 0 {
            e = tbl8[Int(e & ~Self.groupFlag) << 8 | Int(address & 0xFF)]
        }
        return e == 0 ? nil : e &- 1
    }
}

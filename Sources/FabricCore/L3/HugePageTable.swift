#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Zeroed memory for a large lookup table, on transparent huge pages where the kernel gives
/// them (`madvise(MADV_HUGEPAGE)`; `/sys/kernel/mm/transparent_hugepage/enabled` is `madvise`
/// or `always`). A route lookup touches one random entry of a 64 MiB table: on 4 KiB pages
/// nearly every lookup of a large table misses the TLB (and under a hypervisor each miss is a
/// two-dimensional page walk), while the table's 32 huge pages stay in the TLB. Untouched
/// 2 MiB regions cost nothing until written, as with calloc. Without huge pages the table works
/// the same, only slower.
struct HugePageTable {
    static let hugePage = 2 << 20
    /// The table: `byteCount` zero bytes, aligned to `hugePage`.
    let base: UnsafeMutableRawPointer
    let byteCount: Int
    /// The whole mapping (the table plus up to one huge page of alignment slack).
    private let mapping: UnsafeMutableRawPointer
    private let mappingLength: Int

    init(byteCount: Int) {
        precondition(byteCount > 0)
        let length = (byteCount + Self.hugePage - 1) / Self.hugePage * Self.hugePage
        mappingLength = length + Self.hugePage
        guard let m = mmap(nil, mappingLength, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              Int(bitPattern: m) != -1 /* MAP_FAILED */ else {
            fatalError("HugePageTable: mmap of \(mappingLength) bytes failed: errno \(errno)")
        }
        mapping = m
        let aligned = (Int(bitPattern: m) + Self.hugePage - 1) & ~(Self.hugePage - 1)
        base = UnsafeMutableRawPointer(bitPattern: aligned)!
        self.byteCount = length
        #if os(Linux)
        // Advice only: a kernel without THP (or with it off) leaves 4 KiB pages.
        _ = madvise(base, length, MADV_HUGEPAGE)
        #endif
    }

    func free() { munmap(mapping, mappingLength) }
}

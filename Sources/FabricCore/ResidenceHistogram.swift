/// Switch residence times of one egress queue in HdrHistogram's bucket layout at microsecond
/// resolution: 1 us buckets up to 127 us, then every power of two split into 64 buckets (values
/// within 1.6%, HdrHistogram with 2 significant digits), up to 2^31 us. Fixed counts in memory
/// allocated once: recording is a shift, a count of leading zeros and an increment. Each
/// histogram also sums its values (nanoseconds, exact: for means and Prometheus' `_sum`) and,
/// of those, the part a frame spent in its socket's rx ring (`ring`, from the XDP stamp to the
/// worker's receive; 0 where frames carry no stamp).
public struct ResidenceHistograms: ~Copyable {
    public static let subBuckets = 64
    public static let linear = 128
    /// Buckets per histogram: 128 linear + 25 powers of two x 64.
    public static let buckets = linear + 25 * subBuckets
    public let histograms: Int
    @usableFromInline let counts: UnsafeMutablePointer<UInt64>
    @usableFromInline let totals: UnsafeMutablePointer<UInt64>
    @usableFromInline let maxima: UnsafeMutablePointer<UInt64>
    @usableFromInline let sums: UnsafeMutablePointer<UInt64>
    @usableFromInline let ringSums: UnsafeMutablePointer<UInt64>

    public init(histograms: Int) {
        self.histograms = histograms
        counts = .filled(with: 0, count: histograms * Self.buckets)
        totals = .filled(with: 0, count: histograms)
        maxima = .filled(with: 0, count: histograms)
        sums = .filled(with: 0, count: histograms)
        ringSums = .filled(with: 0, count: histograms)
    }

    deinit {
        counts.deallocate()
        totals.deallocate()
        maxima.deallocate()
        sums.deallocate()
        ringSums.deallocate()
    }

    /// The bucket of a value in microseconds.
    @inlinable @inline(__always) public static func bucket(_ us: UInt64) -> Int {
        if us < UInt64(linear) { return Int(us) }
        let e = 63 - us.leadingZeroBitCount - 6                // us >> e lies in 64...127
        let index = linear &+ (e &- 1) &* subBuckets &+ Int(truncatingIfNeeded: us &>> UInt64(e)) &- subBuckets   // e in 1...57
        return min(index, buckets - 1)
    }

    /// The lowest value (us) of a bucket.
    public static func lowest(_ bucket: Int) -> UInt64 {
        if bucket < linear { return UInt64(bucket) }
        let e = (bucket - linear) / subBuckets + 1
        return UInt64(subBuckets + (bucket - linear) % subBuckets) << UInt64(e)
    }

    /// `record` of several values of histogram `h` split in two, for a loop over them: the
    /// bucket of each value (`countBucket`, microseconds), then their number, sums and largest
    /// (microseconds) at once (`addRun`). The same counts as `record` of each.
    @inlinable @inline(__always) public mutating func countBucket(_ h: Int, us: UInt64) {
        counts[h &* Self.buckets &+ Self.bucket(us)] &+= 1
    }
    @inlinable @inline(__always) public mutating func addRun(_ h: Int, values: UInt64, nanoseconds: UInt64, ring: UInt64, largestMicroseconds us: UInt64) {
        totals[h] &+= values
        sums[h] &+= nanoseconds
        ringSums[h] &+= ring
        if us > maxima[h] { maxima[h] = us }
    }

    /// Records a value of `nanoseconds`, of which `ring` were spent in an rx ring.
    @inlinable @inline(__always) public mutating func record(_ h: Int, nanoseconds: UInt64, ring: UInt64 = 0) {
        let us = nanoseconds / 1000
        countBucket(h, us: us)
        addRun(h, values: 1, nanoseconds: nanoseconds, ring: ring, largestMicroseconds: us)
    }

    public func count(_ h: Int) -> UInt64 { totals[h] }
    /// The sum of the values recorded, and of their rx-ring parts (nanoseconds).
    public func sum(_ h: Int) -> UInt64 { sums[h] }
    public func ringSum(_ h: Int) -> UInt64 { ringSums[h] }

    /// Samples below each of `bounds` (microseconds, ascending), cumulative, as a Prometheus
    /// histogram's `le` buckets: the buckets that end at or before the bound (to the bucket's
    /// resolution: 1 us up to 127 us, 1.6% above).
    public func cumulative(_ h: Int, bounds: [UInt64]) -> [UInt64] {
        var out: [UInt64] = []
        var seen: UInt64 = 0, b = 0
        for bound in bounds {
            while b < Self.buckets - 1 && Self.lowest(b + 1) <= bound {
                seen &+= counts[h * Self.buckets + b]
                b += 1
            }
            out.append(seen)
        }
        return out
    }

    /// Empties every histogram.
    public func reset() {
        counts.update(repeating: 0, count: histograms * Self.buckets)
        totals.update(repeating: 0, count: histograms)
        maxima.update(repeating: 0, count: histograms)
        sums.update(repeating: 0, count: histograms)
        ringSums.update(repeating: 0, count: histograms)
    }
    public func max(_ h: Int) -> UInt64 { maxima[h] }

    /// The value (us, the bucket's lowest) at or below which `p` percent of the samples lie.
    public func percentile(_ h: Int, _ p: Double) -> UInt64 {
        let n = totals[h]
        guard n > 0 else { return 0 }
        let rank = Swift.max(1, UInt64((p / 100 * Double(n)).rounded(.up)))
        var seen: UInt64 = 0
        for b in 0..<Self.buckets {
            seen &+= counts[h * Self.buckets + b]
            if seen >= rank { return Swift.min(Self.lowest(b), maxima[h]) }
        }
        return maxima[h]
    }

    /// Non-empty buckets as (lowest us, count), for plots and CDFs.
    public func buckets(_ h: Int) -> [(us: UInt64, count: UInt64)] {
        (0..<Self.buckets).compactMap { b in
            let c = counts[h * Self.buckets + b]
            return c > 0 ? (Self.lowest(b), c) : nil
        }
    }
}

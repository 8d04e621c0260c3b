/// ECN marking on egress queues, DCQCN/WRED style: probability 0 below `kmin` bytes queued,
/// rising linearly to `pmax` at `kmax`, 1 above `kmax`. Only ECT packets (ECN 01/10) are
/// marked (set to CE, 11); Not-ECT packets are never touched.
public struct ECNConfig: Sendable, Equatable {
    /// Bit n set: queue n marks. Default: queue 3 (the NVIDIA profile's lossless TC3).
    public var queues: UInt8 = 1 << 3
    public var kminBytes = 150 * 1024
    public var kmaxBytes = 1536 * 1024
    /// Probability at kmax, 0...1.
    public var pmax = 1.0
    public init() {}

    /// Marking probability at a queue depth of `bytes`.
    @inlinable public func probability(depth bytes: Int) -> Double {
        if bytes < kminBytes { return 0 }
        if bytes >= kmaxBytes { return 1 }
        return pmax * Double(bytes - kminBytes) / Double(kmaxBytes - kminBytes)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Per-port egress quality for load-aware path choice, as Broadcom's DLB keeps it: an EWMA of
/// the port's transmitted bytes relative to its line rate, and the bytes queued on it as time
/// to drain at that rate, each quantised into bands 0 (idle) ... 7, the port's band the worse
/// of the two. Both are relative to the port's own speed, so a half-speed member is seen as
/// twice as loaded by the same traffic. The data path sets the EWMA's span to 16 flowlet idle
/// times: a flowlet starts after a gap, so a short memory sees every member idle at each
/// decision, and a memory of one or two bursts makes consecutive flowlets alternate (README
/// "Load balancing" has the measurements). Sampled every `interval` by the datapath's `tick`,
/// off the per-packet path; the selectors read the published bands.
public struct PortLoad: ~Copyable {
    public let portCount: Int
    /// Quality band per port, 0 best ... 7 worst.
    public let band: UnsafeMutablePointer<UInt8>
    /// Bytes the selector sent each port's way since the last sample (spray's feedback
    /// between samples); reset by every sample.
    public let assigned: UnsafeMutablePointer<UInt32>
    /// Per port: how long what waits on it now takes to leave, in nanoseconds at its rate
    /// (flowlets count their idle gap from when their last packet leaves, not arrives).
    public let drainNanoseconds: UnsafeMutablePointer<UInt64>
    /// Bytes per nanosecond each port sends at (its emulated speed, or 100G).
    @usableFromInline let capacity: UnsafeMutablePointer<Double>
    /// Link state per port (carrier and admin up): a down port is no member at all, whatever
    /// its band. Set by the data path (`Datapath.setLink`).
    public let up: UnsafeMutablePointer<Bool>
    /// EWMA of the utilisation (0...1); a sample covering dt weighs 1 - e^(-dt / span).
    public let utilisation: UnsafeMutablePointer<Double>
    @usableFromInline let lastTx: UnsafeMutablePointer<UInt64>
    @usableFromInline var lastSample: UInt64 = 0
    public static let interval: UInt64 = 16_000
    /// 1 / the EWMA's time constant (a sample after a long quiet spell, when the run loop
    /// slept, weighs as much as the time it covers).
    public let ewmaPerNanosecond: Double
    /// A band per 16 us of queue (drain time at the port's rate).
    public static let queueBandNanoseconds = 16_000.0

    /// `timeConstantNanoseconds`: the span the utilisation averages over (the data path passes
    /// 16 flowlet idle times, see above).
    public init(portSpeedsGbps: [Double?], timeConstantNanoseconds: UInt64 = 1_024_000) {
        ewmaPerNanosecond = 1 / Double(max(1, timeConstantNanoseconds))
        portCount = portSpeedsGbps.count
        band = .filled(with: 0, count: portCount)
        assigned = .filled(with: 0, count: portCount)
        capacity = .filled(with: 12.5, count: portCount)
        for (p, s) in portSpeedsGbps.enumerated() { if let s { capacity[p] = s / 8 } }
        utilisation = .filled(with: 0, count: portCount)
        lastTx = .filled(with: 0, count: portCount)
        drainNanoseconds = .filled(with: 0, count: portCount)
        up = .filled(with: true, count: portCount)
    }

    deinit {
        band.deallocate()
        assigned.deallocate()
        capacity.deallocate()
        utilisation.deallocate()
        lastTx.deallocate()
        drainNanoseconds.deallocate()
        up.deallocate()
    }

    /// Port `p`'s speed from now on (nil: 100G); its utilisation so far is kept.
    public func setSpeed(port p: Int, gbps: Double?) { capacity[p] = (gbps ?? 100) / 8 }

    /// Takes a sample if `interval` has passed: `txBytes(p)` is port p's transmitted bytes so
    /// far, `queuedBytes(p)` what waits on it now.
    @inlinable
    public mutating func sample(now: UInt64, txBytes: (Int) -> UInt64, queuedBytes: (Int) -> Int) {
        let dt = now &- lastSample
        guard dt >= Self.interval else { return }
        let first = lastSample == 0
        lastSample = now
        // The exact EWMA weight of a sample covering dt: 1 - e^(-dt/tau). A linear dt/tau would
        // let one sample after a quiet spell (the run loop slept) wipe out the memory.
        let weight = 1 - exp(-Double(dt) * ewmaPerNanosecond)
        for p in 0..<portCount {
            let tx = txBytes(p)
            let sent = tx &- lastTx[p]
            lastTx[p] = tx
            if first { continue }
            // Not clipped: a 16 us sample of a slow port holds one whole frame or none (a 1 KB
            // frame is 86 us at 100 Mb/s), so single samples read 0 or 5x; the EWMA averages
            // them (clipping each at 1.5 made a busy 100M port look 10% used).
            let u = Double(sent) / (capacity[p] * Double(dt))
            utilisation[p] += (u - utilisation[p]) * weight
            let loadBand = min(7, Int(utilisation[p] * 8))
            let drain = Double(queuedBytes(p)) / capacity[p]
            drainNanoseconds[p] = UInt64(drain)
            let queueBand = min(7, Int(drain / Self.queueBandNanoseconds))
            band[p] = UInt8(max(loadBand, queueBand))
            assigned[p] = 0
        }
    }
}

/// DCQCN reaction point (Zhu et al., "Congestion Control for Large-Scale RDMA Deployments",
/// SIGCOMM 2015), with the parameter defaults of NVIDIA/Mellanox ConnectX NICs:
///
/// - on a CNP: target = current; current *= (1 - alpha/2); alpha = (1 - g) alpha + g;
///   increase counters reset.
/// - every `alphaInterval` (55 us) without a CNP: alpha *= (1 - g).
/// - every `increaseInterval` (300 us, rpg_time_reset) or every `byteCounter` bytes sent
///   (rpg_byte_reset): one increase event. The first `fastRecoverySteps` (5) events are fast
///   recovery (current = (target + current) / 2); after that additive increase (target +=
///   `additiveIncrease`, 5 Mb/s), and hyper increase (target += 50 Mb/s) once both timer and
///   byte events passed the threshold.
/// - the rate never drops below `minimumRate` (rpg_min_rate 1 Mb/s) nor exceeds the line rate.
///
/// A value type driven by the sender's clock: no timers, no threads.
public struct DCQCN: Sendable {
    public var g = 1.0 / 256
    public var alphaInterval: UInt64 = 55_000
    public var increaseInterval: UInt64 = 300_000
    public var byteCounter: UInt64 = 10 * 1024 * 1024
    public var fastRecoverySteps = 5
    public var additiveIncreaseGbps = 0.005
    public var hyperIncreaseGbps = 0.05
    public var minimumRateGbps = 0.001
    public let lineRateGbps: Double

    public private(set) var currentGbps: Double
    public private(set) var targetGbps: Double
    public private(set) var alpha = 1.0
    public private(set) var cuts: UInt64 = 0
    var lastAlphaUpdate: UInt64
    var lastIncrease: UInt64
    var bytesSinceIncrease: UInt64 = 0
    var timerEvents = 0
    var byteEvents = 0

    public init(lineRateGbps: Double, now: UInt64) {
        self.lineRateGbps = lineRateGbps
        currentGbps = lineRateGbps
        targetGbps = lineRateGbps
        lastAlphaUpdate = now
        lastIncrease = now
    }

    /// A CNP arrived for this flow.
    public mutating func congestionNotified(now: UInt64) {
        targetGbps = currentGbps
        currentGbps = max(minimumRateGbps, currentGbps * (1 - alpha / 2))
        alpha = (1 - g) * alpha + g
        cuts += 1
        lastAlphaUpdate = now
        lastIncrease = now
        bytesSinceIncrease = 0
        timerEvents = 0
        byteEvents = 0
    }

    /// Advances timers to `now` after `bytes` more were sent; returns the rate to send at.
    public mutating func advance(now: UInt64, sentBytes bytes: UInt64) -> Double {
        while now &- lastAlphaUpdate >= alphaInterval {
            alpha *= 1 - g
            lastAlphaUpdate &+= alphaInterval
        }
        bytesSinceIncrease += bytes
        while now &- lastIncrease >= increaseInterval {
            lastIncrease &+= increaseInterval
            timerEvents += 1
            increase()
        }
        while bytesSinceIncrease >= byteCounter {
            bytesSinceIncrease -= byteCounter
            byteEvents += 1
            increase()
        }
        return currentGbps
    }

    mutating func increase() {
        if timerEvents > fastRecoverySteps && byteEvents > fastRecoverySteps {
            targetGbps = min(lineRateGbps, targetGbps + hyperIncreaseGbps)
        } else if max(timerEvents, byteEvents) > fastRecoverySteps {
            targetGbps = min(lineRateGbps, targetGbps + additiveIncreaseGbps)
        }
        currentGbps = min(lineRateGbps, (targetGbps + currentGbps) / 2)
    }
}

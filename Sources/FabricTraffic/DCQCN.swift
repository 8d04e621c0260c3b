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
/// One per queue pair, as ConnectX runs it (the sender keeps one for each of its QPs). A value
/// type driven by the sender's clock: no timers, no threads.
public struct DCQCN: Sendable {
    /// The reaction point's settings, each with the ConnectX name it follows (mlxconfig /
    /// sysfs `roce_rp_*`) and its default there, as the DCQCN paper's evaluation used them.
    public struct Parameters: Sendable, Codable, Equatable {
        /// g, the alpha gain (dce_tcp_g: 1/256; paper: 1/256).
        public var g = 1.0 / 256
        /// Alpha update period without a CNP (rate_reduce_monitor_period / dce_tcp_rtt: 55 us).
        public var alphaIntervalNanoseconds: UInt64 = 55_000
        /// Rate increase timer (rpg_time_reset: 300 us).
        public var increaseIntervalNanoseconds: UInt64 = 300_000
        /// Rate increase byte counter (rpg_byte_reset: 32767 x 64 B in firmware units; the
        /// paper's B = 10 MB).
        public var byteCounter: UInt64 = 10 * 1024 * 1024
        /// Fast-recovery steps before additive increase (rpg_threshold: 5; paper F = 5).
        public var fastRecoverySteps = 5
        /// Additive increase (rpg_ai_rate: 5 Mb/s; paper R_AI 40 Mb/s at 40G).
        public var additiveIncreaseGbps = 0.005
        /// Hyper increase (rpg_hai_rate: 50 Mb/s; paper R_HAI 100 Mb/s).
        public var hyperIncreaseGbps = 0.05
        /// Floor (rpg_min_rate: 1 Mb/s).
        public var minimumRateGbps = 0.001
        public init() {}

        /// Checks the ranges; the message names the setting.
        public func validate() throws {
            guard g > 0 && g <= 1 else { throw TrafficError("dcqcn g \(g): 0 < g <= 1") }
            guard alphaIntervalNanoseconds > 0, increaseIntervalNanoseconds > 0, byteCounter > 0 else {
                throw TrafficError("dcqcn timers and byte counter must be more than 0")
            }
            guard fastRecoverySteps >= 0, additiveIncreaseGbps >= 0, hyperIncreaseGbps >= 0, minimumRateGbps > 0 else {
                throw TrafficError("dcqcn: fast-recovery steps and increases are 0 or more, the minimum rate more than 0")
            }
        }
    }

    public var g: Double
    public var alphaInterval: UInt64
    public var increaseInterval: UInt64
    public var byteCounter: UInt64
    public var fastRecoverySteps: Int
    public var additiveIncreaseGbps: Double
    public var hyperIncreaseGbps: Double
    public var minimumRateGbps: Double
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

    public init(lineRateGbps: Double, now: UInt64, parameters p: Parameters = Parameters()) {
        g = p.g
        alphaInterval = p.alphaIntervalNanoseconds
        increaseInterval = p.increaseIntervalNanoseconds
        byteCounter = p.byteCounter
        fastRecoverySteps = p.fastRecoverySteps
        additiveIncreaseGbps = p.additiveIncreaseGbps
        hyperIncreaseGbps = p.hyperIncreaseGbps
        minimumRateGbps = p.minimumRateGbps
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

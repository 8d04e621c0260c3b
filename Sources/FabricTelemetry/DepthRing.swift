import FabricCore

/// The always-on queue-depth time series: every port's 8 queue depths (bytes) and paused-queue
/// mask, sampled by the worker every `interval` while it is awake (it sleeps only with every
/// queue empty), in a bounded ring of the last `capacity` samples (10,000: one second at the
/// default 100 us). `fabric stats depth` asks for it through the control socket; the worker
/// copies it out between iterations.
public final class DepthRing {
    public let interval: UInt64
    public let capacity: Int
    let ports: Int
    let times: UnsafeMutablePointer<UInt64>
    let depths: UnsafeMutablePointer<UInt32>     // [sample][port][queue]
    let paused: UnsafeMutablePointer<UInt8>      // [sample][port]
    var next = 0
    var count = 0
    public var last: UInt64 = 0

    public init(ports: Int, intervalMicroseconds: Int = 100, capacity: Int = 10_000) {
        interval = UInt64(max(10, intervalMicroseconds)) * 1000
        self.capacity = capacity
        self.ports = ports
        times = .filled(with: 0, count: capacity)
        depths = .filled(with: 0, count: capacity * ports * 8)
        paused = .filled(with: 0, count: capacity * ports)
    }

    deinit {
        times.deallocate()
        depths.deallocate()
        paused.deallocate()
    }

    @inlinable public func due(_ now: UInt64) -> Bool { now &- last >= interval }

    /// One sample of every queue's depth (bytes) and every port's paused queues.
    public func sample(_ dp: borrowing Datapath, now: UInt64) {
        last = now
        times[next] = now
        for p in 0..<ports {
            for q in 0..<8 { depths[(next * ports + p) * 8 + q] = UInt32(clamping: dp.depthBytes(port: p, queue: q)) }
            paused[next * ports + p] = dp.pausedMask(port: p, now: now)
        }
        next = next + 1 == capacity ? 0 : next + 1
        if count < capacity { count += 1 }
    }

    /// The samples in time order (worker side, on request).
    public func series(portNames: [String]) -> DepthSeries {
        var s = DepthSeries(intervalMicroseconds: Int(interval / 1000), ports: portNames, times: [],
                            depths: Array(repeating: Array(repeating: [], count: 8), count: ports),
                            paused: Array(repeating: [], count: ports))
        let start = count < capacity ? 0 : next
        let t0 = count > 0 ? times[start] : 0
        for k in 0..<count {
            let i = (start + k) % capacity
            s.times.append(Double(times[i] &- t0) / 1000)
            for p in 0..<ports {
                for q in 0..<8 { s.depths[p][q].append(depths[(i * ports + p) * 8 + q]) }
                s.paused[p].append(paused[i * ports + p])
            }
        }
        return s
    }
}

/// `fabric stats depth --json`: the ring's samples, oldest first.
public struct DepthSeries: Codable, Sendable {
    public var intervalMicroseconds: Int
    public var ports: [String]
    /// Microseconds since the oldest sample.
    public var times: [Double]
    /// [port][queue][sample] bytes queued.
    public var depths: [[[UInt32]]]
    /// [port][sample] bit q: queue q paused by PFC.
    public var paused: [[UInt8]]
}

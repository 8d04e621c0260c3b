import FabricCore
import FabricPacket

/// A data path over plain memory: the pipeline, dispatch and egress run exactly as in the
/// switch, with frames written into the frame area instead of received from sockets (swift-nio's
/// EmbeddedChannel, for the data plane). The one harness of the core tests and the pipeline
/// benchmarks. Public API of FabricCore only, so a release build (the benchmarks) can use it.
/// A class, so tests share one bed; compiled without exclusivity checks like the hot path, so
/// a benchmark driving it counts none.
public final class EmbeddedDatapath {
    public let frameCount: Int
    public let frameSize: Int
    public let memory: UnsafeMutableRawPointer
    public var dp: Datapath
    public var batch: Batch
    /// Where `receive` writes a frame inside its UMEM frame (as the kernel leaves headroom).
    public static let headroom = 256

    /// `reserve`: pool frames kept for PFC; `losslessQueueCapacity`: of the lossless queues, if
    /// more than `queueCapacity` (`FrameBudget`).
    public init(config: SwitchConfig, portMACs: [MACAddress], frameCount: Int = 1024, frameSize: Int = 2048,
                queueCapacity: Int = 64, batchSize: Int = 64, bridge: consuming L2Bridge = L2Bridge(table: MACTable()),
                reserve: Int = 0, losslessQueueCapacity: Int = 0) {
        self.frameCount = frameCount
        self.frameSize = frameSize
        memory = .allocate(byteCount: frameCount * frameSize, alignment: 4096)
        memory.initializeMemory(as: UInt8.self, repeating: 0, count: frameCount * frameSize)
        dp = Datapath(config: config, portMACs: portMACs, frames: memory,
                      pool: FramePool(frameCount: frameCount, frameSize: frameSize, reserve: reserve),
                      bridge: bridge, queueCapacity: queueCapacity, losslessQueueCapacity: losslessQueueCapacity)
        batch = Batch(capacity: batchSize)
    }

    /// Frame memory, reserve and lossless queues as `FrameBudget` sizes them for `config`
    /// (without the kernel's rings, which a data path over plain memory does not have).
    public convenience init(budgetFor config: SwitchConfig, portMACs: [MACAddress], queueCapacity: Int = 4096, batchSize: Int = 64) {
        let b = FrameBudget(config: config, ringSize: 64, batchSize: batchSize)
        self.init(config: config, portMACs: portMACs, frameCount: b.outsideRings, queueCapacity: queueCapacity, batchSize: batchSize,
                  reserve: b.reserve, losslessQueueCapacity: b.losslessQueueCapacity)
    }

    /// A learning bridge of `ports` ports.
    public convenience init(bridgePorts ports: Int, frameCount: Int = 64, queueCapacity: Int = 16, batchSize: Int = 64,
                macTable: consuming MACTable = MACTable(capacity: 64, agingTime: 1_000_000_000)) {
        let config = SwitchConfig(mode: .bridge, ports: (0..<ports).map { PortConfig(name: "p\($0)") })
        self.init(config: config, portMACs: [MACAddress](repeating: MACAddress(rawValue: 0), count: ports), frameCount: frameCount,
                  queueCapacity: queueCapacity, batchSize: batchSize, bridge: L2Bridge(table: macTable))
    }

    deinit { memory.deallocate() }

    /// Copies `bytes` into a fresh pool frame and adds it to the batch; false when the pool or
    /// the batch is full.
    @discardableResult
    public func receive(_ bytes: [UInt8]) -> Bool {
        guard batch.count < batch.capacity, let frame = dp.pool.allocate() else { return false }
        let addr = frame + UInt64(Self.headroom)
        bytes.withUnsafeBytes { (memory + Int(addr)).copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
        return batch.append(addr: addr, len: UInt32(bytes.count))
    }

    /// Runs the pipeline over the batch as if it arrived on `ingress` at `now`.
    public func forward(ingress: Int, now: UInt64 = 1_000) {
        batch.ingress = ingress
        batch.timestamp = now
        dp.forward(&batch)
    }

    /// What `port` transmits at `now` through the real transmit path (control frames first,
    /// scheduler, pauses, line rate, buffer credit), as bytes; the frames go back to the pool.
    /// Up to `limit` frames `port` sends at `now` (freed), taken a batch at a time as the
    /// switch's TX pass takes them (`Datapath.dequeueForTransmit(port:now:into:len:most:)`).
    public func transmit(port: Int, now: UInt64, limit: Int = .max) -> [[UInt8]] {
        var out: [[UInt8]] = []
        let addr = UnsafeMutablePointer<UInt64>.allocate(capacity: 64), len = UnsafeMutablePointer<UInt32>.allocate(capacity: 64)
        defer { addr.deallocate(); len.deallocate() }
        while out.count < limit {
            let most = min(64, limit - out.count)
            let k = dp.dequeueForTransmit(port: port, now: now, into: addr, len: len, most: most)
            for j in 0..<k {
                out.append(bytes(at: addr[j], length: len[j]))
                dp.pool.release(addr[j])
            }
            if k < most { break }
        }
        return out
    }

    /// The bytes of the frame at `addr`.
    public func bytes(at addr: UInt64, length: UInt32) -> [UInt8] {
        Array(UnsafeRawBufferPointer(start: memory + Int(addr), count: Int(length)))
    }

    /// Every frame is free, queued or pending (there are no kernel rings here).
    public var ledgerBalances: Bool { dp.pool.freeCount + dp.queuedFrames + dp.pendingFrames + dp.pool.chained == frameCount }
}

/// The router the core tests share: ports h1 (10.77.1.254/24), h2 (10.77.2.254/24), up1
/// (10.0.1.0/31), up2 (10.0.2.0/31); 10.99.0.0/16 over both uplinks (ECMP).
public enum RouterLab {
    public static let portMACs: [UInt64] = [0x02_5F_00_00_00_02, 0x02_5F_00_00_02_FE, 0x02_5F_00_00_10_FE, 0x02_5F_00_00_20_FE]
    public static let host1: UInt64 = 0x02_5F_00_00_00_01
    public static let host2: UInt64 = 0x02_5F_00_00_00_22
    public static let spine1: UInt64 = 0x02_5F_00_00_10_01
    public static let spine2: UInt64 = 0x02_5F_00_00_20_01
    public static let h1 = parseIPv4("10.77.1.1")!
    public static let h2 = parseIPv4("10.77.2.1")!

    /// The 4-port router; with `neighbours`, the spines' MACs are static.
    public static func config(neighbours: Bool = true) -> SwitchConfig {
        var cfg = SwitchConfig(ports: [
            PortConfig(name: "h1", addresses: [IPPrefix("10.77.1.254/24", strict: false)!]),
            PortConfig(name: "h2", addresses: [IPPrefix("10.77.2.254/24", strict: false)!]),
            PortConfig(name: "up1", addresses: [IPPrefix("10.0.1.0/31", strict: false)!]),
            PortConfig(name: "up2", addresses: [IPPrefix("10.0.2.0/31", strict: false)!]),
        ])
        cfg.routes = [RouteConfig(prefix: IPPrefix("10.99.0.0/16", strict: true)!, nextHops: [.v4(parseIPv4("10.0.1.1")!), .v4(parseIPv4("10.0.2.1")!)])]
        if neighbours {
            cfg.neighbours = [NeighbourConfig(address: .v4(parseIPv4("10.0.1.1")!), mac: MACAddress(rawValue: spine1)),
                              NeighbourConfig(address: .v4(parseIPv4("10.0.2.1")!), mac: MACAddress(rawValue: spine2))]
        }
        return cfg
    }

    public static func make(neighbours: Bool = true) -> EmbeddedDatapath {
        EmbeddedDatapath(config: config(neighbours: neighbours), portMACs: portMACs.map { MACAddress(rawValue: $0) })
    }

    /// Two ports, h1 and h2, both hosts resolved; ECN and buffers as given (the lossless tests).
    public static func twoPorts(ecn: ECNConfig = ECNConfig(), buffers: BufferConfig = BufferConfig(), watchdog: PFCWatchdogConfig = PFCWatchdogConfig()) -> EmbeddedDatapath {
        var cfg = SwitchConfig(ports: [
            PortConfig(name: "h1", addresses: [IPPrefix("10.77.1.254/24", strict: false)!]),
            PortConfig(name: "h2", addresses: [IPPrefix("10.77.2.254/24", strict: false)!]),
        ])
        cfg.ecn = ecn
        cfg.buffers = buffers
        cfg.pfcWatchdog = watchdog
        cfg.neighbours = [NeighbourConfig(address: .v4(h2), mac: MACAddress(rawValue: host2)),
                          NeighbourConfig(address: .v4(h1), mac: MACAddress(rawValue: host1))]
        return EmbeddedDatapath(config: cfg, portMACs: portMACs.prefix(2).map { MACAddress(rawValue: $0) }, frameCount: 256)
    }

    /// A UDP packet from h1 to h2 with DSCP `dscp` (ECN ECT(0) unless `ecn` says otherwise).
    public static func udp(from: Int = 1, sport: UInt16 = 1, dscp: UInt8 = 0, ecn: UInt8 = 2, payload: Int = 18) -> [UInt8] {
        let (src, dst) = from == 1 ? (h1, h2) : (h2, h1)
        return Frames.udp4(dstMAC: portMACs[from - 1], srcMAC: from == 1 ? host1 : host2, src: src, dst: dst, sport: sport, dport: 9,
                           tos: dscp << 2 | ecn, payload: payload)
    }
}

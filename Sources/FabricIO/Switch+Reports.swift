// The switch's reports: the frame ledger, snapshots for the control socket and the stats file
// (with `--workers N`, worker 0's is the sum of every worker's).
import FabricCore
import FabricSystem
import FabricTelemetry

extension FabricSwitch where IO: ~Copyable {
    public func ledger() -> FrameLedger {
        var l = FrameLedger()
        l.total = dp.pool.capacity
        l.free = dp.pool.freeCount
        l.reserve = dp.pool.reserve
        l.refusals = dp.pool.refusals
        l.queued = dp.queuedFrames
        l.pending = dp.pendingFrames
        l.chained = dp.pool.chained
        io.ledger(&l, inService: dp.inService)
        return l
    }

    public mutating func snapshot(running: Bool) -> SwitchReport {
        sequence += 1
        let modes = attachModes
        let now = monotonicNanoseconds()
        let ports = (0..<portCount).map { p in
            let x = io.steeringCounters(p)
            var port = PortIO(name: names[p], ifindex: ifindexes[p], attachMode: modes[p], redirected: x.redirected, passed: x.passed,
                              socket: io.socketDrops(p))
            if let fp = fastPath {
                let s = fp.stats(port: p)
                port.fastpath = FastPathCounters(frames: s.rxFrames, bytes: s.rxBytes, txFrames: s.txFrames, txBytes: s.txBytes,
                                                 punts: FastPathPunt.named(io.fastPathPunts(p)))
            }
            return port
        }
        let mine = SwitchReport(name: options.config?.name ?? "bridge", datapath: dp, io: ports, ledger: ledger(), loop: loop,
                                sequence: sequence, uptimeSeconds: Double(now - startedAt) / 1e9, running: running, now: now)
        return peerSlots.isEmpty ? mine : mine.merged(with: peerSlots.compactMap(\.latest))
    }

    mutating func publishStats(running: Bool) {
        if let slot = ownSlot { return slot.store(snapshot(running: running)) }
        write(snapshot(running: running))
    }

    func write(_ report: SwitchReport) {
        guard let path = options.statsFile else { return }
        StatsFile.write(report, to: path)
    }
}

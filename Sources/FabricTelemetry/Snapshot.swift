import FabricCore
import FabricPacket

/// What the run loop knows of a port beyond the data path: its interface and its socket.
public struct PortIO: Sendable {
    public var name: String
    public var ifindex: Int32
    /// How the port is attached: native, generic, af_packet.
    public var attachMode: String
    /// Frames the port's steering program redirected to the socket and passed to the kernel.
    public var redirected: UInt64
    public var passed: UInt64
    public var socket: SocketDrops
    /// `--fastpath on`: what the XDP fast path forwarded in (received here) and out of the port,
    /// and why frames it received went to userspace (`FP_PUNT_*` by name); nil without it.
    public var fastpath: FastPathCounters? = nil

    public init(name: String, ifindex: Int32, attachMode: String, redirected: UInt64, passed: UInt64, socket: SocketDrops) {
        self.name = name
        self.ifindex = ifindex
        self.attachMode = attachMode
        self.redirected = redirected
        self.passed = passed
        self.socket = socket
    }
}

extension SwitchReport {
    /// A snapshot of the data path and the ports' I/O (built off the per-packet path: on a
    /// control request, a stats-file tick, or at exit).
    public init(name: String, datapath dp: borrowing Datapath, io: [PortIO], ledger: FrameLedger, loop: LoopCounters,
                sequence: UInt64, uptimeSeconds: Double, running: Bool, now: UInt64) {
        var ports: [PortReport] = []
        for p in 0..<dp.portCount {
            let st = dp.stats(port: p, now: now)
            let c = st.counters
            let x = io[p]
            var drops: [String: UInt64] = [:]
            for r in DropReason.allCases { drops[r.description] = c.drops[r] }
            ports.append(PortReport(
                name: x.name, ifindex: x.ifindex, inService: st.inService,
                linkUp: st.linkUp, linkDowns: c.linkDowns, linkUps: c.linkUps,
                xdpMode: x.attachMode,
                rxFrames: c.rxFrames, rxBytes: c.rxBytes, txFrames: c.txFrames, txBytes: c.txBytes,
                floodCopies: c.floodCopies, drops: drops, dropsTotal: c.totalDrops,
                roceFrames: c.roceFrames, cnpFrames: c.cnpFrames, l4Skipped: c.l4Skipped, consumed: c.consumed,
                arpRequestsSent: c.arpRequestsSent, arpRepliesSent: c.arpRepliesSent, icmpEchoReplies: c.icmpEchoReplies,
                neighbour: st.neighbour,
                parseErrors: Dictionary(uniqueKeysWithValues: ParseError.allCases.map { ($0.description, c.parseErrors[raw: Int($0.rawValue)]) }.filter { $0.1 > 0 }),
                pfcRx: c.pfcRx.array, pfcXonTransitions: c.pfcXonTransitions.array,
                pfcPausedMicroseconds: st.pausedNanoseconds.map { Double($0) / 1000 },
                pfcTx: c.pfcTx.array, pfcTxFailures: c.pfcTxFailures,
                pgBytes: st.pgBytes.map(UInt64.init), pgWatermark: st.pgPeak.map(UInt64.init), pgShared: st.pgShared.map(UInt64.init),
                pgHeadroom: st.pgHeadroom.map(UInt64.init), pgHeadroomWatermark: st.pgHeadroomPeak.map(UInt64.init),
                pfcReaction: ReactionReport(count: c.pfcReactions,
                                            meanMicroseconds: c.pfcReactions == 0 ? 0 : Double(c.pfcReactionTotalNanoseconds) / Double(c.pfcReactions) / 1000,
                                            maxMicroseconds: Double(c.pfcReactionMaxNanoseconds) / 1000),
                utilisation: st.utilisation, loadBand: st.loadBand,
                pauseRx: c.pauseRx,
                pfcIgnoredDestination: c.pfcIgnoredDestination, pfcIgnoredPriority: c.pfcIgnoredPriority.array,
                queues: st.queues,
                xdpRedirected: x.redirected, xdpPassed: x.passed, socket: x.socket,
                fastpathFrames: x.fastpath?.frames, fastpathBytes: x.fastpath?.bytes,
                fastpathTxFrames: x.fastpath?.txFrames, fastpathTxBytes: x.fastpath?.txBytes, fastpathPunts: x.fastpath?.punts,
                ringWait: st.ringWait.count > 0 ? st.ringWait : nil))
        }
        let pool = dp.bufferPool, lb = dp.loadBalancing
        self.init(
            name: name, mode: dp.mode.rawValue,
            sequence: sequence, uptimeSeconds: uptimeSeconds,
            running: running, ports: ports, macEntries: dp.macEntries, macLearnFailures: dp.macLearnFailures, macMoves: dp.macMoves,
            neighbours: dp.neighbourEntries(now: now).map {
                NeighbourReport(address: $0.address.description, mac: $0.mac?.description, isStatic: $0.isStatic)
            },
            ledger: ledger, loop: loop,
            buffer: BufferReport(poolBytes: pool.bytes, usedBytes: pool.used, watermarkBytes: pool.watermark),
            loadBalancing: LoadBalancingReport(newFlowlets: lb.newFlowlets, pathChanges: lb.pathChanges, collisions: lb.collisions,
                                               sprayed: lb.sprayed, flowletIdleMicroseconds: Double(lb.flowletIdleNanoseconds) / 1000,
                                               failovers: dp.failovers.map { f in
                FailoverReport(flowHash: f.flowHash, from: io[Int(f.fromPort)].name, to: io[Int(f.toPort)].name,
                               atSeconds: uptimeSeconds - Double(now &- f.firstOnLive) / 1e9, milliseconds: Double(f.nanoseconds) / 1e6)
            }))
    }
}

/// What the XDP fast path did on one port (`--fastpath on`).
public struct FastPathCounters: Sendable {
    public var frames: UInt64, bytes: UInt64, txFrames: UInt64, txBytes: UInt64
    public var punts: [String: UInt64]
    public init(frames: UInt64, bytes: UInt64, txFrames: UInt64, txBytes: UInt64, punts: [String: UInt64]) {
        self.frames = frames
        self.bytes = bytes
        self.txFrames = txFrames
        self.txBytes = txBytes
        self.punts = punts
    }
}

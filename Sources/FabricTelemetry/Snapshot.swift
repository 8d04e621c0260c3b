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
            let c = dp.counters[p]
            let x = io[p]
            var drops: [String: UInt64] = [:]
            for r in DropReason.allCases { drops[r.description] = c.drops[r] }
            ports.append(PortReport(
                name: x.name, ifindex: x.ifindex, inService: dp.inService[p],
                xdpMode: x.attachMode,
                rxFrames: c.rxFrames, rxBytes: c.rxBytes, txFrames: c.txFrames, txBytes: c.txBytes,
                floodCopies: c.floodCopies, drops: drops, dropsTotal: c.totalDrops,
                roceFrames: c.roceFrames, cnpFrames: c.cnpFrames, l4Skipped: c.l4Skipped, consumed: c.consumed,
                arpRequestsSent: c.arpRequestsSent, arpRepliesSent: c.arpRepliesSent, icmpEchoReplies: c.icmpEchoReplies,
                parseErrors: Dictionary(uniqueKeysWithValues: ParseError.allCases.map { ($0.description, c.parseErrors[raw: Int($0.rawValue)]) }.filter { $0.1 > 0 }),
                pfcRx: c.pfcRx.array, pfcXonTransitions: c.pfcXonTransitions.array,
                pfcPausedMicroseconds: (0..<8).map { prio in
                    Double(dp.queues[p].pausedNanoseconds(queue: dp.queueForPriority(prio), now: now)) / 1000
                },
                pfcTx: c.pfcTx.array,
                pgBytes: (0..<8).map { UInt64(dp.buffer.held(port: p, pg: $0)) },
                pgWatermark: (0..<8).map { UInt64(dp.buffer.heldPeak(port: p, pg: $0)) },
                pgShared: (0..<8).map { UInt64(dp.buffer.shared(port: p, pg: $0)) },
                pgHeadroom: (0..<8).map { UInt64(dp.buffer.headroomUsed(port: p, pg: $0)) },
                pgHeadroomWatermark: (0..<8).map { UInt64(dp.buffer.headroomPeak(port: p, pg: $0)) },
                pfcReaction: ReactionReport(count: c.pfcReactions,
                                            meanMicroseconds: c.pfcReactions == 0 ? 0 : Double(c.pfcReactionTotalNanoseconds) / Double(c.pfcReactions) / 1000,
                                            maxMicroseconds: Double(c.pfcReactionMaxNanoseconds) / 1000),
                utilisation: dp.load.utilisation[p], loadBand: Int(dp.load.band[p]),
                pauseRx: c.pauseRx,
                queues: (0..<EgressPort.queueCount).map { q in
                    let d = dp.queues[p].depth(queue: q)
                    return QueueReport(queue: q, depthFrames: d.frames, depthBytes: d.bytes, watermarkFrames: dp.queues[p].watermark[q],
                                       enqueued: dp.queues[p].enqueued[q], dequeued: dp.queues[p].dequeued[q],
                                       dropped: dp.queues[p].dropped[q], ecnMarked: c.ecnMarked[q],
                                       stormed: dp.queues[p].stormed & (1 << UInt8(q)) != 0, pfcwdStorms: c.pfcwdStorms[q],
                                       pfcwdRestored: c.pfcwdRestored[q], pfcwdDropped: c.pfcwdDropped[q],
                                       pfcwdDetectedAfterMilliseconds: Double(c.pfcwdDetectedAfter[q]) / 1e6,
                                       residence: ResidenceReport(count: dp.queues[p].residence.count(q), p50: dp.queues[p].residence.percentile(q, 50),
                                                                  p99: dp.queues[p].residence.percentile(q, 99), p999: dp.queues[p].residence.percentile(q, 99.9),
                                                                  max: dp.queues[p].residence.max(q)))
                },
                xdpRedirected: x.redirected, xdpPassed: x.passed, socket: x.socket))
        }
        self.init(
            name: name, mode: dp.mode.rawValue,
            sequence: sequence, uptimeSeconds: uptimeSeconds,
            running: running, ports: ports, macEntries: dp.bridge.table.count,
            neighbours: (dp.router.neighbours.entries(now: now).map {
                NeighbourReport(address: formatIPv4($0.ip), mac: $0.mac?.description, isStatic: $0.isStatic)
            }.sorted { $0.address < $1.address }) + dp.router.neighbours.entries6(now: now).map {
                NeighbourReport(address: $0.ip.description, mac: $0.mac?.description, isStatic: $0.isStatic)
            },
            ledger: ledger, loop: loop,
            buffer: BufferReport(poolBytes: dp.buffer.poolBytes, usedBytes: dp.buffer.poolUsed, watermarkBytes: dp.buffer.poolWatermark),
            loadBalancing: LoadBalancingReport(newFlowlets: dp.router.selector.newFlowlets, pathChanges: dp.router.selector.pathChanges,
                                               collisions: dp.router.selector.collisions, sprayed: dp.router.selector.sprayed,
                                               flowletIdleMicroseconds: Double(dp.router.selector.idleNanoseconds) / 1000))
    }
}

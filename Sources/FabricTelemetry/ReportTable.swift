import FabricCore
import Foundation

extension SwitchReport {
    /// The frame balance of the whole switch: what came in or was made by the switch in fresh
    /// frames (ARP requests and neighbour solicitations, PFC, flood copies) against what went
    /// out, was dropped, was used up by the switch (consumed) or is still queued or awaiting a
    /// neighbour. (ARP/ND replies and echo replies reuse the request's frame: in once, out
    /// once.) Equal when nothing went missing.
    public var balance: (into: UInt64, outOf: UInt64) {
        var into: UInt64 = 0, out: UInt64 = 0
        for p in ports {
            into += p.rxFrames + p.floodCopies + p.arpRequestsSent + p.pfcTx.reduce(0, +)
            out += p.txFrames + p.dropsTotal + p.consumed + p.queues.reduce(0) { $0 + UInt64($1.depthFrames) }
        }
        return (into, out + UInt64(ledger.pending))
    }

    /// The neighbour tables in one line: their fill and, when anything happened, the counters.
    public var neighbourSummary: String {
        let resolved = neighbours.filter { $0.mac != nil }.count
        var c = NeighbourCounters()
        for p in ports { c.add(p.neighbour) }
        return "neighbours: \(resolved) resolved, \(neighbours.count - resolved) resolving"
            + (c == NeighbourCounters() ? "" : " (\(c))")
    }

    /// The exit summary: a fixed-width table a network engineer reads without the docs.
    public var table: String {
        func pad(_ s: String, _ w: Int) -> String { s.count >= w ? s : String(repeating: " ", count: w - s.count) + s }
        func lpad(_ s: String, _ w: Int) -> String { s.count >= w ? s : s + String(repeating: " ", count: w - s.count) }
        var out = lpad("PORT", 12) + lpad("STATE", 7) + pad("RX_FRAMES", 12) + pad("RX_BYTES", 14)
            + pad("TX_FRAMES", 12) + pad("TX_BYTES", 14) + pad("DROPS", 8) + pad("XDP_REDIR", 11) + pad("XDP_PASS", 10) + "\n"
        for p in ports {
            out += lpad(p.name, 12) + lpad(p.inService ? "up" : "gone", 7) + pad("\(p.rxFrames)", 12) + pad("\(p.rxBytes)", 14)
                + pad("\(p.txFrames)", 12) + pad("\(p.txBytes)", 14) + pad("\(p.dropsTotal + p.socket.frames)", 8)
                + pad("\(p.xdpRedirected)", 11) + pad("\(p.xdpPassed)", 10) + "\n"
        }
        if ports.contains(where: { $0.fastpathFrames != nil }) {
            out += "fast path (XDP) forwarded: " + ports.map { "\($0.name) \($0.fastpathFrames ?? 0) frames/\($0.fastpathBytes ?? 0) B in, "
                + "\($0.fastpathTxFrames ?? 0) out" }.joined(separator: "; ") + "\n"
            let punts = ports.flatMap { p in (p.fastpathPunts ?? [:]).sorted { $0.key < $1.key }.map { "\(p.name):\($0.key)=\($0.value)" } }
            if !punts.isEmpty { out += "fast path sent to userspace: " + punts.joined(separator: " ") + "\n" }
        }
        let reasons = ports.flatMap { p in
            var all = p.drops
            all["socket_rx_ring_full"] = p.socket.rxRingFull
            all["socket_rx_dropped"] = p.socket.rxDropped
            all["socket_invalid"] = p.socket.rxInvalid + p.socket.txInvalid
            all["unserved_queue"] = p.socket.unservedQueue
            return all.filter { $0.value > 0 }.sorted { $0.key < $1.key }.map { "\(p.name):\($0.key)=\($0.value)" }
        }
        if !reasons.isEmpty { out += "drops by reason: " + reasons.joined(separator: " ") + "\n" }
        let backlog = ports.filter { $0.socket.rxRingPeak > 0 }.map { "\($0.name)=\($0.socket.rxRingPeak)/\($0.socket.rxRingSize)" }
        if !backlog.isEmpty { out += "rx ring peak (frames waiting for the switch): " + backlog.joined(separator: " ") + "\n" }
        let pfc: [String] = ports.flatMap { p in (0..<8).filter { p.pfcRx[$0] > 0 }.map { prio -> String in
            "\(p.name):prio\(prio)=\(p.pfcRx[prio]) frames/\(Int(p.pfcPausedMicroseconds[prio])) us paused"
        } }
        if !pfc.isEmpty { out += "PFC received: " + pfc.joined(separator: " ") + "\n" }
        let pfcOut: [String] = ports.flatMap { p in (0..<8).filter { p.pfcTx[$0] > 0 }.map {
            "\(p.name):prio\($0)=\(p.pfcTx[$0]) frames (PG peak \(p.pgWatermark[$0]) B, headroom peak \(p.pgHeadroomWatermark[$0]) B)"
        } }
        if !pfcOut.isEmpty { out += "PFC sent: " + pfcOut.joined(separator: " ") + "\n" }
        let pfcFailed = ports.filter { $0.pfcTxFailures > 0 }.map { "\($0.name)=\($0.pfcTxFailures)" }
        if !pfcFailed.isEmpty { out += "PFC NOT sent (no frame or control queue full): " + pfcFailed.joined(separator: " ") + "\n" }
        let reactions = ports.filter { $0.pfcReaction.count > 0 }.map {
            "\($0.name): \($0.pfcReaction.count) XOFF, mean \(String(format: "%.1f", $0.pfcReaction.meanMicroseconds)) us, max \(String(format: "%.1f", $0.pfcReaction.maxMicroseconds)) us"
        }
        if !reactions.isEmpty { out += "PFC reaction (threshold to wire): " + reactions.joined(separator: "; ") + "\n" }
        if loadBalancing.newFlowlets + loadBalancing.sprayed > 0 {
            out += "load balancing: \(loadBalancing.newFlowlets) flowlets, \(loadBalancing.pathChanges) path changes, "
                + "\(loadBalancing.collisions) collisions (idle \(Int(loadBalancing.flowletIdleMicroseconds)) us), \(loadBalancing.sprayed) packets sprayed\n"
        }
        for c in captures ?? [] { out += c + "\n" }
        out += "shared buffer: peak \(buffer.watermarkBytes) of \(buffer.poolBytes) B, \(buffer.usedBytes) B in use\n"
        out += "worker: \(loop.iterations) passes, longest stall \(String(format: "%.1f", loop.longestStallMicroseconds / 1000)) ms (not polling, not asleep)\n"
        let marks = ports.flatMap { p in p.queues.filter { $0.ecnMarked > 0 }.map { "\(p.name):q\($0.queue)=\($0.ecnMarked)" } }
        if !marks.isEmpty { out += "ECN CE-marked: " + marks.joined(separator: " ") + "\n" }
        let storms = ports.flatMap { p in p.queues.filter { $0.pfcwdStorms > 0 }.map {
            "\(p.name):q\($0.queue) storms=\($0.pfcwdStorms) restored=\($0.pfcwdRestored) dropped=\($0.pfcwdDropped) detected after \(String(format: "%.0f", $0.pfcwdDetectedAfterMilliseconds)) ms paused\($0.stormed ? " (stormed now)" : "")"
        } }
        if !storms.isEmpty { out += "PFC watchdog: " + storms.joined(separator: " ") + "\n" }
        if mode == "router" {
            let kinds = ports.map { p in "\(p.name): roce \(p.roceFrames) cnp \(p.cnpFrames) to-switch \(p.consumed) arp-req \(p.arpRequestsSent) arp-rep \(p.arpRepliesSent)" }
            out += "router: " + kinds.joined(separator: "; ") + "\n"
            let pe = ports.flatMap { p in p.parseErrors.sorted { $0.key < $1.key }.map { "\(p.name):\($0.key)=\($0.value)" } }
            if !pe.isEmpty { out += "parse errors: " + pe.joined(separator: " ") + "\n" }
            out += neighbourSummary + "; \(ledger)\n"
        } else {
            out += "MAC table: \(macEntries) entries, \(macMoves ?? 0) moves, \(macLearnFailures ?? 0) refused (full); \(ledger)\n"
        }
        return out
    }
}

import FabricCore

// One report of a switch run by several workers (`fabric switch --workers N`): each worker
// forwards the flows of its rx queue with its own frame memory, egress queues and counters, and
// publishes its own report; the switch's is their sum. Counters add up; levels a worker sees
// of its own share (queue and buffer watermarks, residence percentiles, the longest stall) are
// the largest any worker saw, a lower bound of the switch's; state every worker keeps for the
// whole port (link transitions, paused time) is the largest.

extension SwitchReport {
    /// This report (worker 0's) with `others`' added.
    public func merged(with others: [SwitchReport]) -> SwitchReport {
        var r = self
        r.workerRxFrames = ([self] + others).map { $0.ports.reduce(0) { $0 &+ $1.rxFrames } }
        for o in others { r.add(o) }
        return r
    }

    mutating func add(_ o: SwitchReport) {
        for i in ports.indices where i < o.ports.count { ports[i].add(o.ports[i]) }
        macEntries = max(macEntries, o.macEntries)
        if let f = o.macLearnFailures { macLearnFailures = (macLearnFailures ?? 0) &+ f }
        if let m = o.macMoves { macMoves = (macMoves ?? 0) &+ m }
        let known = Set(neighbours.map(\.address))
        neighbours += o.neighbours.filter { !known.contains($0.address) }
        ledger.add(o.ledger)
        loop.add(o.loop)
        buffer.poolBytes &+= o.buffer.poolBytes
        buffer.usedBytes &+= o.buffer.usedBytes
        buffer.watermarkBytes = max(buffer.watermarkBytes, o.buffer.watermarkBytes)
        loadBalancing.newFlowlets &+= o.loadBalancing.newFlowlets
        loadBalancing.pathChanges &+= o.loadBalancing.pathChanges
        loadBalancing.collisions &+= o.loadBalancing.collisions
        loadBalancing.sprayed &+= o.loadBalancing.sprayed
        if let f = o.loadBalancing.failovers { loadBalancing.failovers = (loadBalancing.failovers ?? []) + f }
        if let c = o.captures { captures = (captures ?? []) + c }
    }
}

extension PortReport {
    mutating func add(_ o: PortReport) {
        if let d = o.linkDowns { linkDowns = max(linkDowns ?? 0, d) }
        if let u = o.linkUps { linkUps = max(linkUps ?? 0, u) }
        rxFrames &+= o.rxFrames
        rxBytes &+= o.rxBytes
        txFrames &+= o.txFrames
        txBytes &+= o.txBytes
        floodCopies &+= o.floodCopies
        for (k, v) in o.drops { drops[k, default: 0] &+= v }
        dropsTotal &+= o.dropsTotal
        roceFrames &+= o.roceFrames
        cnpFrames &+= o.cnpFrames
        l4Skipped &+= o.l4Skipped
        consumed &+= o.consumed
        arpRequestsSent &+= o.arpRequestsSent
        arpRepliesSent &+= o.arpRepliesSent
        icmpEchoReplies &+= o.icmpEchoReplies
        neighbour.add(o.neighbour)
        for (k, v) in o.parseErrors { parseErrors[k, default: 0] &+= v }
        func sum(_ a: inout [UInt64], _ b: [UInt64]) { for i in a.indices where i < b.count { a[i] &+= b[i] } }
        func most(_ a: inout [UInt64], _ b: [UInt64]) { for i in a.indices where i < b.count { a[i] = Swift.max(a[i], b[i]) } }
        sum(&pfcRx, o.pfcRx)
        sum(&pfcXonTransitions, o.pfcXonTransitions)
        for i in pfcPausedMicroseconds.indices where i < o.pfcPausedMicroseconds.count {
            pfcPausedMicroseconds[i] = Swift.max(pfcPausedMicroseconds[i], o.pfcPausedMicroseconds[i])
        }
        sum(&pfcTx, o.pfcTx)
        pfcTxFailures &+= o.pfcTxFailures
        sum(&pgBytes, o.pgBytes)
        most(&pgWatermark, o.pgWatermark)
        sum(&pgShared, o.pgShared)
        sum(&pgHeadroom, o.pgHeadroom)
        most(&pgHeadroomWatermark, o.pgHeadroomWatermark)
        let n = pfcReaction.count &+ o.pfcReaction.count
        if n > 0 {
            pfcReaction.meanMicroseconds = (pfcReaction.meanMicroseconds * Double(pfcReaction.count)
                + o.pfcReaction.meanMicroseconds * Double(o.pfcReaction.count)) / Double(n)
        }
        pfcReaction.count = n
        pfcReaction.maxMicroseconds = Swift.max(pfcReaction.maxMicroseconds, o.pfcReaction.maxMicroseconds)
        utilisation += o.utilisation
        loadBand = Swift.max(loadBand, o.loadBand)
        pauseRx &+= o.pauseRx
        pfcIgnoredDestination &+= o.pfcIgnoredDestination
        sum(&pfcIgnoredPriority, o.pfcIgnoredPriority)
        for q in queues.indices where q < o.queues.count { queues[q].add(o.queues[q]) }
        xdpRedirected &+= o.xdpRedirected
        xdpPassed &+= o.xdpPassed
        socket.add(o.socket)
        if let w = o.ringWait {
            if ringWait == nil { ringWait = w } else { ringWait!.add(w) }
        }
        // The fast path's counters are worker 0's (the maps are the switch's, not a worker's).
        if fastpathFrames == nil {
            fastpathFrames = o.fastpathFrames
            fastpathBytes = o.fastpathBytes
            fastpathTxFrames = o.fastpathTxFrames
            fastpathTxBytes = o.fastpathTxBytes
            fastpathPunts = o.fastpathPunts
        }
    }
}

extension QueueReport {
    mutating func add(_ o: QueueReport) {
        depthFrames += o.depthFrames
        depthBytes += o.depthBytes
        watermarkFrames = max(watermarkFrames, o.watermarkFrames)
        enqueued &+= o.enqueued
        dequeued &+= o.dequeued
        dropped &+= o.dropped
        ecnMarked &+= o.ecnMarked
        stormed = stormed || o.stormed
        pfcwdStorms &+= o.pfcwdStorms
        pfcwdRestored &+= o.pfcwdRestored
        pfcwdDropped &+= o.pfcwdDropped
        pfcwdDetectedAfterMilliseconds = max(pfcwdDetectedAfterMilliseconds, o.pfcwdDetectedAfterMilliseconds)
        residence.add(o.residence)
        enqueuedBytes = Self.sum(enqueuedBytes, o.enqueuedBytes)
        dequeuedBytes = Self.sum(dequeuedBytes, o.dequeuedBytes)
        droppedBytes = Self.sum(droppedBytes, o.droppedBytes)
        pfcwdDroppedBytes = Self.sum(pfcwdDroppedBytes, o.pfcwdDroppedBytes)
        if let l = o.lossless { lossless = (lossless ?? false) || l }
    }

    /// A byte counter of two reports: absent only when both lack it.
    static func sum(_ a: UInt64?, _ b: UInt64?) -> UInt64? {
        a == nil && b == nil ? nil : (a ?? 0) &+ (b ?? 0)
    }
}

extension ResidenceReport {
    /// Counts, sums and histogram buckets add up; percentiles are the larger of the two (an
    /// upper bound: the merged histogram's own percentiles are not kept).
    mutating func add(_ o: ResidenceReport) {
        count &+= o.count
        p50 = Swift.max(p50, o.p50)
        p99 = Swift.max(p99, o.p99)
        p999 = Swift.max(p999, o.p999)
        max = Swift.max(max, o.max)
        if let s = o.sumMicroseconds { sumMicroseconds = (sumMicroseconds ?? 0) + s }
        if let s = o.ringMicroseconds { ringMicroseconds = (ringMicroseconds ?? 0) + s }
        if let b = o.below {
            if let mine = below, mine.count == b.count { below = zip(mine, b).map { $0 &+ $1 } } else if below == nil { below = b }
        }
    }
}

extension SocketDrops {
    mutating func add(_ o: SocketDrops) {
        rxRingFull &+= o.rxRingFull
        rxDropped &+= o.rxDropped
        fillRingEmpty &+= o.fillRingEmpty
        rxInvalid &+= o.rxInvalid
        txInvalid &+= o.txInvalid
        unservedQueue &+= o.unservedQueue
        rxRingPeak = max(rxRingPeak, o.rxRingPeak)
        rxRingSize = max(rxRingSize, o.rxRingSize)
    }
}

extension FrameLedger {
    mutating func add(_ o: FrameLedger) {
        total += o.total
        free += o.free
        queued += o.queued
        pending += o.pending
        chained += o.chained
        fillOutstanding += o.fillOutstanding
        txOutstanding += o.txOutstanding
        inFillAndRxRings += o.inFillAndRxRings
        inTxAndCompletionRings += o.inTxAndCompletionRings
        reserve += o.reserve
        refusals &+= o.refusals
    }
}

extension LoopCounters {
    mutating func add(_ o: LoopCounters) {
        iterations &+= o.iterations
        polls &+= o.polls
        kicks &+= o.kicks
        kickErrors &+= o.kickErrors
        longestStallMicroseconds = max(longestStallMicroseconds, o.longestStallMicroseconds)
    }
}

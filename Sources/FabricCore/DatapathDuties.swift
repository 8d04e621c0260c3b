/// The data path's duties on a clock and on port events: one `tick(now:)` for everything
/// periodic, and taking a port out of service.
extension Datapath {
    /// Everything the data path does on a clock rather than per frame; the run loop calls it
    /// once per pass. Cheap unless something is due: XOFF refresh (while a PG is in XOFF),
    /// port load samples and flowlet expiry (every `PortLoad.interval`), and, unless `draining` (a switch that is
    /// stopping asks nobody anything new), `housekeeping` every 100 ms.
    public mutating func tick(now: UInt64, draining: Bool = false) {
        if links != nil { exchangeWithWorkers(now: now) }
        if admission.anyInXoff {
            for port in 0..<portCount {
                for pg in 0..<8 {
                    let xoff = admission.refreshDue(port: port, pg: pg, now: now)
                    if xoff != 0 { sendPFC(port: port, priorities: xoff, quanta: 0xFFFF, now: now) }
                }
            }
        }
        if now &- load.lastSample >= PortLoad.interval {
            let c = counters, e = egress
            load.sample(now: now, txBytes: { c[$0].txBytes }, queuedBytes: { e[$0].queuedBytes })
            router.selector.expire(now: now)
        }
        if !draining && now >= nextHousekeeping {
            nextHousekeeping = now &+ Self.housekeepingInterval
            housekeeping(now: now)
        }
    }

    /// The 100 ms duties: the PFC watchdog, asking for unresolved next hops, dropping frames
    /// that waited too long for one, aging the neighbour tables, and (every second) aging the
    /// MAC table.
    public mutating func housekeeping(now: UInt64) {
        for p in 0..<portCount where service[p] {
            let drain = watchdog.check(port: p, egress: &egress[p], counters: &counters[p], now: now)
            refreshAcceptBound(port: p)
            for q in 0..<EgressPort.queueCount where drain & (1 << UInt8(q)) != 0 {
                var bytes: UInt64 = 0
                counters[p].pfcwdDropped[q] &+= discardQueue(port: p, queue: q, bytes: &bytes)
                counters[p].pfcwdDroppedBytes[q] &+= bytes
            }
        }
        resolveNextHops(now: now)
        expirePending(now: now)
        refreshNeighbours(now: now)
        if now &- lastAging >= 1_000_000_000 {
            lastAging = now
            bridge.table.age(now: now)
        }
    }

    /// Empties queue `queue` of `port` (credits and frames back); returns how many it held.
    mutating func discardQueue(port: Int, queue: Int) -> UInt64 {
        var bytes: UInt64 = 0
        return discardQueue(port: port, queue: queue, bytes: &bytes)
    }

    /// Empties queue `queue` of `port` (credits and frames back); returns how many it held and
    /// adds their bytes to `bytes`.
    mutating func discardQueue(port: Int, queue: Int, bytes: inout UInt64) -> UInt64 {
        var n: UInt64 = 0
        while let f = egress[port].removeOldest(queue: queue) {
            credit(f.tag, bytes: f.len, now: 0)
            pool.release(f.addr)
            n &+= 1
            bytes &+= UInt64(f.len)
        }
        return n
    }

    /// Empties `port`'s emulated wire (its frames were credited when they left the shaper);
    /// returns how many it held.
    mutating func discardLine(port: Int) -> UInt64 {
        var n: UInt64 = 0
        while let f = egress[port].line.removeOldest() {
            pool.release(f.addr)
            n &+= 1
        }
        return n
    }

    /// Port `port`'s link went down or came back (the I/O layer follows carrier and admin
    /// state). Down: the port leaves every ECMP group at once (the selectors skip it; ECMP
    /// rehashes only the flows that were on it), its queued frames, those on its emulated wire and those parked for its
    /// next hops are dropped (`link_down`: they would have gone nowhere), and the addresses the
    /// bridge learned on it are forgotten. Up: it is a member again. True if the state changed.
    @discardableResult
    public mutating func setLink(port: Int, up: Bool) -> Bool {
        guard load.up[port] != up else { return false }
        load.up[port] = up
        refreshAcceptBound(port: port)
        if up {
            counters[port].linkUps &+= 1
            return true
        }
        counters[port].linkDowns &+= 1
        router.selector.linkWentDown(port: port)
        while let frame = egress[port].control.dequeue() { pool.release(frame.addr) }
        for q in 0..<EgressPort.queueCount {
            counters[port].drops[.linkDown] &+= discardQueue(port: port, queue: q)
        }
        counters[port].drops[.linkDown] &+= discardLine(port: port)
        bridge.table.flush(port: port)
        let n = pending.takePort(port)
        for i in 0..<n { _ = drop(pending.taken[i].addr, .linkDown, countedOn: port) }
        return true
    }

    /// Takes a port out of service: its queued and pending frames go back to the pool (counted
    /// as `portDown` drops) and the addresses learned on it (MACs, neighbours) are forgotten.
    public mutating func takeOutOfService(port: Int) {
        guard service[port] else { return }
        service[port] = false
        refreshAcceptBound(port: port)
        while let frame = egress[port].control.dequeue() { pool.release(frame.addr) }
        for q in 0..<EgressPort.queueCount {
            counters[port].drops[.portDown] &+= discardQueue(port: port, queue: q)
        }
        counters[port].drops[.portDown] &+= discardLine(port: port)
        bridge.table.flush(port: port)
        router.neighbours.flush(port: port)
        let n = pending.takePort(port)
        for i in 0..<n { _ = drop(pending.taken[i].addr, .portDown, countedOn: port) }
    }
}

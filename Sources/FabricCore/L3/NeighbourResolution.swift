import FabricPacket

/// Next-hop resolution (router mode): frames whose next hop has no MAC yet wait in `pending`
/// while a request for it is out (ARP or neighbour solicitation, when the neighbour table says
/// so: at most once per retry interval per address, within the request budget); they leave
/// when the answer is learned, or are dropped after the pending timeout (`neighbour_unresolved`).
/// Route gateways are asked for ahead of traffic; resolved neighbours in use are asked again
/// before they lapse.
extension Datapath {
    /// Parks a routed frame until its next hop resolves, asking if nobody asked lately.
    /// Only frames whose address is being asked for wait: one the request budget refused is
    /// dropped at once (`neighbour_unresolved`), so a scan's frames take no room from frames
    /// for hosts that answer. A frame that finds no room is dropped, but its address is still
    /// asked for: the next frame may find it resolved.
    @usableFromInline mutating func hold(addr: UInt64, len: UInt32, port: Int, nextHop: IPAddress, queue: Int, tag: ChargeTag, now: UInt64) {
        guard service[port] else { _ = drop(addr, .portDown, countedOn: port); return }
        let request = router.neighbours.request(nextHop, port: port, now: now)
        if request == .refused {
            _ = drop(addr, .neighbourUnresolved, countedOn: port)
            return
        }
        if !pending.add(addr: addr, len: len, port: port, queue: queue, tag: tag, nextHop: nextHop, now: now) {
            _ = drop(addr, .pendingFull, countedOn: port)
        }
        if request == .send { sendRequest(port: port, target: nextHop) }
    }

    /// Asks for every route gateway the switch has not resolved (each housekeeping tick), as
    /// routers resolve the gateways of their routes before traffic needs them: a burst to an
    /// unresolved gateway would otherwise wait in, and overflow, the pending queue.
    mutating func resolveNextHops(now: UInt64) {
        guard mode == .router else { return }
        for hop in router.fib.nextHops where service[hop.port] {
            guard let gateway = hop.gateway, !isResolved(gateway, now: now),
                  router.neighbours.request(gateway, port: hop.port, priority: true, now: now) == .send else { continue }
            sendRequest(port: hop.port, target: gateway)
        }
    }

    /// Ages the neighbour tables (each housekeeping tick) and asks the resolved neighbours in
    /// use whose reachable time is running out.
    mutating func refreshNeighbours(now: UInt64) {
        guard mode == .router else { return }
        let n = router.neighbours.sweep(now: now)
        for k in 0..<n {
            let port = Int(router.neighbours.duePorts[k])
            if service[port] { sendRequest(port: port, target: router.neighbours.due[k]) }
        }
    }

    /// Sends every held frame whose next hop is now known, in the class it arrived in, charged
    /// to its ingress PG and stamped with its arrival (as if it had not waited).
    mutating func releaseResolved(now: UInt64) {
        let n = pending.takeResolved(neighbours: router.neighbours, now: now)
        for i in 0..<n {
            let e = pending.taken[i]
            storeMAC(e.mac, at: frames + Int(e.addr))
            enqueue(addr: e.addr, len: e.len, port: Int(e.port), queue: Int(e.queue), tag: e.tag, stamp: e.since)
        }
    }

    /// Drops held frames older than the pending timeout.
    mutating func expirePending(now: UInt64) {
        let n = pending.takeExpired(now: now)
        for i in 0..<n { _ = drop(pending.taken[i].addr, .neighbourUnresolved, countedOn: Int(pending.taken[i].port)) }
    }

    func isResolved(_ a: IPAddress, now: UInt64) -> Bool {
        switch a {
        case .v4(let x): router.neighbours.lookup(x, now: now) != nil
        case .v6(let x): router.neighbours.lookup(x, now: now) != nil
        }
    }

    /// The host stack's request for `target` in a fresh frame, queued on `port` (uncharged);
    /// counted as `noBuffer` on the port when no frame is free.
    mutating func sendRequest(port: Int, target: IPAddress) {
        guard let fresh = pool.allocate() else {
            counters[port].drops[.noBuffer] &+= 1
            return
        }
        let addr = fresh + 256
        guard let length = router.host.writeRequest(into: frames + Int(addr), port: port, target: target) else {
            pool.release(fresh)
            return
        }
        if enqueue(addr: addr, len: UInt32(length), port: port) { counters[port].arpRequestsSent &+= 1 }
    }
}

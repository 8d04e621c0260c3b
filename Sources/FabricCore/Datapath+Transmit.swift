import FabricPacket

// The data path's transmit side: what each port hands to the kernel, in what order, with the
// buffer credit (PFC XON) and the residence times of the frames that leave.

extension Datapath {
    /// The next frame `port` hands to the kernel at `now`: control frames first, then the
    /// scheduler within pauses and the line rate, then the emulated wire (loss, delay).
    @inlinable @inline(__always)
    public mutating func dequeueForTransmit(port: Int, now: UInt64) -> (addr: UInt64, len: UInt32)? {
        guard egress[port].line.isEnabled else { return depart(port: port, now: now) }
        // What the shaper releases now goes onto the wire, as far as the wire holds frames
        // (a full line leaves the rest in their queues); what has crossed it leaves.
        while !egress[port].line.isFull, let f = depart(port: port, now: now) {
            egress[port].line.push(addr: f.addr, len: f.len, departure: now)
        }
        return egress[port].line.popDue(now: now)
    }

    /// Up to `most` frames `port` hands to the kernel at `now`, into `addr` and `len`: the frames,
    /// order and accounting of `most` calls of `dequeueForTransmit(port:now:)`, stopping at the
    /// first nil (fewer than `most` returned: that call was made, and found nothing more).
    /// A run of frames of one queue, where the scheduler would pick that queue for each of
    /// them (`EgressPort.soleRunQueue`) and the wire neither delays nor loses frames, is taken
    /// in one loop: the scheduler's decisions and the queue's counters once per run, not per frame.
    @inlinable
    public mutating func dequeueForTransmit(port: Int, now: UInt64, into addr: UnsafeMutablePointer<UInt64>,
                                            len: UnsafeMutablePointer<UInt32>, most: Int) -> Int {
        var n = 0
        while n < most {
            if !egress[port].line.isEnabled && !egress[port].loss.isEnabled {
                let q = egress[port].soleRunQueue(now: now)
                if q >= 0 {
                    n = departRun(port: port, queue: q, now: now, addr: addr, len: len, from: n, most: most)
                    continue
                }
            }
            guard let f = dequeueForTransmit(port: port, now: now) else { break }
            addr[n] = f.addr
            len[n] = f.len
            n &+= 1
        }
        return n
    }

    /// `depart` for frames of queue `q` (non-empty, the one `soleRunQueue` chose) into
    /// `addr`/`len` from index `from` while fewer than `most`: per frame its residence bucket,
    /// credit and PFC reaction as `take` and `depart` make them; the queue's counters, its
    /// non-empty bit and the histogram's sums once. While no PG is in XOFF no credit can send
    /// an XON, and a run of frames of one tag is credited at once (`creditRun`); otherwise each
    /// frame is, and the run stops after a frame whose credit sends an XON (the control queue
    /// it fills goes first). Returns the index after the last frame taken (at least one).
    @inlinable @inline(__always)
    mutating func departRun(port: Int, queue q: Int, now: UInt64, addr: UnsafeMutablePointer<UInt64>, len: UnsafeMutablePointer<UInt32>,
                            from start: Int, most: Int) -> Int {
        let e = egress + port
        let fq = e.pointee.queues + q
        let entries = fq.pointee.entries, mask = fq.pointee.mask
        var head = fq.pointee.head
        let end = min(most, start &+ (fq.pointee.tail &- head))
        let record = e.pointee.recordResidence
        let perFrameCredit = admission.anyInXoff
        var n = start
        var bytes = 0
        var xon: UInt8 = 0, xonPort = 0
        var runTag = ChargeTag.uncharged, runCost = 0
        var recorded: UInt64 = 0, recordedSum: UInt64 = 0, ringSum: UInt64 = 0, largest: UInt64 = 0
        while n < end {
            let f = entries[head & mask]
            head &+= 1
            bytes &+= Int(f.len)
            if record && f.stamp != 0 && now > f.stamp {
                let ns = now &- f.stamp &+ UInt64(f.wait)
                let us = ns / 1000
                e.pointee.residence.countBucket(q, us: us)
                recorded &+= 1
                recordedSum &+= ns
                ringSum &+= UInt64(f.wait)
                if us > largest { largest = us }
            }
            addr[n] = f.addr
            len[n] = f.len
            n &+= 1
            if f.tag == .pfc {
                pfcSent(port: port, addr: f.addr)
            } else if !perFrameCredit {
                if f.tag != runTag {
                    admission.creditRun(runTag, bytes: runCost)
                    runTag = f.tag
                    runCost = 0
                }
                runCost &+= admission.cost(f.len)
            } else {
                xon = admission.credit(f.tag, bytes: admission.cost(f.len))
                if xon != 0 {
                    xonPort = f.tag.ingress
                    break
                }
            }
        }
        admission.creditRun(runTag, bytes: runCost)
        if recorded != 0 {
            e.pointee.residence.addRun(q, values: recorded, nanoseconds: recordedSum, ring: ringSum, largestMicroseconds: largest)
        }
        fq.pointee.head = head
        fq.pointee.byteDepth &-= bytes
        e.pointee.dequeued[q] &+= UInt64(n &- start)
        e.pointee.dequeuedBytes[q] &+= UInt64(bytes)
        if fq.pointee.isEmpty { e.pointee.nonEmpty &= ~(1 &<< UInt8(truncatingIfNeeded: q & 7)) }
        if xon != 0 { sendPFC(port: xonPort, priorities: xon, quanta: 0, now: now) }
        return n
    }

    /// The next frame onto `port`'s emulated wire at `now`, its buffer charge released (it has
    /// left the switch). A frame the wire's random loss takes is dropped here, after it used
    /// its wire time, and counted (`emulated_loss`); the switch's PFC frames are never lost
    /// (as with netem on a host, where the NIC's pause frames bypass the qdisc), so a lossy
    /// link still pauses and resumes its sender.
    @inlinable @inline(__always)
    mutating func depart(port: Int, now: UInt64) -> (addr: UInt64, len: UInt32)? {
        while let f = egress[port].dequeueTagged(now: now) {
            if f.tag == .pfc {
                pfcSent(port: port, addr: f.addr)
                return (f.addr, f.len)
            }
            credit(f.tag, bytes: f.len, now: now)
            guard egress[port].loss.drops() else { return (f.addr, f.len) }
            _ = drop(f.addr, .emulatedLoss, countedOn: port)
        }
        return nil
    }

    /// A frame charged to `tag` left the switch (or was discarded): credit its PG, and let the
    /// sender go (XON) when the PG may resume.
    @inlinable @inline(__always) mutating func credit(_ tag: ChargeTag, bytes: UInt32, now: UInt64) {
        let xon = admission.credit(tag, bytes: admission.cost(bytes))
        if xon != 0 { sendPFC(port: tag.ingress, priorities: xon, quanta: 0, now: now) }
    }

    /// Counts frames as sent on `port` (the I/O layer calls this when it submits to TX).
    @inline(__always) public mutating func countTransmit(port: Int, frames n: Int, bytes: UInt64) {
        counters[port].txFrames &+= UInt64(n)
        counters[port].txBytes &+= bytes
    }
}

// The AF_PACKET backend: for kernels or containers without AF_XDP (or where no XDP program may
// be attached). One AF_PACKET socket per port with TPACKET_V3 RX and TX rings mapped into our
// memory, PACKET_QDISC_BYPASS (transmit straight to the driver), PACKET_IGNORE_OUTGOING (our
// own transmissions do not come back) and promiscuous mode. Same pipeline as AF_XDP; frames
// are copied out of the RX ring into the switch's own frame area (egress queues hold them for
// arbitrary times, and V3 blocks go back to the kernel whole) and copied into TX slots.
//
// What differs from AF_XDP, and a user should know:
// - A packet socket taps the frame; the switch namespace's kernel still receives it too (and,
//   with no addresses there, drops it). That costs CPU AF_XDP does not spend.
// - TPACKET_V3 hands a block to user space when it is full or when its retire timer expires;
//   the timer has jiffy resolution (4 ms at HZ=250), so a lone frame can wait that long. At
//   high rates blocks fill first: the 16 KB blocks here hold ~100 small frames.
// - VLAN tags the kernel moved into the header are put back in the frame.
// - Jumbo frames (longer than one frame of the switch) are copied into a chain of frames
//   (`FramePool.link`) through a scratch buffer, and gathered back into one TX slot; TX slots
//   are 16 KB so that any frame the switch carries fits one.
import CFabricShims
import FabricCore
import FabricSystem
import FabricTelemetry
import FabricXDP
import Glibc

/// Sockets, rings and frame memory of the backend; released by deinit (also after a failed
/// setup).
final class PacketResources {
    var fds: [Int32] = []
    var maps: [(UnsafeMutableRawPointer, Int)] = []
    var locks: [PortLock] = []
    /// Declared last: released after the sockets.
    var area: FrameArea?

    func closeSockets() {
        for (m, len) in maps { munmap(m, len) }
        maps = []
        for fd in fds where fd >= 0 { Glibc.close(fd) }
        fds = []
    }

    deinit {
        closeSockets()
        locks.removeAll()
    }
}

/// Per-port ring positions, in memory we allocate (no exclusivity checks on the data path).
struct PacketPort {
    var fd: Int32 = -1
    var rx: UnsafeMutableRawPointer? = nil
    var tx: UnsafeMutableRawPointer? = nil
    /// RX: the block we are reading, the packet in it we read next and how many remain.
    var block = 0
    var next: UnsafeMutableRawPointer? = nil
    var remaining = 0
    /// TX: the next slot to fill.
    var txHead = 0
    /// Slots handed to the kernel by the last flush that may not have been sent yet.
    var txInFlight = false
    var rxDrops: UInt64 = 0
    var txRefused: UInt64 = 0
    var oversize: UInt64 = 0
}

public struct PacketBackend: PortBackend, ~Copyable {
    /// 16 KB blocks: at high rates a block fills (and is handed over) long before the retire
    /// timer; 256 of them (4 MB) per direction per port.
    static let blockSize: UInt32 = 16384
    static let blockCount: UInt32 = 256
    static let slotSize: UInt32 = 16384
    static let retireMilliseconds: UInt32 = 1

    let resources: PacketResources
    let ports: UnsafeMutablePointer<PacketPort>
    let portCount: Int
    let frameSize: Int
    let txSlots: Int
    let slotCapacity: UInt32
    let pollFDs: UnsafeMutablePointer<pollfd>
    /// A jumbo frame lands here before it is split into a chain of frames.
    let scratch: UnsafeMutablePointer<UInt8>
    static let scratchSize = 16384
    var receiving = true
    public let frames: UnsafeMutableRawPointer
    public let frameCount: Int

    public init(options: SwitchOptions, ifindexes: [Int32]) throws {
        let res = PacketResources()
        let portCount = options.ports.count
        // Frames are copied out of the kernel's blocks: only the queues and the switch's own
        // frames need them (the stall budget does not size these rings: 4 MB of blocks a port).
        let frameCount = options.frameBudget.outsideRings
        let frameArea = try FrameArea(frameCount: frameCount, frameSize: options.frameSize, what: "frame memory")
        res.area = frameArea
        let area = frameArea.base
        let ports = UnsafeMutablePointer<PacketPort>.allocate(capacity: portCount)
        ports.initialize(repeating: PacketPort(), count: portCount)
        var ok = false
        defer { if !ok { ports.deallocate() } }
        let ringBytes = Int(Self.blockSize * Self.blockCount)
        for (p, name) in options.ports.enumerated() {
            res.locks.append(try PortLock(interface: name, ifindex: ifindexes[p]))
            var map: UnsafeMutableRawPointer?
            var len = 0
            let fd = sf_afpacket_open(ifindexes[p], Self.blockSize, Self.blockCount, Self.slotSize, Self.retireMilliseconds, &map, &len)
            guard fd >= 0, let map else {
                throw SystemError.negative(fd, "port \(name): cannot set up an AF_PACKET socket with TPACKET_V3 rings")
            }
            res.fds.append(fd)
            res.maps.append((map, len))
            ports[p].fd = fd
            ports[p].rx = map
            ports[p].tx = map + ringBytes
        }
        ok = true
        resources = res
        self.ports = ports
        self.portCount = portCount
        frameSize = options.frameSize
        txSlots = Int(Self.blockSize / Self.slotSize * Self.blockCount)
        slotCapacity = sf_tp3_tx_capacity(Self.slotSize)
        pollFDs = .allocate(capacity: portCount)
        scratch = .allocate(capacity: Self.scratchSize)
        frames = area
        self.frameCount = frameCount
    }

    deinit {
        ports.deallocate()
        pollFDs.deallocate()
        scratch.deallocate()
    }

    public var attachModes: [String] { Array(repeating: "af_packet", count: portCount) }

    public mutating func start(pool: inout FramePool) throws {}

    /// Frames waiting in the kernel's blocks are not counted.
    public mutating func rxWaiting(_ p: Int) -> Int { 0 }

    // MARK: - The per-batch path (no allocation, no ARC, no locks)

    /// Frames are copied into TX slots and go back to the pool at once: nothing to reclaim.
    @inline(__always) public mutating func reclaim(_ p: Int, pool: inout FramePool, loop: inout LoopCounters) -> Int { 0 }

    @inline(__always) public mutating func receive(_ p: Int, into batch: inout Batch, pool: inout FramePool) -> Int {
        guard receiving, let rx = ports[p].rx else { return 0 }
        var n = 0
        while n < batch.capacity {
            if ports[p].remaining == 0 {
                let blk = rx + ports[p].block * Int(Self.blockSize)
                guard sf_tp3_block_ready(blk) != 0 else { break }
                let count = Int(sf_tp3_block_packets(blk))
                if count == 0 {
                    sf_tp3_block_release(blk)
                    ports[p].block = (ports[p].block + 1) % Int(Self.blockCount)
                    continue
                }
                ports[p].remaining = count
                ports[p].next = sf_tp3_block_first(blk)
            }
            // No free frame: leave the rest in the ring (the kernel drops, and counts, once
            // every block is full).
            guard let addr = pool.allocate() else { break }
            let pkt = ports[p].next!
            var len = Int(sf_tp3_copy(pkt, (frames + Int(addr)).assumingMemoryBound(to: UInt8.self), UInt32(frameSize)))
            if len < 0 {
                // Longer than one frame (or truncated by the ring): a jumbo frame becomes a chain.
                len = Int(sf_tp3_copy(pkt, scratch, UInt32(Self.scratchSize)))
                if len > FramePool.largestPacket || len < 0 || !split(len, into: addr, pool: &pool) {
                    pool.release(addr)
                    ports[p].oversize &+= 1
                    len = -1
                }
            }
            if len >= 0 {
                batch.addr[n] = addr
                batch.len[n] = UInt32(len)
                n += 1
            }
            ports[p].remaining -= 1
            if ports[p].remaining == 0 {
                sf_tp3_block_release(rx + ports[p].block * Int(Self.blockSize))
                ports[p].block = (ports[p].block + 1) % Int(Self.blockCount)
                ports[p].next = nil
            } else {
                ports[p].next = sf_tp3_next(pkt)
            }
        }
        batch.count = n
        return n
    }

    /// Copies the `len` bytes in `scratch` into frame `head` and as many more as they need,
    /// linked into a chain; false (the frames after `head` released) when the pool runs out.
    mutating func split(_ len: Int, into head: UInt64, pool: inout FramePool) -> Bool {
        var addr = head, from = 0
        while true {
            let n = min(frameSize, len - from)
            (frames + Int(addr)).copyMemory(from: scratch + from, byteCount: n)
            from += n
            guard from < len else {
                pool.link(addr, length: UInt32(n), to: nil)
                return true
            }
            guard let next = pool.allocate() else {
                pool.link(addr, length: UInt32(n), to: nil)
                if let rest = pool.unlink(head) { pool.release(rest) }
                return false
            }
            pool.link(addr, length: UInt32(n), to: next)
            addr = next
        }
    }

    /// The kernel fills RX blocks itself.
    @inline(__always) public mutating func refill(_ p: Int, pool: inout FramePool) {}

    @inline(__always) public mutating func transmitRoom(_ p: Int, limit: Int, loop: inout LoopCounters) -> Int {
        guard let tx = ports[p].tx else { return 0 }
        var room = 0
        var slot = ports[p].txHead
        while room < limit {
            let state = sf_tp3_tx_state(tx + slot * Int(Self.slotSize))
            if state == 1 { break }
            room += 1
            slot = slot + 1 == txSlots ? 0 : slot + 1
        }
        if room == 0 { flush(p, loop: &loop) }  // all slots with the kernel: push them out
        return room
    }

    @inline(__always) public mutating func transmit(_ p: Int, addr: UnsafeMutablePointer<UInt64>, len: UnsafeMutablePointer<UInt32>, count n: Int,
                                                    pool: inout FramePool, loop: inout LoopCounters) {
        let tx = ports[p].tx!
        var slot = ports[p].txHead
        for i in 0..<n {
            let length = min(len[i], slotCapacity)  // frames never exceed FramePool.largestPacket (< slot)
            let s = tx + slot * Int(Self.slotSize)
            if sf_tp3_tx_state(s) == 2 { ports[p].txRefused &+= 1 }  // its last frame was malformed
            if pool.isChained(addr[i]) {
                pool.gather(addr[i], length: Int(length), from: frames, into: sf_tp3_tx_data(s))
                sf_tp3_tx_commit(s, length)
            } else {
                sf_tp3_tx_put(s, frames + Int(addr[i]), length)
            }
            pool.release(addr[i])
            slot = slot + 1 == txSlots ? 0 : slot + 1
        }
        ports[p].txHead = slot
        flush(p, loop: &loop)
    }

    public func transmitCost(_ addr: UInt64, pool: borrowing FramePool) -> Int { 1 }
    public var largestTransmitCost: Int { 1 }
    public func largestPacket(_ p: Int) -> Int { FramePool.largestPacket }

    /// One send() hands every filled slot to the driver (qdisc bypassed).
    @inline(__always) mutating func flush(_ p: Int, loop: inout LoopCounters) {
        loop.kicks &+= 1
        if send(ports[p].fd, nil, 0, Int32(MSG_DONTWAIT)) < 0 {
            switch errno {
            case EAGAIN, ENOBUFS, EINTR, ENETDOWN, ENXIO: ports[p].txInFlight = true
            default: loop.kickErrors &+= 1
            }
        } else {
            ports[p].txInFlight = false
        }
    }

    // MARK: - Idle, vanish, teardown

    public mutating func sleepUntilWork(inService: UnsafePointer<Bool>, wakeAfter: UInt64?, loop: inout LoopCounters) {
        let ps = ports
        pollPorts(pollFDs, count: portCount, inService: inService, fd: { ps[$0].fd }, short: { ps[$0].txInFlight }, wakeAfter: wakeAfter, loop: &loop)
    }

    public func transmitPending(_ p: Int) -> Bool {
        guard let tx = ports[p].tx else { return false }
        // Any slot the kernel still has: look at the one before the head (the last filled).
        let last = ports[p].txHead == 0 ? txSlots - 1 : ports[p].txHead - 1
        return sf_tp3_tx_state(tx + last * Int(Self.slotSize)) == 1
    }

    /// Frames were copied in and out: the kernel holds none of ours.
    public mutating func vanish(_ p: Int, pool: inout FramePool) -> Int {
        ports[p].remaining = 0
        ports[p].next = nil
        return 0
    }

    public func ledger(_ l: inout FrameLedger, inService: UnsafePointer<Bool>) {}

    public func steeringCounters(_ p: Int) -> (redirected: UInt64, passed: UInt64) { (0, 0) }

    /// PACKET_STATISTICS resets on every read: the totals are kept here.
    public mutating func socketDrops(_ p: Int) -> SocketDrops {
        let d = ports[p].fd >= 0 ? sf_afpacket_drops(ports[p].fd) : 0
        if d > 0 { ports[p].rxDrops &+= UInt64(d) }
        var s = SocketDrops()
        s.rxRingFull = ports[p].rxDrops
        s.rxInvalid = ports[p].oversize
        s.txInvalid = ports[p].txRefused
        return s
    }

    /// No program steers frames here; stop taking new ones so the drain at shutdown ends.
    public mutating func detach() { receiving = false }

    public mutating func close() {
        for p in 0..<portCount {
            ports[p].fd = -1
            ports[p].rx = nil
            ports[p].tx = nil
        }
        resources.closeSockets()
    }
}

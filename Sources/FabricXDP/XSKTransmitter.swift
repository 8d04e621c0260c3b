// A transmit-only AF_XDP socket: the traffic generator's fast path out of a host.
//
// No XDP program is attached (sending needs none), so the host's kernel keeps receiving
// everything on the interface as usual (ARP keeps working). Frames are written straight into
// UMEM frames by the caller, queued on the TX ring in batches, and the kernel is kicked with one
// sendto() per batch when it asks (need_wakeup). In copy mode (veth) the kernel still builds an
// skb per frame, but the syscall per frame of AF_PACKET is gone.
//
// Frame ownership: a frame is free (in `free`), or on the TX ring / awaiting completion
// (`outstanding`); completions return frames to `free`.
import CXDP
import FabricSystem
import Glibc

public final class XSKTransmitter {
    public let interface: String
    /// Bytes per UMEM frame: the largest frame this socket can send.
    public let frameSize: Int
    public let frameCount: Int
    let ringSize: UInt32
    var rings: XSKRings
    let free: UnsafeMutablePointer<UInt64>
    var freeCount: Int
    public private(set) var outstanding = 0
    public private(set) var kicks: UInt64 = 0
    /// Where frame 0 is (the UMEM's memory).
    @usableFromInline let base: UnsafeMutableRawPointer
    /// Declared last: its memory outlives the socket.
    let umem: UMEM

    /// Opens the socket on queue 0 of `interface` in the calling thread's namespace.
    public init(interface: String, frames: Int = 4096, ringSize: Int = 2048) throws {
        XDPProgram.configureLogging(verbose: false)
        self.interface = interface
        let frameSize = 4096
        self.frameSize = frameSize
        frameCount = frames
        self.ringSize = UInt32(ringSize)
        var rings = XSKRings()
        let umem: UMEM
        do {
            umem = try UMEM(frameCount: frames, frameSize: frameSize, ringSize: ringSize, rings: rings, what: "UMEM for \(interface)")
        } catch {
            rings.deallocate()
            throw error
        }
        do {
            try umem.openSocket(interface: interface, rings: &rings, receive: false, transmit: true)
        } catch {
            umem.close()   // it reads the fill/completion ring structs it was made over: free them after
            rings.deallocate()
            throw error
        }
        self.umem = umem
        base = umem.base
        self.rings = rings
        free = .allocate(capacity: frames)
        for i in 0..<frames { free[i] = UInt64(i * frameSize) }
        freeCount = frames
    }

    deinit {
        flush(timeout: 100_000_000)
        rings.closeSocket()
        umem.close()
        rings.deallocate()
        free.deallocate()
    }

    /// Memory of the frame at `addr` (from `reserve`).
    @inlinable public func frame(_ addr: UInt64) -> UnsafeMutableRawPointer { base + Int(addr) }

    /// Takes up to `n` free frames into `addrs`; returns how many (reclaiming completions first).
    @inline(__always)
    public func reserve(_ n: Int, into addrs: UnsafeMutablePointer<UInt64>) -> Int {
        if freeCount < n { reclaim() }
        let k = min(n, freeCount)
        for i in 0..<k {
            freeCount -= 1
            addrs[i] = free[freeCount]
        }
        lastReserved = k
        return k
    }

    /// How many frames the last `reserve` took.
    public private(set) var lastReserved = 0

    /// Gives back frames taken by `reserve` and not sent.
    public func unreserve(_ addrs: UnsafePointer<UInt64>, count: Int) {
        for i in 0..<count {
            free[freeCount] = addrs[i]
            freeCount += 1
        }
    }

    /// Queues frames (address, length) on the TX ring, waiting for room if the ring is full
    /// (nothing is dropped: a NIC's send queue back-pressures, it does not lose), and kicks the
    /// kernel if it asks. Returns how many times it had to wait for room.
    @inline(__always) @discardableResult
    public func submit(_ addrs: UnsafePointer<UInt64>, _ lens: UnsafePointer<UInt32>, count n: Int) -> Int {
        let tx = rings.tx
        var done = 0
        var waits = 0
        while done < n {
            let want = n - done
            let room = Int(xsk_prod_nb_free(tx, UInt32(want)))
            var idx: UInt32 = 0
            let got = room > 0 ? Int(xsk_ring_prod__reserve(tx, UInt32(min(room, want)), &idx)) : 0
            if got == 0 {
                waits += 1
                kick()
                reclaim()
                continue
            }
            for i in 0..<got {
                let d = xsk_ring_prod__tx_desc(tx, idx &+ UInt32(i))!
                d.pointee.addr = addrs[done + i]
                d.pointee.len = lens[done + i]
                d.pointee.options = 0
            }
            xsk_ring_prod__submit(tx, UInt32(got))
            outstanding += got
            done += got
        }
        kick()
        // Collect completions every time: the kernel stops transmitting when the completion
        // ring is full, and it would otherwise fill before the frame pool runs dry, holding
        // sent-looking frames back for a whole ring's worth of time.
        reclaim()
        return waits
    }

    /// Queues one frame held in `count` UMEM frames (a jumbo frame: the socket is bound with
    /// XDP_USE_SG) as a descriptor chain, each but the last flagged XDP_PKT_CONTD; the chain
    /// goes on the ring whole, after waiting for room if need be. Returns how many waits.
    @discardableResult
    public func submitChain(_ addrs: UnsafePointer<UInt64>, _ lens: UnsafePointer<UInt32>, count n: Int) -> Int {
        let tx = rings.tx
        var waits = 0
        var idx: UInt32 = 0
        while xsk_prod_nb_free(tx, UInt32(n)) < UInt32(n) || xsk_ring_prod__reserve(tx, UInt32(n), &idx) != UInt32(n) {
            waits += 1
            kick()
            reclaim()
        }
        for i in 0..<n {
            let d = xsk_ring_prod__tx_desc(tx, idx &+ UInt32(i))!
            d.pointee.addr = addrs[i]
            d.pointee.len = lens[i]
            d.pointee.options = i < n - 1 ? XSKRings.packetContinues : 0
        }
        xsk_ring_prod__submit(tx, UInt32(n))
        outstanding += n
        kick()
        reclaim()
        return waits
    }

    /// Whether frames longer than one UMEM frame can be sent (the socket took XDP_USE_SG).
    public var multiBuffer: Bool { rings.multiBuffer }

    /// Wakes the kernel to transmit (copy mode sends at most 32 frames per call).
    @inline(__always)
    public func kick() {
        guard xsk_ring_prod__needs_wakeup(rings.tx) != 0 else { return }
        kicks &+= 1
        _ = rings.kickTransmit()
    }

    /// Returns completed frames to the pool.
    @inline(__always)
    public func reclaim() {
        let comp = rings.comp
        var idx: UInt32 = 0
        let n = Int(xsk_ring_cons__peek(comp, ringSize, &idx))
        guard n > 0 else {
            if outstanding > 0 { kick() }
            return
        }
        for i in 0..<n {
            free[freeCount] = xsk_ring_cons__comp_addr(comp, idx &+ UInt32(i)).pointee
            freeCount += 1
        }
        xsk_ring_cons__release(comp, UInt32(n))
        outstanding -= n
    }

    /// Waits (kicking) until every queued frame has been sent, or `timeout` ns.
    public func flush(timeout: UInt64) {
        let deadline = monotonicNanoseconds() + timeout
        while outstanding > 0 && monotonicNanoseconds() < deadline {
            kick()
            reclaim()
        }
    }
}

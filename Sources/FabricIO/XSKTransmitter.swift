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
import Glibc

public final class XSKTransmitter {
    public let interface: String
    public let frameSize = 4096
    public let frameCount: Int
    let ringSize: UInt32
    let area: UnsafeMutableRawPointer
    let areaSize: Int
    var umem: OpaquePointer?
    var socket: OpaquePointer?
    let tx: UnsafeMutablePointer<xsk_ring_prod>
    let fill: UnsafeMutablePointer<xsk_ring_prod>
    let comp: UnsafeMutablePointer<xsk_ring_cons>
    let rx: UnsafeMutablePointer<xsk_ring_cons>
    let fd: Int32
    let free: UnsafeMutablePointer<UInt64>
    var freeCount: Int
    public private(set) var outstanding = 0
    public private(set) var kicks: UInt64 = 0

    /// Opens the socket on queue 0 of `interface` in the calling thread's namespace.
    public init(interface: String, frames: Int = 4096, ringSize: Int = 2048) throws {
        XDPProgram.configureLogging(verbose: false)
        self.interface = interface
        frameCount = frames
        self.ringSize = UInt32(ringSize)
        areaSize = frames * frameSize
        guard let a = mmap(nil, areaSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0), a != MAP_FAILED else {
            throw FabricIOError("cannot map \(areaSize) bytes of UMEM", errno: errno)
        }
        area = a
        tx = .allocate(capacity: 1); tx.initialize(to: xsk_ring_prod())
        fill = .allocate(capacity: 1); fill.initialize(to: xsk_ring_prod())
        comp = .allocate(capacity: 1); comp.initialize(to: xsk_ring_cons())
        rx = .allocate(capacity: 1); rx.initialize(to: xsk_ring_cons())
        free = .allocate(capacity: frames)
        for i in 0..<frames { free[i] = UInt64(i * frameSize) }
        freeCount = frames
        var ucfg = xsk_umem_config(fill_size: UInt32(ringSize), comp_size: UInt32(ringSize), frame_size: UInt32(frameSize),
                                   frame_headroom: 0, flags: 0)
        var u: OpaquePointer?
        let urc = xsk_umem__create(&u, a, UInt64(areaSize), fill, comp, &ucfg)
        guard urc == 0, let u else {
            Self.release(area: a, size: areaSize, rings: (tx, fill, comp, rx), free: free)
            throw FabricIOError.negative(urc, "cannot create UMEM for \(interface)")
        }
        var cfg = xsk_socket_config()
        cfg.rx_size = 0
        cfg.tx_size = UInt32(ringSize)
        cfg.libxdp_flags = UInt32(XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD)
        cfg.bind_flags = UInt16(XDP_USE_NEED_WAKEUP)
        var s: OpaquePointer?
        let src = xsk_socket__create(&s, interface, 0, u, nil, tx, &cfg)
        guard src == 0, let s else {
            _ = xsk_umem__delete(u)
            Self.release(area: a, size: areaSize, rings: (tx, fill, comp, rx), free: free)
            throw FabricIOError.negative(src, "cannot open a transmit AF_XDP socket on \(interface)")
        }
        umem = u
        socket = s
        fd = xsk_socket__fd(s)
    }

    static func release(area: UnsafeMutableRawPointer, size: Int,
                        rings: (UnsafeMutablePointer<xsk_ring_prod>, UnsafeMutablePointer<xsk_ring_prod>, UnsafeMutablePointer<xsk_ring_cons>, UnsafeMutablePointer<xsk_ring_cons>),
                        free: UnsafeMutablePointer<UInt64>) {
        munmap(area, size)
        rings.0.deallocate(); rings.1.deallocate(); rings.2.deallocate(); rings.3.deallocate()
        free.deallocate()
    }

    deinit {
        flush(timeout: 100_000_000)
        if let s = socket { xsk_socket__delete(s) }
        if let u = umem { _ = xsk_umem__delete(u) }
        Self.release(area: area, size: areaSize, rings: (tx, fill, comp, rx), free: free)
    }

    /// Memory of the frame at `addr` (from `reserve`).
    @inline(__always) public func frame(_ addr: UInt64) -> UnsafeMutableRawPointer { area + Int(addr) }

    /// Takes up to `n` free frames into `addrs`; returns how many (reclaiming completions first).
    @inline(__always)
    public func reserve(_ n: Int, into addrs: UnsafeMutablePointer<UInt64>) -> Int {
        if freeCount < n { reclaim() }
        let k = min(n, freeCount)
        for i in 0..<k {
            freeCount -= 1
            addrs[i] = free[freeCount]
        }
        return k
    }

    /// Queues frames (address, length) on the TX ring, waiting for room if the ring is full
    /// (nothing is dropped: a NIC's send queue back-pressures, it does not lose), and kicks the
    /// kernel if it asks. Returns how many times it had to wait for room.
    @inline(__always) @discardableResult
    public func submit(_ addrs: UnsafePointer<UInt64>, _ lens: UnsafePointer<UInt32>, count n: Int) -> Int {
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

    /// Wakes the kernel to transmit (copy mode sends at most 32 frames per call).
    @inline(__always)
    public func kick() {
        guard xsk_ring_prod__needs_wakeup(tx) != 0 else { return }
        kicks &+= 1
        _ = sendto(fd, nil, 0, Int32(MSG_DONTWAIT), nil, 0)
    }

    /// Returns completed frames to the pool.
    @inline(__always)
    public func reclaim() {
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
        let deadline = monotonicNow() + timeout
        while outstanding > 0 && monotonicNow() < deadline {
            kick()
            reclaim()
        }
    }

    func monotonicNow() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}

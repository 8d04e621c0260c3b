// A receive-only AF_XDP socket on a host interface: the traffic receiver's fast path in.
//
// bpf/roce_rx steers RoCEv2 data packets (UDP 4791, not CNP) into the socket and passes
// everything else to the kernel, so the host keeps its ARP/ND and a sender on the same host
// still reads PFC and CNP frames from its AF_PACKET control socket. Frames are handed to the
// caller in place in the UMEM, then go straight back to the fill ring.
import CXDP
import Glibc

public final class XSKReceiver {
    public let interface: String
    let frameSize = 4096
    let frames: Int
    let ringSize: UInt32
    let area: UnsafeMutableRawPointer
    let areaSize: Int
    let fill: UnsafeMutablePointer<xsk_ring_prod>
    let comp: UnsafeMutablePointer<xsk_ring_cons>
    let rx: UnsafeMutablePointer<xsk_ring_cons>
    var umem: OpaquePointer?
    var socket: OpaquePointer?
    var program: XDPProgram?
    var lock: PortLock?
    public private(set) var fd: Int32 = -1
    /// The XDP attach mode in use.
    public private(set) var mode: XDPMode = .auto

    public init(interface: String, bpfObject: String, mode requested: XDPMode = .auto, frames: Int = 8192, ringSize: Int = 4096) throws {
        XDPProgram.configureLogging(verbose: false)
        self.interface = interface
        self.frames = frames
        self.ringSize = UInt32(ringSize)
        let idx = if_nametoindex(interface)
        guard idx != 0 else { throw FabricIOError("no interface \(interface) in this network namespace") }
        areaSize = frames * frameSize
        guard let a = mmap(nil, areaSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0), a != MAP_FAILED else {
            throw FabricIOError("cannot map \(frames * frameSize) bytes of UMEM", errno: errno)
        }
        area = a
        fill = .allocate(capacity: 1); fill.initialize(to: xsk_ring_prod())
        comp = .allocate(capacity: 1); comp.initialize(to: xsk_ring_cons())
        rx = .allocate(capacity: 1); rx.initialize(to: xsk_ring_cons())
        do {
            lock = try PortLock(interface: interface, ifindex: Int32(idx))
            var ucfg = xsk_umem_config(fill_size: UInt32(ringSize), comp_size: UInt32(ringSize), frame_size: UInt32(frameSize),
                                       frame_headroom: 0, flags: 0)
            var u: OpaquePointer?
            let urc = xsk_umem__create(&u, a, UInt64(areaSize), fill, comp, &ucfg)
            guard urc == 0, let u else { throw FabricIOError.negative(urc, "cannot create UMEM for \(interface)") }
            umem = u
            let prog = try XDPProgram(objectPath: bpfObject, interface: interface, ifindex: Int32(idx), name: "fabric_roce_rx")
            program = prog
            try prog.attach(mode: requested)
            mode = prog.mode
            var cfg = xsk_socket_config()
            cfg.rx_size = UInt32(ringSize)
            cfg.tx_size = 0
            cfg.libxdp_flags = UInt32(XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD)
            cfg.bind_flags = UInt16(XDP_USE_NEED_WAKEUP)
            var s: OpaquePointer?
            let src = xsk_socket__create(&s, interface, 0, u, rx, nil, &cfg)
            guard src == 0, let s else { throw FabricIOError.negative(src, "cannot open a receive AF_XDP socket on \(interface)") }
            socket = s
            fd = xsk_socket__fd(s)
            // Fill the fill ring before steering frames here: a frame meeting an empty fill ring
            // is dropped (seen once as hostDrops=1 in CI).
            var fidx: UInt32 = 0
            let n = min(UInt32(frames), UInt32(ringSize))
            guard xsk_ring_prod__reserve(fill, n, &fidx) == n else { throw FabricIOError("cannot fill the fill ring") }
            for i in 0..<Int(n) { xsk_ring_prod__fill_addr(fill, fidx &+ UInt32(i)).pointee = UInt64(i * frameSize) }
            xsk_ring_prod__submit(fill, n)
            let mrc = xsk_socket__update_xskmap(s, prog.xsksMapFD)
            guard mrc == 0 else { throw FabricIOError.negative(mrc, "cannot insert the socket into xsks_map") }
        } catch {
            close()
            throw error
        }
    }

    /// Detaches the program first (frames go back to the kernel), then the socket and UMEM.
    func close() {
        program?.detach()
        program = nil
        if let s = socket { xsk_socket__delete(s) }
        socket = nil
        if let u = umem { _ = xsk_umem__delete(u) }
        umem = nil
        lock = nil
    }

    deinit {
        close()
        munmap(area, areaSize)
        fill.deallocate()
        comp.deallocate()
        rx.deallocate()
    }

    /// Hands up to `max` received frames to `handle` (in place, valid only during the call)
    /// and returns them to the fill ring. Waits up to `timeoutMilliseconds` when none is there.
    @inline(__always)
    public func receive(max: Int = 64, timeoutMilliseconds: Int32, _ handle: (UnsafeRawPointer, Int) -> Void) -> Int {
        var idx: UInt32 = 0
        var n = Int(xsk_ring_cons__peek(rx, UInt32(max), &idx))
        if n == 0 {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, timeoutMilliseconds) > 0 else { return 0 }
            n = Int(xsk_ring_cons__peek(rx, UInt32(max), &idx))
            if n == 0 { return 0 }
        }
        var fidx: UInt32 = 0
        // Every frame we take from rx goes back to fill at once; the fill ring has room for it
        // because rx and fill together never hold more than the frames we gave out.
        let reserved = xsk_ring_prod__reserve(fill, UInt32(n), &fidx)
        for i in 0..<n {
            let d = xsk_ring_cons__rx_desc(rx, idx &+ UInt32(i))!
            handle(UnsafeRawPointer(area + Int(d.pointee.addr)), Int(d.pointee.len))
            if UInt32(i) < reserved {
                xsk_ring_prod__fill_addr(fill, fidx &+ UInt32(i)).pointee = d.pointee.addr - d.pointee.addr % UInt64(frameSize)
            }
        }
        xsk_ring_cons__release(rx, UInt32(n))
        if reserved > 0 { xsk_ring_prod__submit(fill, reserved) }
        if xsk_ring_prod__needs_wakeup(fill) != 0 { _ = recvfrom(fd, nil, 0, Int32(MSG_DONTWAIT), nil, nil) }
        return n
    }

    /// Frames the kernel dropped at the socket (rx ring full or no fill buffer).
    public func drops() -> UInt64 {
        var st = xdp_statistics()
        var len = socklen_t(MemoryLayout<xdp_statistics>.size)
        guard fd >= 0, getsockopt(fd, 283, XDP_STATISTICS, &st, &len) == 0 else { return 0 }
        return st.rx_dropped + st.rx_ring_full
    }
}

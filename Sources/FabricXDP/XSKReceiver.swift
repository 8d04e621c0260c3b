// A receive-only AF_XDP socket on a host interface: the traffic receiver's fast path in.
//
// bpf/roce_rx steers RoCEv2 data packets (UDP 4791, not CNP) into the socket and passes
// everything else to the kernel, so the host keeps its ARP/ND and a sender on the same host
// still reads PFC and CNP frames from its AF_PACKET control socket. Frames are handed to the
// caller in place in the UMEM, then go straight back to the fill ring. A frame longer than one
// UMEM frame (a 4096-byte RoCE MTU) arrives as a multi-buffer chain (the socket is bound with
// XDP_USE_SG): its pieces are gathered into one buffer before the caller sees it.
import CXDP
import FabricSystem
import Glibc

public final class XSKReceiver {
    public let interface: String
    public static let frameSize = 4096
    var rings: XSKRings
    var program: XDPProgram?
    var lock: PortLock?
    public var fd: Int32 { rings.fd }
    /// The XDP attach mode in use.
    public private(set) var mode: XDPMode = .auto
    /// Where a multi-buffer frame is gathered (`largestFrame` bytes).
    let gathered: UnsafeMutableRawPointer
    public static let largestFrame = 16384
    /// Frames longer than `largestFrame`, dropped.
    public private(set) var oversize: UInt64 = 0
    /// Declared last: its memory outlives the socket.
    let umem: UMEM

    public init(interface: String, bpfObject: String, mode requested: XDPMode = .auto, frames: Int = 8192, ringSize: Int = 4096) throws {
        XDPProgram.configureLogging(verbose: false)
        self.interface = interface
        let idx = if_nametoindex(interface)
        let rings = XSKRings()
        guard idx != 0 else {
            rings.deallocate()
            throw SystemError("no interface \(interface) in this network namespace")
        }
        let umem: UMEM
        do {
            umem = try UMEM(frameCount: frames, frameSize: Self.frameSize, ringSize: ringSize, rings: rings, what: "UMEM for \(interface)")
        } catch {
            rings.deallocate()
            throw error
        }
        self.rings = rings
        self.umem = umem
        gathered = .allocate(byteCount: Self.largestFrame, alignment: 64)
        do {
            lock = try PortLock(interface: interface, ifindex: Int32(idx))
            let prog = try XDPProgram(objectPath: bpfObject, interface: interface, ifindex: Int32(idx), name: "fabric_roce_rx")
            program = prog
            try prog.attach(mode: requested)
            mode = prog.mode
            try umem.openSocket(interface: interface, rings: &self.rings, receive: true, transmit: false)
            // Fill the fill ring before steering frames here: a frame meeting an empty fill ring
            // is dropped (seen once as hostDrops=1 in CI).
            var fidx: UInt32 = 0
            let n = min(UInt32(frames), UInt32(ringSize))
            guard xsk_ring_prod__reserve(rings.fill, n, &fidx) == n else { throw SystemError("cannot fill the fill ring") }
            for i in 0..<Int(n) { xsk_ring_prod__fill_addr(rings.fill, fidx &+ UInt32(i)).pointee = UInt64(i * Self.frameSize) }
            xsk_ring_prod__submit(rings.fill, n)
            let mrc = xsk_socket__update_xskmap(self.rings.socket, prog.xsksMapFD)
            guard mrc == 0 else { throw SystemError.negative(mrc, "cannot insert the socket into xsks_map") }
        } catch {
            close()
            throw error
        }
    }

    /// Detaches the program first (frames go back to the kernel), then the socket and UMEM.
    func close() {
        program?.detach()
        program = nil
        rings.closeSocket()
        umem.close()
        lock = nil
    }

    deinit {
        close()
        rings.deallocate()
        gathered.deallocate()
    }

    /// Hands up to `max` received frames to `handle` (in place, or gathered from a chain;
    /// valid only during the call) and returns them to the fill ring. Waits up to
    /// `timeoutMilliseconds` when none is there. Returns how many frames it handed over.
    @inline(__always)
    public func receive(max: Int = 64, timeoutMilliseconds: Int32, _ handle: (UnsafeRawPointer, Int) -> Void) -> Int {
        var idx: UInt32 = 0
        var n = Int(xsk_ring_cons__peek(rings.rx, UInt32(max), &idx))
        if n == 0 {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, timeoutMilliseconds) > 0 else { return 0 }
            n = Int(xsk_ring_cons__peek(rings.rx, UInt32(max), &idx))
            if n == 0 { return 0 }
        }
        let total = n
        // A chain whose last piece lies beyond this peek waits for the next call.
        let rx = rings.rx, fill = rings.fill, area = umem.base, frameSize = UInt64(Self.frameSize)
        while n > 0 && xsk_ring_cons__rx_desc(rx, idx &+ UInt32(n - 1))!.pointee.options & XSKRings.packetContinues != 0 { n -= 1 }
        var fidx: UInt32 = 0
        // Every frame we take from rx goes back to fill at once; the fill ring has room for it
        // because rx and fill together never hold more than the frames we gave out.
        let reserved = xsk_ring_prod__reserve(fill, UInt32(n), &fidx)
        var gatheredLength = 0, inChain = false, tooLong = false
        var packets = 0
        for i in 0..<n {
            let d = xsk_ring_cons__rx_desc(rx, idx &+ UInt32(i))!
            let piece = UnsafeRawPointer(area + Int(d.pointee.addr)), length = Int(d.pointee.len)
            let continues = d.pointee.options & XSKRings.packetContinues != 0
            if continues || inChain {
                if gatheredLength + length <= Self.largestFrame {
                    (gathered + gatheredLength).copyMemory(from: piece, byteCount: length)
                    gatheredLength += length
                } else {
                    tooLong = true   // the rest of it is skipped, and the frame counted
                }
                inChain = continues
                if !continues {
                    if tooLong { oversize &+= 1 } else { handle(UnsafeRawPointer(gathered), gatheredLength) }
                    gatheredLength = 0
                    tooLong = false
                    packets += 1
                }
            } else {
                handle(piece, length)
                packets += 1
            }
            if UInt32(i) < reserved {
                xsk_ring_prod__fill_addr(fill, fidx &+ UInt32(i)).pointee = d.pointee.addr - d.pointee.addr % frameSize
            }
        }
        xsk_ring_cons__release(rx, UInt32(n))
        if total > n { xsk_ring_cons__cancel(rx, UInt32(total - n)) }
        if reserved > 0 { xsk_ring_prod__submit(fill, reserved) }
        if xsk_ring_prod__needs_wakeup(fill) != 0 { rings.kickFill() }
        return packets
    }

    /// Frames the kernel dropped at the socket (rx ring full or no fill buffer).
    public func drops() -> UInt64 {
        guard let st = rings.statistics() else { return 0 }
        return st.rx_dropped + st.rx_ring_full + oversize
    }
}

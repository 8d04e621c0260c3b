// AF_XDP memory and sockets, created one way for every user: the switch's ports (one UMEM
// shared by all of them), the traffic generator's transmit-only socket and the receiver's
// receive-only socket.
//
// A UMEM is a FrameArea registered with the kernel. Each socket over it has rx and/or tx rings
// and, with a shared UMEM, its own fill and completion rings (libxdp's
// xsk_socket__create_shared; the first socket uses the pair the UMEM was created with). The
// ring structs live in `XSKRings`, memory that never moves, because libxdp keeps pointers to
// them. Teardown order: sockets, then the UMEM, then the memory (`close` and the stored
// property order see to it).
import CXDP
import FabricSystem
import Glibc

public final class UMEM {
    public let frameSize: Int
    public let frameCount: Int
    /// Entries of every socket's fill and completion rings (libxdp gives each socket over a
    /// shared UMEM rings of the UMEM's sizes).
    public let fillSize: Int
    public let completionSize: Int
    public private(set) var handle: OpaquePointer?
    /// Declared last: unmapped after the UMEM that uses it is deleted.
    let area: FrameArea

    /// Start of the frames: frame `addr` lives at `base + addr`.
    public var base: UnsafeMutableRawPointer { area.base }

    /// Maps and registers `frameCount` frames; `rings`' fill and completion rings become the
    /// UMEM's first pair (`ringSize` entries each, or `fillSize` and `completionSize`).
    public convenience init(frameCount: Int, frameSize: Int, ringSize: Int, rings: XSKRings, what: String) throws {
        try self.init(frameCount: frameCount, frameSize: frameSize, fillSize: ringSize, completionSize: ringSize, rings: rings, what: what)
    }

    public init(frameCount: Int, frameSize: Int, fillSize: Int, completionSize: Int, rings: XSKRings, what: String) throws {
        self.frameSize = frameSize
        self.frameCount = frameCount
        self.fillSize = fillSize
        self.completionSize = completionSize
        area = try FrameArea(frameCount: frameCount, frameSize: frameSize, what: what)
        var config = xsk_umem_config(fill_size: UInt32(fillSize), comp_size: UInt32(completionSize), frame_size: UInt32(frameSize),
                                     frame_headroom: 0, flags: 0)
        var umem: OpaquePointer?
        let rc = xsk_umem__create(&umem, area.base, UInt64(area.size), rings.fill, rings.comp, &config)
        guard rc == 0, let umem else { throw SystemError.negative(rc, "cannot create \(what) (\(area.size) bytes)") }
        handle = umem
    }

    /// Opens an AF_XDP socket on queue `queue` of `interface` over this UMEM, with a receive
    /// and/or a transmit ring of the fill and completion rings' sizes, in `rings` (whose fill
    /// and completion rings the socket uses). libxdp loads no program of its own: callers
    /// attach theirs (`XDPProgram`) or, sending only, none. Needs-wakeup mode (kicks only when
    /// a ring asks).
    public func openSocket(interface: String, queue: UInt32 = 0, rings: inout XSKRings, receive: Bool, transmit: Bool) throws {
        try openSocket(interface: interface, queue: queue, rings: &rings, rxSize: receive ? fillSize : 0, txSize: transmit ? completionSize : 0)
    }

    /// As above with a receive ring of `rxSize` entries (0: none; at most the fill ring's) and
    /// a transmit ring of `txSize` (0: none). `multiBuffer`: bind with XDP_USE_SG, so frames
    /// longer than one UMEM frame pass as descriptor chains; a driver that refuses it (some
    /// zero-copy drivers) gets a socket without it, and `rings.multiBuffer` says which.
    public func openSocket(interface: String, queue: UInt32 = 0, rings: inout XSKRings, rxSize: Int, txSize: Int, multiBuffer: Bool = true,
                           zeroCopy: ZeroCopy = .auto) throws {
        guard let handle else { throw SystemError("\(interface): the UMEM is closed") }
        let receive = rxSize > 0, transmit = txSize > 0
        var config = xsk_socket_config()
        config.rx_size = UInt32(rxSize)
        config.tx_size = UInt32(txSize)
        config.libxdp_flags = UInt32(XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD)
        config.xdp_flags = 0
        var socket: OpaquePointer?
        var rc: Int32 = -1
        for sg in multiBuffer ? [true, false] : [false] {
            let copyMode: UInt16 = zeroCopy == .on ? XSKRings.bindZeroCopy : zeroCopy == .off ? XSKRings.bindCopy : 0
            config.bind_flags = UInt16(XDP_USE_NEED_WAKEUP) | copyMode | (sg ? XSKRings.useSG : 0)
            rc = xsk_socket__create_shared(&socket, interface, queue, handle, receive ? rings.rx : nil, transmit ? rings.tx : nil,
                                           rings.fill, rings.comp, &config)
            rings.multiBuffer = sg
            if rc == 0 || (rc != -EINVAL && rc != -EOPNOTSUPP) { break }
        }
        guard rc == 0, let socket else {
            let what = receive && transmit ? "AF_XDP socket" : receive ? "receive AF_XDP socket" : "transmit AF_XDP socket"
            let zc = zeroCopy == .on ? " in zero-copy mode (--zero-copy on; this driver may not support it)" : ""
            throw SystemError.negative(rc, "port \(interface): cannot create \(what) on queue \(queue)\(zc)")
        }
        rings.socket = socket
        rings.fd = xsk_socket__fd(socket)
        rings.rxSize = rxSize
        rings.zeroCopy = rings.readZeroCopy()
    }

    /// Unregisters the memory (its sockets must be closed first). Idempotent. A UMEM the
    /// kernel still uses (a socket left open: EBUSY) is kept, and said so.
    public func close() {
        guard let h = handle else { return }
        let rc = xsk_umem__delete(h)
        guard rc == 0 else {
            logWarning("fabric: warning: cannot release a UMEM: \(String(cString: strerror(-rc))) (a socket over it is still open)")
            return
        }
        handle = nil
    }

    deinit { close() }
}

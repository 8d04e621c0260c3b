// A raw AF_PACKET socket on one interface: the RoCEv2 generator's control path (PFC and CNP
// in and out), and its data path when AF_XDP is not available. Frames are built and parsed by
// FabricPacket; this file only moves bytes.
import CFabricShims
import FabricPacket
import FabricSystem
import Glibc

public struct TrafficError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ d: String) { description = d }
    static func errno(_ what: String) -> TrafficError { TrafficError("\(what): \(String(cString: strerror(Glibc.errno)))") }
}

public final class PacketSocket {
    public let fd: Int32
    public let interface: String
    public let ifindex: Int32
    public let mac: MACAddress

    /// Opens a raw socket bound to `interface` (in the calling thread's network namespace)
    /// that sees every frame the interface receives, not the ones it sends itself.
    public init(interface: String) throws {
        let idx = if_nametoindex(interface)
        guard idx != 0 else { throw TrafficError("no interface \(interface) in this network namespace") }
        let index = Int32(idx)
        ifindex = index
        self.interface = interface
        let s = socket(AF_PACKET, Int32(SOCK_RAW.rawValue), Int32(UInt16(ETH_P_ALL).bigEndian))
        guard s >= 0 else { throw TrafficError.errno("socket(AF_PACKET)") }
        var one: Int32 = 1
        _ = setsockopt(s, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, socklen_t(MemoryLayout<Int32>.size))
        _ = setsockopt(s, SOL_PACKET, PACKET_QDISC_BYPASS, &one, socklen_t(MemoryLayout<Int32>.size))
        var buf: Int32 = 32 << 20
        _ = setsockopt(s, SOL_SOCKET, SO_RCVBUF, &buf, socklen_t(MemoryLayout<Int32>.size))
        _ = setsockopt(s, SOL_SOCKET, SO_SNDBUF, &buf, socklen_t(MemoryLayout<Int32>.size))
        var sll = sockaddr_ll()
        sll.sll_family = UInt16(AF_PACKET)
        sll.sll_protocol = UInt16(ETH_P_ALL).bigEndian
        sll.sll_ifindex = index
        let rc = withUnsafePointer(to: &sll) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, socklen_t(MemoryLayout<sockaddr_ll>.size)) }
        }
        guard rc == 0 else {
            close(s)
            throw TrafficError.errno("bind AF_PACKET to \(interface)")
        }
        guard let raw = try? interfaceMAC(interface) else {
            close(s)
            throw TrafficError("cannot read the MAC of \(interface)")
        }
        mac = MACAddress(rawValue: raw)
        fd = s
    }

    deinit {
        close(fd)
        if udpGuard >= 0 { close(udpGuard) }
    }

    /// A UDP socket bound to port 4791 that nobody reads: the host's kernel then has a
    /// destination for RoCEv2 datagrams and sends no ICMP port-unreachable back into the fabric.
    var udpGuard: Int32 = -1
    public func claimRoCEPort() {
        let s = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard s >= 0 else { return }
        var sa = sockaddr_in()
        sa.sin_family = sa_family_t(AF_INET)
        sa.sin_port = UDPView.roceV2Port.bigEndian
        var small: Int32 = 4096
        _ = setsockopt(s, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
        let rc = withUnsafePointer(to: &sa) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        if rc == 0 { udpGuard = s } else { close(s) }
    }

    /// Frames the kernel dropped for this socket since it opened (PACKET_STATISTICS).
    public func drops() -> UInt64 {
        var st = tpacket_stats()
        var len = socklen_t(MemoryLayout<tpacket_stats>.size)
        guard getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0 else { return 0 }
        return UInt64(st.tp_drops)
    }

    /// Sends one frame. Returns false when the kernel has no room right now (retry later).
    @inline(__always)
    public func send(_ frame: UnsafeRawPointer, length: Int) throws -> Bool {
        if Glibc.send(fd, frame, length, Int32(MSG_DONTWAIT)) >= 0 { return true }
        switch Glibc.errno {
        case EAGAIN, ENOBUFS, EINTR: return false
        default: throw TrafficError.errno("send on \(interface)")
        }
    }

    /// Receives one frame into `buffer`; 0 when nothing arrived within `timeoutMilliseconds`.
    @inline(__always)
    public func receive(into buffer: UnsafeMutableRawPointer, capacity: Int, timeoutMilliseconds: Int32) -> Int {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let n = recv(fd, buffer, capacity, Int32(MSG_DONTWAIT))
        if n > 0 { return n }
        guard poll(&pfd, 1, timeoutMilliseconds) > 0 else { return 0 }
        let m = recv(fd, buffer, capacity, Int32(MSG_DONTWAIT))
        return m > 0 ? m : 0
    }
}

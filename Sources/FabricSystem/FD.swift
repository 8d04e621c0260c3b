import Glibc

/// What the control socket, the metrics endpoint, the capture and the recorder do with file
/// descriptors, the swift-system way: EINTR is retried, failure is a value.
///
/// A server's conversation with one client is bounded in time as a whole, not per call: the
/// request must arrive before one deadline and the answer must be taken before another, however
/// the client paces its bytes (a client that trickles a byte now and then would otherwise renew
/// a per-call timeout forever) and however often a signal interrupts the wait.
public enum FD {
    /// Writes all `count` bytes (retrying short writes and EINTR); false when the descriptor fails.
    @discardableResult
    public static func writeAll(_ fd: Int32, _ p: UnsafeRawPointer, _ count: Int) -> Bool {
        var off = 0
        while off < count {
            let w = write(fd, p + off, count - off)
            if w < 0 && errno == EINTR { continue }
            if w <= 0 { return false }
            off += w
        }
        return true
    }

    /// Sends all `count` bytes to a socket before `deadline` (monotonic nanoseconds); false when
    /// the peer fails or does not take them in time. Never blocks past the deadline: each send is
    /// non-blocking, and the wait for room is a poll() bounded by the time left.
    @discardableResult
    public static func sendAll(_ fd: Int32, _ p: UnsafeRawPointer, _ count: Int, deadline: UInt64) -> Bool {
        var off = 0
        while off < count {
            let w = send(fd, p + off, count - off, Int32(MSG_DONTWAIT) | Int32(MSG_NOSIGNAL))
            if w > 0 {
                off += w
                continue
            }
            if w < 0 && errno == EINTR { continue }
            guard w < 0, errno == EAGAIN || errno == EWOULDBLOCK, wait(fd, for: Int16(POLLOUT), until: deadline) else { return false }
        }
        return true
    }

    /// Longest request a client may send.
    public static let requestLimit = 4096

    /// A client's request: what it sent up to its first newline (at most `requestLimit` bytes),
    /// or up to the deadline (monotonic nanoseconds) or its end of stream. Nil when it sent
    /// nothing in time.
    public static func readRequest(_ fd: Int32, deadline: UInt64) -> String? {
        var buf = [UInt8](repeating: 0, count: requestLimit)
        var n = 0
        while n < buf.count && !buf[0..<n].contains(UInt8(ascii: "\n")) {
            let r = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + n, $0.count - n, Int32(MSG_DONTWAIT)) }
            if r > 0 {
                n += r
                continue
            }
            if r == 0 { break }
            if errno == EINTR { continue }
            guard errno == EAGAIN || errno == EWOULDBLOCK, wait(fd, for: Int16(POLLIN), until: deadline) else { break }
        }
        return n > 0 ? String(decoding: buf[0..<n], as: UTF8.self) : nil
    }

    /// Waits until `fd` is ready for `events` or `deadline` passes (EINTR: waits again for the
    /// time left). True when ready (or in error, which the next call reports).
    static func wait(_ fd: Int32, for events: Int16, until deadline: UInt64) -> Bool {
        while true {
            let now = monotonicNanoseconds()
            guard now < deadline else { return false }
            var p = pollfd(fd: fd, events: events, revents: 0)
            let ms = Int32(clamping: (deadline - now + 999_999) / 1_000_000)
            let rc = poll(&p, 1, ms)
            if rc > 0 { return true }
            if rc < 0 && errno != EINTR { return false }
        }
    }

    /// Receive and send timeouts on a socket.
    public static func setTimeouts(_ fd: Int32, seconds: Double) {
        var tv = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - Double(Int(seconds))) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    /// A Unix-domain socket address for `path`; nil when the path does not fit.
    public static func unixAddress(_ path: String) -> sockaddr_un? {
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else { return nil }
        withUnsafeMutableBytes(of: &addr.sun_path) { p in for (i, b) in bytes.enumerated() { p[i] = b } }
        return addr
    }

    /// `bind` or `connect` with a Unix-domain address.
    public static func withSockaddr<R>(_ addr: sockaddr_un, _ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        var a = addr
        return withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
    }
}

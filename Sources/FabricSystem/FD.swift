import Glibc

/// What the control socket, the metrics endpoint, the capture and the recorder do with file
/// descriptors, the swift-system way: EINTR is retried, failure is a value.
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

    /// One read of a client's request (2 s at most), as text.
    public static func readRequest(_ fd: Int32) -> String? {
        setTimeouts(fd, seconds: 2)
        var buf = [UInt8](repeating: 0, count: 4096)
        var n: Int
        repeat { n = read(fd, &buf, buf.count) } while n < 0 && errno == EINTR
        return n > 0 ? String(decoding: buf[0..<n], as: UTF8.self) : nil
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

import FabricCore
import FabricSystem
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Plain UDP traffic for the demo and the tests: a sender that numbers its datagrams and a
/// receiver that counts them, notices gaps, duplicates and reordering. Runs inside a host
/// namespace, through the hosts' own kernel stack (the RoCEv2 generator is `fabric traffic`).
///
/// Payload: 8-byte big-endian sequence number, 8-byte send timestamp (CLOCK_MONOTONIC ns,
/// shared by every namespace of the machine), then zero padding.
public enum UDPProbe {
    /// Payload of a 64-byte Ethernet frame: 64 - 4 FCS - 14 Ethernet - 20 IPv4 - 8 UDP.
    public static let payloadFor64ByteFrames = 18

    public struct SendResult: Codable, Sendable {
        public var sent: Int
        public var seconds: Double
        public var errors: Int
        public var packetsPerSecond: Double { seconds > 0 ? Double(sent) / seconds : 0 }
    }

    public struct ReceiveResult: Codable, Sendable {
        public var received: Int = 0
        public var unique: Int = 0
        public var duplicates: Int = 0
        public var reordered: Int = 0
        public var bytes: Int = 0
        public var seconds: Double = 0
        /// One-way latency (send timestamp to receive), microseconds.
        public var latencyP50: Double = 0
        public var latencyP99: Double = 0
        public var latencyMax: Double = 0
    }

    static func address(_ ip: String, _ port: UInt16) throws -> sockaddr_in {
        var sa = sockaddr_in()
        sa.sin_family = sa_family_t(AF_INET)
        sa.sin_port = port.bigEndian
        guard inet_pton(AF_INET, ip, &sa.sin_addr) == 1 else { throw TestbedError("'\(ip)' is not an IPv4 address") }
        return sa
    }

    /// Sends `count` datagrams of `payload` bytes to ip:port, at most `pps` per second
    /// (0 = as fast as the socket takes them).
    public static func send(to ip: String, port: UInt16, count: Int, payload: Int = payloadFor64ByteFrames,
                            pps: Double = 0) throws -> SendResult {
        guard payload >= 16 && payload <= 1472 else { throw TestbedError("payload must be 16...1472 bytes") }
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw TestbedError("socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var sndbuf: Int32 = 4 << 20
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, socklen_t(MemoryLayout<Int32>.size))
        var sa = try address(ip, port)
        let rc = withUnsafePointer(to: &sa) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { throw TestbedError("connect \(ip):\(port): \(String(cString: strerror(errno)))") }

        let buffer = UnsafeMutableRawPointer.allocate(byteCount: payload, alignment: 8)
        buffer.initializeMemory(as: UInt8.self, repeating: 0, count: payload)
        defer { buffer.deallocate() }
        var sent = 0, errors = 0
        let start = monotonicNanoseconds()
        let interval = pps > 0 ? 1e9 / pps : 0
        while sent < count {
            if interval > 0 {
                let due = start + UInt64(Double(sent) * interval)
                while monotonicNanoseconds() < due {}
            }
            buffer.storeBytes(of: UInt64(sent).bigEndian, as: UInt64.self)
            buffer.storeBytes(of: monotonicNanoseconds().bigEndian, toByteOffset: 8, as: UInt64.self)
            if Glibc.send(fd, buffer, payload, 0) < 0 {
                // A full socket buffer or qdisc: back off briefly and resend the same datagram.
                if errno == ENOBUFS || errno == EAGAIN || errno == EINTR { errors += 1; usleep(50); continue }
                throw TestbedError("send: \(String(cString: strerror(errno)))")
            }
            sent += 1
        }
        return SendResult(sent: sent, seconds: Double(monotonicNanoseconds() - start) / 1e9, errors: errors)
    }

    /// Receives on `port` until `count` datagrams arrived or nothing came for `idleTimeout`
    /// seconds (after the first one, or `startTimeout` before it). `ready` is called once the
    /// socket is bound.
    public static func receive(port: UInt16, count: Int, startTimeout: Double = 10, idleTimeout: Double = 1,
                               ready: () -> Void = {}) throws -> ReceiveResult {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw TestbedError("socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var rcvbuf: Int32 = 16 << 20
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, socklen_t(MemoryLayout<Int32>.size))
        var sa = try address("0.0.0.0", port)
        let rc = withUnsafePointer(to: &sa) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { throw TestbedError("bind :\(port): \(String(cString: strerror(errno)))") }
        ready()
        var result = ReceiveResult()
        var seen = [Bool](repeating: false, count: count)
        var highest = -1
        var buf = [UInt8](repeating: 0, count: 2048)
        var first: UInt64 = 0, last: UInt64 = 0
        var latencies: [Double] = []
        latencies.reserveCapacity(min(count, 1 << 20))
        while result.received < count {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let timeout = result.received == 0 ? startTimeout : idleTimeout
            let pr = poll(&pfd, 1, Int32(timeout * 1000))
            if pr == 0 { break }
            if pr < 0 { if errno == EINTR { continue }; break }
            let n = recv(fd, &buf, buf.count, 0)
            guard n >= 16 else { continue }
            let t = monotonicNanoseconds()
            if first == 0 { first = t }
            last = t
            result.received += 1
            result.bytes += n
            let seq = buf.withUnsafeBytes { Int(UInt64(bigEndian: $0.loadUnaligned(as: UInt64.self))) }
            let sentAt = buf.withUnsafeBytes { UInt64(bigEndian: $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self)) }
            if t > sentAt && latencies.count < 1 << 20 { latencies.append(Double(t - sentAt) / 1000) }
            if seq >= 0 && seq < count {
                if seen[seq] { result.duplicates += 1 } else { seen[seq] = true; result.unique += 1 }
                if seq < highest { result.reordered += 1 }
                highest = max(highest, seq)
            }
        }
        result.seconds = Double(last - first) / 1e9
        if !latencies.isEmpty {
            result.latencyP50 = percentile(latencies, 50)
            result.latencyP99 = percentile(latencies, 99)
            result.latencyMax = latencies.max() ?? 0
        }
        return result
    }
}

/// Percentiles of a sample (nearest-rank).
public func percentile(_ values: [Double], _ p: Double) -> Double {
    guard !values.isEmpty else { return .nan }
    let sorted = values.sorted()
    let rank = Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1
    return sorted[max(0, min(sorted.count - 1, rank))]
}

import FabricCore
import FabricSystem
import Glibc

/// `fabric switch --capture PORT:FILE`: a pcapng file of what one port received and sent,
/// nanosecond timestamps (if_tsresol 9), direction in each packet's epb_flags, bounded in size.
/// Frames are copied into a buffer on the worker thread (received frames before the pipeline
/// rewrites them, sent ones as they go to the TX ring) and written out when it fills, at
/// every housekeeping tick and at exit. Opt-in: a port without a capture costs one bit test per
/// batch.
public final class PacketCapture {
    public let port: Int
    public let path: String
    public let limitBytes: Int
    let fd: Int32
    let buffer: UnsafeMutableRawPointer
    let capacity = 1 << 22
    var used = 0
    var written = 0
    /// Frames captured, and frames not captured because the file reached its limit.
    public private(set) var captured: UInt64 = 0
    public private(set) var overLimit: UInt64 = 0
    /// CLOCK_REALTIME minus CLOCK_MONOTONIC at start: packet times are wall-clock nanoseconds.
    let realtimeOffset: Int64

    public init(port: Int, portName: String, path: String, limitBytes: Int) throws {
        self.port = port
        self.path = path
        self.limitBytes = limitBytes
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw SystemError("--capture \(portName):\(path): \(String(cString: strerror(errno)))") }
        buffer = .allocate(byteCount: capacity, alignment: 8)
        var rt = timespec(), mono = timespec()
        clock_gettime(CLOCK_REALTIME, &rt)
        clock_gettime(CLOCK_MONOTONIC, &mono)
        realtimeOffset = (Int64(rt.tv_sec) - Int64(mono.tv_sec)) * 1_000_000_000 + (Int64(rt.tv_nsec) - Int64(mono.tv_nsec))
        // Section header block: byte-order magic, version 1.0, section length unknown.
        put32(0x0A0D_0D0A); put32(28); put32(0x1A2B_3C4D); put16(1); put16(0); put64(UInt64.max); put32(28)
        // Interface description block: Ethernet, no snap length, if_name, if_tsresol = 10^-9.
        let name = Array(portName.utf8)
        let nameOpt = 4 + (name.count + 3) & ~3
        let idbLength = 20 + nameOpt + 8 + 4
        put32(1); put32(UInt32(idbLength)); put16(1); put16(0); put32(0)
        put16(2); put16(UInt16(name.count)); putBytes(name); pad()
        put16(9); put16(1); put8(9); pad()
        put32(0)
        put32(UInt32(idbLength))
        flush()
    }

    deinit {
        buffer.deallocate()
    }

    @inline(__always) func put8(_ v: UInt8) { buffer.storeBytes(of: v, toByteOffset: used, as: UInt8.self); used += 1 }
    @inline(__always) func put16(_ v: UInt16) { buffer.storeBytes(of: v, toByteOffset: used, as: UInt16.self); used += 2 }
    @inline(__always) func put32(_ v: UInt32) { buffer.storeBytes(of: v, toByteOffset: used, as: UInt32.self); used += 4 }
    @inline(__always) func put64(_ v: UInt64) { buffer.storeBytes(of: v, toByteOffset: used, as: UInt64.self); used += 8 }
    func putBytes(_ b: [UInt8]) { for x in b { put8(x) } }
    @inline(__always) func pad() { while used & 3 != 0 { put8(0) } }

    /// Appends one frame (an enhanced packet block). `monotonic`: when it was received or sent.
    public func record(_ frame: UnsafeRawPointer, length: Int, monotonic: UInt64, outbound: Bool) {
        guard begin(length: length, monotonic: monotonic) else { return }
        (buffer + used).copyMemory(from: frame, byteCount: length)
        used += length
        end(length: length, outbound: outbound)
    }

    /// Appends a jumbo frame held in a chain of frames of `pool` from `head` on, `length` bytes
    /// in all.
    public func record(chain head: UInt64, in frames: UnsafeRawPointer, pool: borrowing FramePool, length: Int, monotonic: UInt64, outbound: Bool) {
        guard begin(length: length, monotonic: monotonic) else { return }
        let copied = pool.gather(head, length: length, from: frames, into: buffer + used)
        used += copied
        let left = length - copied
        if left > 0 {   // a chain shorter than its length (never expected): zeros stand in
            (buffer + used).initializeMemory(as: UInt8.self, repeating: 0, count: left)
            used += left
        }
        end(length: length, outbound: outbound)
    }

    /// The block's header, after making room; false (counted) when the file is at its limit.
    @inline(__always) func begin(length: Int, monotonic: UInt64) -> Bool {
        let block = 44 + (length + 3) & ~3
        guard written + used + block <= limitBytes else { overLimit &+= 1; return false }
        if used + block > capacity { flush() }
        let ts = UInt64(Int64(bitPattern: monotonic) &+ realtimeOffset)
        put32(6); put32(UInt32(block)); put32(0)
        put32(UInt32(truncatingIfNeeded: ts >> 32)); put32(UInt32(truncatingIfNeeded: ts))
        put32(UInt32(length)); put32(UInt32(length))
        return true
    }

    @inline(__always) func end(length: Int, outbound: Bool) {
        pad()
        put16(2); put16(4); put32(outbound ? 2 : 1)      // epb_flags: direction
        put32(0)                                           // opt_endofopt
        put32(UInt32(44 + (length + 3) & ~3))
        captured &+= 1
    }

    /// Writes the buffer out (housekeeping, full buffer, exit).
    public func flush() {
        FD.writeAll(fd, buffer, used)
        written += used
        used = 0
    }

    public func close() {
        flush()
        Glibc.close(fd)
    }
}

/// The captures of a switch's ports (`--capture PORT:FILE`, any number of ports): a bit per
/// port tested once per batch, the captures touched only for a set bit.
public struct CaptureSet {
    /// Bit p set when port p has a capture.
    public private(set) var mask: UInt64 = 0
    @usableFromInline var captures: [PacketCapture?]
    let names: [String]

    public init(portNames: [String]) {
        names = portNames
        captures = Array(repeating: nil, count: portNames.count)
    }

    /// Starts capturing port `name` into a pcapng file.
    public mutating func add(port name: String, path: String, limitBytes: Int) throws {
        guard let p = names.firstIndex(of: name) else {
            throw SystemError("--capture \(name):\(path): no port named '\(name)' (ports: \(names.joined(separator: ", ")))")
        }
        guard p < 64 else { throw SystemError("--capture: only the first 64 ports can be captured") }
        captures[p] = try PacketCapture(port: p, portName: name, path: path, limitBytes: limitBytes)
        mask |= 1 << UInt64(p)
    }

    /// Records `count` frames of port `p` (offsets `addr` into `frames`), when it is captured.
    @inlinable
    public func record(port p: Int, frames: UnsafeRawPointer, pool: borrowing FramePool, addr: UnsafePointer<UInt64>, len: UnsafePointer<UInt32>,
                       count: Int, monotonic: UInt64, outbound: Bool) {
        guard mask & (1 << UInt64(p & 63)) != 0, let c = captures[p] else { return }
        for i in 0..<count {
            if pool.isChained(addr[i]) {
                c.record(chain: addr[i], in: frames, pool: pool, length: Int(len[i]), monotonic: monotonic, outbound: outbound)
            } else {
                c.record(frames + Int(addr[i]), length: Int(len[i]), monotonic: monotonic, outbound: outbound)
            }
        }
    }

    /// Writes out what the captures buffered (housekeeping).
    public func flush() {
        for case let c? in captures { c.flush() }
    }

    /// Writes out and closes every capture; one line each for the exit summary.
    public mutating func close() -> [String] {
        var lines: [String] = []
        for case let c? in captures {
            c.close()
            lines.append("capture \(names[c.port]): \(c.captured) frames in \(c.path)" + (c.overLimit > 0 ? ", \(c.overLimit) not captured (size limit)" : ""))
        }
        captures = Array(repeating: nil, count: names.count)
        mask = 0
        return lines
    }
}

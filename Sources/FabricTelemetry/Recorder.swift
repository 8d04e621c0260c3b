import FabricCore
import FabricSystem
import Foundation
import Glibc

/// `fabric switch --record FILE`: the switch's time series, sampled by the worker every
/// `interval` (100 us by default) into a buffer and written at every housekeeping tick, plus
/// its final snapshot and residence histograms at exit. `fabric report FILE` draws it.
///
/// File: "SFREC001", a little-endian UInt32 length and a JSON header (`RecordHeader`), then
/// fixed-size samples: UInt64 time (ns since the first sample), per port 8 x UInt32 queue depth
/// (bytes), UInt64 transmitted bytes, UInt32 paused-queue mask, UInt32 PFC frames received,
/// UInt32 PFC frames sent; then per switch UInt32 PFC watchdog storms, UInt32 flowlet path
/// changes. The file ends with UInt32 0xFFFFFFFF, a UInt32 length and the JSON of `RecordTrailer`.
///
/// The file is bounded: once header and samples would pass `limitBytes`, recording stops (one
/// line on stderr says so) with the last whole sample that fits, and the switch goes on. The
/// trailer is still written at exit, past the limit by its own size, so the file stays a
/// complete record of its first part (`fabric report` says it was cut). Stopping rather than
/// rotating keeps one file per run, which is what `fabric report` draws.
public final class Recorder {
    public static let magic = Array("SFREC001".utf8)
    public let interval: UInt64
    let portCount: Int
    public var sampleBytes: Int { 8 + portCount * (8 * 4 + 8 + 12) + 8 }
    let fd: Int32
    let buffer: UnsafeMutableRawPointer
    let capacityBytes: Int
    var used = 0
    var first: UInt64 = 0
    public var last: UInt64 = 0
    public private(set) var samples: UInt64 = 0
    /// Most bytes of header and samples the file may hold.
    public let limitBytes: Int
    /// Header and sample bytes written so far.
    public private(set) var writtenBytes = 0
    /// True once the limit stopped the recording.
    @usableFromInline var limitReached = false
    public var stoppedAtLimit: Bool { limitReached }
    let path: String

    /// The default `limitBytes`: about two minutes of four busy ports at the default interval.
    public static let defaultLimitBytes = 256 << 20

    public init(path: String, switchName: String, ports: [String], speedsGbps: [Double?], intervalMicroseconds: Int,
                limitBytes: Int = Recorder.defaultLimitBytes) throws {
        interval = UInt64(max(10, intervalMicroseconds)) * 1000
        portCount = ports.count
        self.limitBytes = limitBytes
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw SystemError("--record \(path): \(String(cString: strerror(errno)))") }
        capacityBytes = 1 << 22
        buffer = .allocate(byteCount: capacityBytes, alignment: 8)
        let header = RecordHeader(switchName: switchName, ports: ports, speedsGbps: speedsGbps, intervalMicroseconds: Int(interval / 1000),
                                  startedAtUnixSeconds: Date().timeIntervalSince1970)
        let json = try JSONEncoder().encode(header)
        var head = Self.magic
        withUnsafeBytes(of: UInt32(json.count).littleEndian) { head += $0 }
        head += Array(json)
        guard head.count + sampleBytes <= limitBytes else {
            Glibc.close(fd)
            throw SystemError("--record \(path): a limit of \(limitBytes) bytes does not hold the header and one sample")
        }
        _ = head.withUnsafeBytes { FD.writeAll(fd, $0.baseAddress!, $0.count) }
        writtenBytes = head.count
    }

    deinit { buffer.deallocate() }

    /// Worker: is a sample due?
    @inlinable public func due(_ now: UInt64) -> Bool { !limitReached && now &- last >= interval }

    /// Worker: one sample of every port's queue depths, load and PFC, and the switch's storms
    /// and path changes (per sample interval, never per packet).
    public func sample(_ dp: borrowing Datapath, now: UInt64) {
        if used + sampleBytes > capacityBytes { flush() }
        guard !limitReached else { return }
        if first == 0 { first = now }
        last = now
        put64(now &- first)
        var storms: UInt64 = 0
        for p in 0..<dp.portCount {
            let c = dp.counters(port: p)
            for q in 0..<8 { put32(UInt32(clamping: dp.depthBytes(port: p, queue: q))) }
            put64(c.txBytes)
            put32(UInt32(dp.pausedMask(port: p, now: now)))
            put32(UInt32(truncatingIfNeeded: (0..<8).reduce(0) { $0 &+ c.pfcRx[$1] }))
            put32(UInt32(truncatingIfNeeded: (0..<8).reduce(0) { $0 &+ c.pfcTx[$1] }))
            storms &+= (0..<8).reduce(0) { $0 &+ c.pfcwdStorms[$1] }
        }
        put32(UInt32(truncatingIfNeeded: storms))
        put32(UInt32(truncatingIfNeeded: dp.loadBalancing.pathChanges))
        samples &+= 1
    }

    @inline(__always) func put32(_ v: UInt32) { buffer.storeBytes(of: v.littleEndian, toByteOffset: used, as: UInt32.self); used += 4 }
    @inline(__always) func put64(_ v: UInt64) { buffer.storeBytes(of: v.littleEndian, toByteOffset: used, as: UInt64.self); used += 8 }

    /// Writes the buffered samples (housekeeping tick); those past the limit are not written
    /// and stop the recording.
    public func flush() {
        var n = used
        if writtenBytes + n > limitBytes {
            n = (limitBytes - writtenBytes) / sampleBytes * sampleBytes
            let kept = samples - UInt64((used - n) / sampleBytes)
            limitReached = true
            logLine("fabric switch: --record \(path) reached its limit of \(limitBytes >= 1 << 20 ? "\(limitBytes >> 20) MB" : "\(limitBytes) bytes") after \(kept) samples "
                + String(format: "(%.1f s)", Double(kept) * Double(interval) / 1e9) + "; recording stopped, the switch goes on (--record-limit)")
            samples = kept
        }
        FD.writeAll(fd, buffer, n)
        writtenBytes += n
        used = 0
    }

    /// At exit: the last samples, then the trailer.
    public func close(trailer: RecordTrailer) {
        flush()
        var trailer = trailer
        if limitReached { trailer.limitBytes = limitBytes }
        if let json = try? JSONEncoder().encode(trailer) {
            var tail: [UInt8] = []
            withUnsafeBytes(of: UInt32.max.littleEndian) { tail += $0 }
            withUnsafeBytes(of: UInt32(json.count).littleEndian) { tail += $0 }
            tail += Array(json)
            _ = tail.withUnsafeBytes { FD.writeAll(fd, $0.baseAddress!, $0.count) }
        }
        Glibc.close(fd)
    }
}

public struct RecordHeader: Codable, Sendable {
    public var switchName: String
    public var ports: [String]
    public var speedsGbps: [Double?]
    public var intervalMicroseconds: Int
    public var startedAtUnixSeconds: Double
}

public struct RecordTrailer: Codable, Sendable {
    public var final: SwitchReport
    /// Per port, per queue: residence-time histogram buckets, flattened [lowest us, count, ...].
    public var residence: [[[UInt64]]]
    /// Set when the file's limit (`--record-limit`) stopped the recording before the end.
    public var limitBytes: Int? = nil
    /// Per port: rx-ring wait histogram buckets, flattened as `residence` (`--ring-wait on`;
    /// absent in files from before it).
    public var ringWait: [[UInt64]]? = nil
    public init(final: SwitchReport, residence: [[[UInt64]]], ringWait: [[UInt64]]? = nil) {
        self.final = final
        self.residence = residence
        self.ringWait = ringWait
    }
}

/// A record file read back (`fabric report`).
public struct Recording: Sendable {
    public var header: RecordHeader
    public var trailer: RecordTrailer?
    /// Sample times in microseconds since the first sample.
    public var times: [Double] = []
    /// [port][queue][sample] queue depth in bytes.
    public var depths: [[[Double]]]
    /// [port][sample] transmitted bytes (cumulative).
    public var txBytes: [[Double]]
    /// [port][sample] paused-queue mask.
    public var paused: [[UInt32]]
    public var pfcRx: [[Double]]
    public var pfcTx: [[Double]]
    public var storms: [Double] = []
    public var pathChanges: [Double] = []

    public init(file: String) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: file))
        let bytes = [UInt8](data)
        guard bytes.count >= 12, Array(bytes[0..<8]) == Recorder.magic else { throw SystemError("\(file): not a SwiftFabric record (fabric switch --record)") }
        func u32(_ o: Int) -> UInt32 { UInt32(bytes[o]) | UInt32(bytes[o + 1]) << 8 | UInt32(bytes[o + 2]) << 16 | UInt32(bytes[o + 3]) << 24 }
        func u64(_ o: Int) -> UInt64 { UInt64(u32(o)) | UInt64(u32(o + 4)) << 32 }
        let hl = Int(u32(8))
        guard 12 + hl <= bytes.count else { throw SystemError("\(file): truncated header") }
        header = try JSONDecoder().decode(RecordHeader.self, from: Data(bytes[12..<(12 + hl)]))
        let ports = header.ports.count
        depths = Array(repeating: Array(repeating: [], count: 8), count: ports)
        txBytes = Array(repeating: [], count: ports)
        paused = Array(repeating: [], count: ports)
        pfcRx = Array(repeating: [], count: ports)
        pfcTx = Array(repeating: [], count: ports)
        let size = 8 + ports * (8 * 4 + 8 + 12) + 8
        var o = 12 + hl
        while o + 4 <= bytes.count {
            if u32(o) == UInt32.max, o + 8 <= bytes.count {
                let tl = Int(u32(o + 4))
                if o + 8 + tl <= bytes.count { trailer = try? JSONDecoder().decode(RecordTrailer.self, from: Data(bytes[(o + 8)..<(o + 8 + tl)])) }
                break
            }
            guard o + size <= bytes.count else { break }   // a sample cut short by a crash
            times.append(Double(u64(o)) / 1000)
            var p0 = o + 8
            for p in 0..<ports {
                for q in 0..<8 { depths[p][q].append(Double(u32(p0 + 4 * q))) }
                txBytes[p].append(Double(u64(p0 + 32)))
                paused[p].append(u32(p0 + 40))
                pfcRx[p].append(Double(u32(p0 + 44)))
                pfcTx[p].append(Double(u32(p0 + 48)))
                p0 += 52
            }
            storms.append(Double(u32(p0)))
            pathChanges.append(Double(u32(p0 + 4)))
            o += size
        }
    }
}

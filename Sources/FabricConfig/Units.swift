// The units people write in configuration files, topology files and on the command line: one
// set of rules, so `kmin: 150KB`, `--message 64KB` and `speed: 200M` mean the same everywhere.
//
// Numbers are plain decimals ("4096", "1.5", "2e3"), never negative, NaN or infinite. Units are
// case-insensitive and matched longest first, so `ms` is never read as `m`:
// - sizes:      B (or none), K/KB, M/MB, G/GB; powers of 1024; a whole number of bytes.
// - durations:  ns, us (or µs), ms, s, m (minutes). A number without a unit is allowed only
//               where the caller names its unit (`bare`): microseconds for `flowlet_idle`,
//               seconds on the command line.
// - line rates: M (Mb/s) or G (Gb/s), from 1M to 800G.
// - percentages: a number and `%`, 0% to 100% (`loss: 0.1%`).
// Ranges that depend on the setting (a watchdog's 100ms...60s) are checked by the caller.

/// A value that is not a size, duration or line rate: what was expected and what was given.
public struct UnitError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

public enum Units {
    public enum TimeUnit: UInt64, Sendable {
        case nanoseconds = 1, microseconds = 1_000, milliseconds = 1_000_000, seconds = 1_000_000_000, minutes = 60_000_000_000
    }

    /// The slowest and fastest emulated line rates, in Gb/s (1 Mb/s and 800 Gb/s).
    public static let gbpsRange: ClosedRange<Double> = 0.001...800

    /// Bytes: "4096", "150KB", "1.5MB", "64k", "1G" (K, M, G are powers of 1024).
    public static func bytes(_ text: String) throws(UnitError) -> Int {
        let expected = UnitError("expected a size like 150KB or 1.5MB, got '\(text)'")
        var t = Substring(text.lowercased())
        if t.hasSuffix("b") { t = t.dropLast() }
        let scale: Double = t.hasSuffix("k") ? 0x400 : t.hasSuffix("m") ? 0x10_0000 : t.hasSuffix("g") ? 0x4000_0000 : 1
        if scale != 1 { t = t.dropLast() }
        guard let n = number(t) else { throw expected }
        let v = n * scale
        guard v <= 1e15 else { throw UnitError("'\(text)' is too large a size") }
        guard v == v.rounded() else { throw UnitError("'\(text)' is not a whole number of bytes") }
        return Int(v)
    }

    /// A duration in nanoseconds: "500ns", "256us", "1.5ms", "2s", "2m". `bare`: the unit of
    /// a number given without one (nil: a unit is required).
    public static func nanoseconds(_ text: String, bare: TimeUnit? = nil) throws(UnitError) -> UInt64 {
        let expected = UnitError("expected a duration like 256us, 1.5ms or 2s, got '\(text)'")
        let t = text.lowercased()
        let suffixes: [(String, TimeUnit)] = [("ns", .nanoseconds), ("us", .microseconds), ("µs", .microseconds),
                                              ("ms", .milliseconds), ("s", .seconds), ("m", .minutes)]
        var unit = bare
        var digits = Substring(t)
        if let (s, u) = suffixes.first(where: { t.hasSuffix($0.0) }) {
            unit = u
            digits = t.dropLast(s.count)
        }
        guard let u = unit, let n = number(digits) else { throw expected }
        let ns = (n * Double(u.rawValue)).rounded()
        guard ns < 1e18 else { throw UnitError("'\(text)' is too long a duration") }
        return UInt64(ns)
    }

    /// A duration in seconds (command-line options): like `nanoseconds`.
    public static func seconds(_ text: String, bare: TimeUnit? = .seconds) throws(UnitError) -> Double {
        Double(try nanoseconds(text, bare: bare)) / 1e9
    }

    /// A line rate in Gb/s: "10G", "800M", "1.5G", within `gbpsRange`.
    public static func gbps(_ text: String) throws(UnitError) -> Double {
        let t = text.lowercased()
        let perGbps: Double? = t.hasSuffix("g") ? 1 : t.hasSuffix("m") ? 1000 : nil
        guard let d = perGbps, let n = number(t.dropLast()) else {
            throw UnitError("expected a line rate like 10G or 800M, got '\(text)'")
        }
        let v = n / d
        guard v >= gbpsRange.lowerBound else { throw UnitError("'\(text)' is below the slowest line rate, 1M") }
        guard v <= gbpsRange.upperBound else { throw UnitError("'\(text)' is faster than 800G") }
        return v
    }

    /// A percentage, 0...100: "0.1%", "5%" (the `%` is required: a bare 0.5 could mean either).
    public static func percent(_ text: String) throws(UnitError) -> Double {
        guard text.hasSuffix("%"), let v = number(Substring(text).dropLast()) else {
            throw UnitError("expected a percentage like 0.1% or 5%, got '\(text)'")
        }
        guard v <= 100 else { throw UnitError("'\(text)' is above 100%") }
        return v
    }

    /// A plain, finite, non-negative decimal number; nil for anything else (nan, inf, hex, "").
    static func number(_ s: Substring) -> Double? {
        guard !s.isEmpty, s.allSatisfy({ $0.isASCII && ($0.isNumber || "._eE+-".contains($0)) }),
              s.first != "-", let v = Double(s), v.isFinite else { return nil }
        return v
    }

    // MARK: - Writing (what the emitters write; each reads back to the same value)

    /// "4096", "150KB", "8MB", "1GB": the largest unit that keeps the number whole.
    public static func text(bytes: Int) -> String {
        for (unit, scale) in [("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)] where bytes != 0 && bytes % scale == 0 {
            return "\(bytes / scale)\(unit)"
        }
        return "\(bytes)"
    }

    /// "256us", "200ms", "2s", "1500ns": the largest unit that keeps the number whole.
    public static func text(nanoseconds ns: UInt64) -> String {
        for (unit, scale) in [("s", UInt64(1_000_000_000)), ("ms", 1_000_000), ("us", 1_000)] where ns != 0 && ns % scale == 0 {
            return "\(ns / scale)\(unit)"
        }
        return "\(ns)ns"
    }

    /// "0.1%", "5%": the number as Swift prints it (the shortest that reads back the same).
    public static func text(percent: Double) -> String {
        percent == percent.rounded() && percent < 1e15 ? "\(Int(percent))%" : "\(percent)%"
    }

    /// "10G", "200M", "2.5G", "0.0015G": whole megabits where the value is, else gigabits.
    public static func text(gbps: Double) -> String {
        let mbps = (gbps * 1000).rounded()
        if mbps.truncatingRemainder(dividingBy: 1000) == 0, mbps / 1000 == gbps { return "\(Int(mbps / 1000))G" }
        if mbps / 1000 == gbps, mbps < 1e15 { return "\(Int(mbps))M" }
        return "\(gbps)G"
    }
}

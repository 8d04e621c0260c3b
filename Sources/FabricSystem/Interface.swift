import CFabricShims
import Glibc

/// The hardware address of `interface` in the calling thread's network namespace, as the 48
/// low bits of the result (SIOCGIFHWADDR: /sys would show the namespace /sys was mounted in).
public func interfaceMAC(_ interface: String) throws -> UInt64 {
    var raw = [UInt8](repeating: 0, count: 6)
    let rc = sf_interface_mac(interface, &raw)
    guard rc == 0 else { throw SystemError.negative(rc, "interface \(interface): cannot read its MAC address") }
    return raw.reduce(0) { $0 << 8 | UInt64($1) }
}

/// The link speed of `interface` in Gb/s as its driver reports it (ethtool), in the calling
/// thread's network namespace; nil when it reports none or cannot be asked. A veth reports a
/// nominal 10 Gb/s, not what a test bed emulates on it.
public func interfaceSpeedGbps(_ interface: String) -> Double? {
    let mbps = sf_interface_speed_mbps(interface)
    return mbps > 0 ? Double(mbps) / 1000 : nil
}

/// The name interface `ifindex` has now in the calling thread's network namespace, or nil when
/// no interface has that index (an index names one device for its lifetime; a rename keeps it).
public func interfaceName(ifindex: Int32) -> String? {
    var buf = [CChar](repeating: 0, count: Int(IF_NAMESIZE))
    guard ifindex > 0, if_indextoname(UInt32(ifindex), &buf) != nil else { return nil }
    return String(cString: buf)
}

/// Reads interfaces' link state (admin up and carrier: IFF_UP and IFF_RUNNING) in the calling
/// thread's network namespace, through one socket kept open (a cheap ioctl per question).
public final class LinkStateReader: @unchecked Sendable {
    let fd: Int32
    /// The interfaces' names, IFNAMSIZ bytes each, NUL-terminated: read without a copy or a
    /// retain on every check (the run loop asks every 2 ms).
    let names: UnsafeMutablePointer<CChar>
    let count: Int
    static let nameSize = Int(IFNAMSIZ)
    /// The socket (for other interface ioctls of this namespace).
    public var descriptor: Int32 { fd }

    public init(interfaces: [String]) throws {
        fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SystemError("link state: socket", errno: Glibc.errno) }
        count = interfaces.count
        names = .allocate(capacity: max(1, count) * Self.nameSize)
        names.initialize(repeating: 0, count: max(1, count) * Self.nameSize)
        for (i, name) in interfaces.enumerated() { rename(i, to: name) }
    }

    deinit {
        Glibc.close(fd)
        names.deallocate()
    }

    /// Interface `i` is called `name` now (it was renamed). Longer names than the kernel's
    /// IFNAMSIZ - 1 cannot be interfaces: they are cut, and the lookups then fail (vanished).
    public func rename(_ i: Int, to name: String) {
        precondition((0..<count).contains(i), "no interface \(i)")
        let slot = names + i * Self.nameSize
        slot.update(repeating: 0, count: Self.nameSize)
        for (k, c) in name.utf8CString.prefix(Self.nameSize - 1).enumerated() { slot[k] = c }
    }

    /// Interface `i`'s MTU; nil if it cannot be read (it vanished).
    public func mtu(_ i: Int) -> Int? {
        let m = sf_interface_mtu(fd, names + i * Self.nameSize)
        return m > 0 ? Int(m) : nil
    }

    /// Interface `i` is up and has carrier; nil if it cannot be read (it vanished).
    public func isUp(_ i: Int) -> Bool? {
        let flags = sf_interface_flags(fd, names + i * Self.nameSize)
        guard flags >= 0 else { return nil }
        return flags & 0x1 != 0 && flags & 0x40 != 0   // IFF_UP, IFF_RUNNING
    }
}

/// Waits until every interface of `names` exists in the calling thread's network namespace and
/// is administratively up (IFF_UP): containerlab starts a node's container first and then moves
/// its veth ends in, renames them, sets their MTU and brings them up. Polls every 50 ms; returns
/// the seconds waited. Throws after `timeout` seconds naming what is missing or down, or when
/// `stop()` says to give up (a SIGTERM while waiting).
public func waitForInterfaces(_ names: [String], timeout: Double, stop: () -> Bool = { false }) throws -> Double {
    let start = monotonicNanoseconds()
    let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { throw SystemError("waiting for interfaces: socket", errno: Glibc.errno) }
    defer { Glibc.close(fd) }
    while true {
        var missing: [String] = [], down: [String] = []
        for n in names {
            let flags = sf_interface_flags(fd, n)
            if flags < 0 { missing.append(n) } else if flags & 0x1 == 0 { down.append(n) }
        }
        let waited = Double(monotonicNanoseconds() - start) / 1e9
        if missing.isEmpty && down.isEmpty { return waited }
        if waited >= timeout || stop() {
            var what: [String] = []
            if !missing.isEmpty { what.append("\(missing.joined(separator: ",")) not present") }
            if !down.isEmpty { what.append("\(down.joined(separator: ",")) down") }
            let tenths = Int(waited * 10)
            throw SystemError("interfaces \(names.joined(separator: ",")): after \(tenths / 10).\(tenths % 10) s, "
                              + what.joined(separator: ", ") + (stop() ? " (stopped while waiting)" : ""))
        }
        usleep(50_000)
    }
}

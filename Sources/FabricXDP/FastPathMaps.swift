// The XDP fast path's tables, as the control plane writes them.
//
// fabric_xsk (bpf/fabric_xsk.bpf.c, bpf/fabric_fastpath.h) forwards in XDP what needs no
// userspace, by tables the switch keeps in sync with its own: the MAC table, the FIB (LPM tries,
// targets, next hops), the neighbours, the ports. bpf/README.md ("The fast path") has the design;
// the key and value layouts are C structs in bpf/fabric_fastpath_types.h, imported here through
// CXDP, so what is written here is what the program reads.
//
// One set of these maps serves every port. Each port loads its own instance of the program (its
// own xsks_map); the first port's instance creates the shared maps when it loads (`init(owner:)`),
// every later one is pointed at them before it loads (`share(with:)`, libbpf's
// bpf_map__reuse_fd). Nothing is pinned: no bpffs needed, nothing left behind by a killed
// switch. This object holds its own descriptor of each map, so the maps live as long as it does,
// whichever ports come and go.
//
// Addresses are taken as the data path holds them (MAC: `MACAddress.rawValue`; IPv4: a host-order
// UInt32; IPv6: the high and low 64 bits) and stored in network order. Not for the per-packet
// path: every call is one or two bpf(2) syscalls.
import CXDP
import FabricSystem
import Glibc

public final class FastPathMaps {
    /// The maps every port's instance shares.
    public static let sharedMapNames = ["fp_config", "fp_ports", "fp_tx_ports", "fp_macs", "fp_fib4", "fp_fib6",
                                        "fp_targets", "fp_hops", "fp_neigh4", "fp_neigh6", "fp_port_stats"]
    /// The FIB value of the switch's own addresses (host routes): frames for them go to userspace.
    public static let localTarget = UInt32(FP_TARGET_LOCAL)
    public static let maxMembers = Int(FP_MAX_MEMBERS)

    /// Our own descriptor of each shared map (closed in deinit).
    private var fds: [String: Int32] = [:]
    private let config, ports, txPorts, macs, fib4, fib6, targets, hops, neigh4, neigh6, portStats: Int32

    /// The shared maps of `program`, the first port's, which creates them when it loads (it is
    /// loaded now if it was not).
    public init(owner program: XDPProgram) throws {
        try program.load()
        let obj = xdp_program__bpf_obj(program.program)
        var fds: [String: Int32] = [:]
        for name in Self.sharedMapNames {
            let fd = bpf_object__find_map_fd_by_name(obj, name)
            guard fd >= 0 else {
                for (_, d) in fds { Glibc.close(d) }
                throw SystemError("XDP object has no map \(name): an object without the fast path (rebuild: scripts/build-bpf.sh)")
            }
            let own = fcntl(fd, F_DUPFD_CLOEXEC, 0)
            guard own >= 0 else {
                let e = Glibc.errno
                for (_, d) in fds { Glibc.close(d) }
                throw SystemError("cannot keep the fast path's map \(name)", errno: e)
            }
            fds[name] = own
        }
        self.fds = fds
        config = fds["fp_config"]!
        ports = fds["fp_ports"]!
        txPorts = fds["fp_tx_ports"]!
        macs = fds["fp_macs"]!
        fib4 = fds["fp_fib4"]!
        fib6 = fds["fp_fib6"]!
        targets = fds["fp_targets"]!
        hops = fds["fp_hops"]!
        neigh4 = fds["fp_neigh4"]!
        neigh6 = fds["fp_neigh6"]!
        portStats = fds["fp_port_stats"]!
    }

    deinit {
        for (_, fd) in fds { Glibc.close(fd) }
    }

    /// Points `program`'s shared maps at these: call before it loads (before `attach`).
    public func share(with program: XDPProgram) throws {
        let obj = xdp_program__bpf_obj(program.program)
        for (name, fd) in fds {
            guard let map = bpf_object__find_map_by_name(obj, name) else {
                throw SystemError("XDP object for \(program.interface) has no map \(name) (rebuild: scripts/build-bpf.sh)")
            }
            let rc = bpf_map__reuse_fd(map, fd)
            guard rc == 0 else { throw SystemError.negative(rc, "\(program.interface): cannot share the fast path's map \(name)") }
        }
    }

    // MARK: - Writing

    public func set(_ c: FastPathConfig) throws {
        precondition(c.dscpToTrafficClass.count == 64)
        var v = fp_config()
        v.flags = (c.on ? UInt32(FP_ON.rawValue) : 0) | (c.router ? UInt32(FP_ROUTER.rawValue) : 0) | (c.stamp ? UInt32(FP_STAMP.rawValue) : 0)
        v.punt_tcs = UInt32(c.userspaceTrafficClasses)
        v.mac_aging_ns = c.macAgingNanoseconds
        withUnsafeMutableBytes(of: &v.dscp_to_tc) { b in
            for i in 0..<64 { b[i] = c.dscpToTrafficClass[i] & 7 }
        }
        var key: UInt32 = 0
        try Self.update(config, &key, &v, "fp_config")
    }

    public func set(port index: Int, _ p: FastPathPort) throws {
        var v = fp_port()
        var f: UInt32 = 0
        if p.fastPath { f |= UInt32(FP_PORT_FASTPATH.rawValue) }
        if p.linkUp { f |= UInt32(FP_PORT_LINK_UP.rawValue) }
        if p.inService { f |= UInt32(FP_PORT_IN_SERVICE.rawValue) }
        if p.trustPCP { f |= UInt32(FP_PORT_TRUST_PCP.rawValue) }
        if p.emulated { f |= UInt32(FP_PORT_EMULATED.rawValue) }
        if p.capture { f |= UInt32(FP_PORT_CAPTURE.rawValue) }
        v.flags = f
        v.max_frame = p.largestFrame
        withUnsafeMutableBytes(of: &v.mac) { Self.storeMAC(p.mac, $0) }
        var key = UInt32(index)
        try Self.update(ports, &key, &v, "fp_ports")
    }

    /// Port `index` transmits on interface `ifindex` (its DEVMAP entry).
    public func setTransmit(port index: Int, ifindex: Int32) throws {
        var key = UInt32(index), value = UInt32(ifindex)
        try Self.update(txPorts, &key, &value, "fp_tx_ports")
    }

    public func removeTransmit(port index: Int) {
        var key = UInt32(index)
        _ = bpf_map_delete_elem(txPorts, &key)
    }

    // MARK: Bridge

    /// `mac` (`MACAddress.rawValue`) is on `port`, last seen at `seen` (monotonic nanoseconds).
    public func learn(mac: UInt64, port: Int, seen: UInt64) throws {
        var key = mac, v = fp_mac()
        v.port = UInt32(port)
        v.seen_ns = seen
        try Self.update(macs, &key, &v, "fp_macs")
    }

    public func forget(mac: UInt64) {
        var key = mac
        _ = bpf_map_delete_elem(macs, &key)
    }

    /// When `mac` was last seen, as the fast path refreshes it for the sources it forwards
    /// (nil: not in the table). The bridge folds it into its own table before aging.
    public func seen(mac: UInt64) -> UInt64? {
        var key = mac, v = fp_mac()
        guard bpf_map_lookup_elem(macs, &key, &v) == 0 else { return nil }
        return v.seen_ns
    }

    // MARK: Router

    /// `prefix/length` (host order) routes to `target` (`FIB`'s target id, or `localTarget`).
    public func setRoute(v4 prefix: UInt32, length: Int, target: UInt32) throws {
        var key = fp_lpm4_key(prefixlen: UInt32(length), addr: prefix.bigEndian), value = target
        try Self.update(fib4, &key, &value, "fp_fib4")
    }

    public func removeRoute(v4 prefix: UInt32, length: Int) {
        var key = fp_lpm4_key(prefixlen: UInt32(length), addr: prefix.bigEndian)
        _ = bpf_map_delete_elem(fib4, &key)
    }

    public func setRoute(v6 high: UInt64, _ low: UInt64, length: Int, target: UInt32) throws {
        var key = fp_lpm6_key()
        key.prefixlen = UInt32(length)
        withUnsafeMutableBytes(of: &key.addr) { Self.storeIPv6(high, low, $0) }
        var value = target
        try Self.update(fib6, &key, &value, "fp_fib6")
    }

    public func removeRoute(v6 high: UInt64, _ low: UInt64, length: Int) {
        var key = fp_lpm6_key()
        key.prefixlen = UInt32(length)
        withUnsafeMutableBytes(of: &key.addr) { Self.storeIPv6(high, low, $0) }
        _ = bpf_map_delete_elem(fib6, &key)
    }

    /// Target `id`: its mode (`LoadBalancingMode.rawValue`) and next-hop ids in member order;
    /// `memberPorts[k]` is member k's egress port and `linkUp` the link state of every port, from
    /// which the live-member list (what ECMP rehashes over when a member is down) is written.
    /// Rewrite every target a port is in when its link changes, before the port's own entry.
    public func setTarget(_ id: UInt32, mode: UInt8, hops memberHops: [UInt32], memberPorts: [Int], linkUp: [Bool]) throws {
        precondition(!memberHops.isEmpty && memberHops.count <= Self.maxMembers && memberPorts.count == memberHops.count)
        var v = fp_target()
        v.mode = UInt32(mode)
        v.count = UInt32(memberHops.count)
        let live = memberPorts.indices.filter { linkUp[memberPorts[$0]] }
        v.live_count = UInt32(live.count)
        withUnsafeMutableBytes(of: &v.hops) { b in
            for (k, h) in memberHops.enumerated() { b.storeBytes(of: h, toByteOffset: 4 * k, as: UInt32.self) }
        }
        withUnsafeMutableBytes(of: &v.live) { b in
            for (k, m) in live.enumerated() { b[k] = UInt8(m) }
        }
        var key = id
        try Self.update(targets, &key, &v, "fp_targets")
    }

    /// Next hop `id`: out of `port` to the destination itself (connected).
    public func setConnectedHop(_ id: UInt32, port: Int) throws {
        var v = fp_hop()
        v.port = UInt32(port)
        v.flags = UInt32(FP_HOP_CONNECTED.rawValue)
        var key = id
        try Self.update(hops, &key, &v, "fp_hops")
    }

    /// Next hop `id`: out of `port` to an IPv4 gateway (host order).
    public func setHop(_ id: UInt32, port: Int, gateway4: UInt32) throws {
        var v = fp_hop()
        v.port = UInt32(port)
        withUnsafeMutableBytes(of: &v.gateway) { $0.storeBytes(of: gateway4.bigEndian, as: UInt32.self) }
        var key = id
        try Self.update(hops, &key, &v, "fp_hops")
    }

    /// Next hop `id`: out of `port` to an IPv6 gateway.
    public func setHop(_ id: UInt32, port: Int, gateway6 high: UInt64, _ low: UInt64) throws {
        var v = fp_hop()
        v.port = UInt32(port)
        withUnsafeMutableBytes(of: &v.gateway) { Self.storeIPv6(high, low, $0) }
        var key = id
        try Self.update(hops, &key, &v, "fp_hops")
    }

    /// A resolved IPv4 neighbour (host order): good until `expires` (monotonic ns; 0: static).
    public func setNeighbour(v4 address: UInt32, mac: UInt64, expires: UInt64) throws {
        var key = address.bigEndian, v = Self.neighbour(mac, expires)
        try Self.update(neigh4, &key, &v, "fp_neigh4")
    }

    public func setNeighbour(v6 high: UInt64, _ low: UInt64, mac: UInt64, expires: UInt64) throws {
        var key = fp_ip6()
        withUnsafeMutableBytes(of: &key.addr) { Self.storeIPv6(high, low, $0) }
        var v = Self.neighbour(mac, expires)
        try Self.update(neigh6, &key, &v, "fp_neigh6")
    }

    public func removeNeighbour(v4 address: UInt32) {
        var key = address.bigEndian
        _ = bpf_map_delete_elem(neigh4, &key)
    }

    public func removeNeighbour(v6 high: UInt64, _ low: UInt64) {
        var key = fp_ip6()
        withUnsafeMutableBytes(of: &key.addr) { Self.storeIPv6(high, low, $0) }
        _ = bpf_map_delete_elem(neigh6, &key)
    }

    /// Whether the fast path forwarded to this neighbour since the last call (the flag is
    /// cleared): what keeps `NeighbourCache`'s used flag, and so its refreshes, honest.
    public func takeUsed(v4 address: UInt32) -> Bool {
        var key = address.bigEndian
        return Self.takeUsed(neigh4, &key)
    }

    public func takeUsed(v6 high: UInt64, _ low: UInt64) -> Bool {
        var key = fp_ip6()
        withUnsafeMutableBytes(of: &key.addr) { Self.storeIPv6(high, low, $0) }
        return Self.takeUsed(neigh6, &key)
    }

    /// What the fast path forwarded in and out of `port`, summed over CPUs.
    public func stats(port: Int) -> FastPathPortStats {
        var s = FastPathPortStats()
        for v in Self.perCPU(portStats, key: UInt32(port), as: fp_port_stats.self) {
            s.rxFrames &+= v.rx_frames
            s.rxBytes &+= v.rx_bytes
            s.txFrames &+= v.tx_frames
            s.txBytes &+= v.tx_bytes
        }
        return s
    }

    // MARK: - Helpers

    static func update<K: BitwiseCopyable, V: BitwiseCopyable>(_ fd: Int32, _ key: inout K, _ value: inout V, _ name: String) throws {
        let rc = bpf_map_update_elem(fd, &key, &value, 0)
        guard rc == 0 else { throw SystemError.negative(rc, "cannot update the fast path's \(name)") }
    }

    static func takeUsed<K: BitwiseCopyable>(_ fd: Int32, _ key: inout K) -> Bool {
        var v = fp_neigh()
        guard bpf_map_lookup_elem(fd, &key, &v) == 0, v.used != 0 else { return false }
        // BPF_EXIST: a neighbour removed in between stays removed.
        v.used = 0
        _ = bpf_map_update_elem(fd, &key, &v, UInt64(BPF_EXIST))
        return true
    }

    /// The value of `key` on every possible CPU (per-CPU maps: each value rounded up to 8 bytes).
    static func perCPU<V: BitwiseCopyable>(_ fd: Int32, key: UInt32, as: V.Type) -> [V] {
        let cpus = Int(max(libbpf_num_possible_cpus(), 1))
        let stride = (MemoryLayout<V>.size + 7) & ~7
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: stride * cpus, alignment: 8)
        defer { buffer.deallocate() }
        var k = key
        guard bpf_map_lookup_elem(fd, &k, buffer) == 0 else { return [] }
        return (0..<cpus).map { buffer.loadUnaligned(fromByteOffset: $0 * stride, as: V.self) }
    }

    static func neighbour(_ mac: UInt64, _ expires: UInt64) -> fp_neigh {
        var v = fp_neigh()
        withUnsafeMutableBytes(of: &v.mac) { storeMAC(mac, $0) }
        v.expires_ns = expires
        return v
    }

    static func storeMAC(_ mac: UInt64, _ b: UnsafeMutableRawBufferPointer) {
        for i in 0..<6 { b[i] = UInt8(truncatingIfNeeded: mac >> (40 - 8 * UInt64(i))) }
    }

    static func storeIPv6(_ high: UInt64, _ low: UInt64, _ b: UnsafeMutableRawBufferPointer) {
        b.storeBytes(of: high.bigEndian, toByteOffset: 0, as: UInt64.self)
        b.storeBytes(of: low.bigEndian, toByteOffset: 8, as: UInt64.self)
    }
}

// XDP program attachment.
//
// Each switch port gets its own instance of bpf/fabric_xsk.bpf.c (so its own xsks_map: queue 0
// of two ports must not share a slot), opened through libxdp and loaded by libbpf. Nothing is
// pinned, so it works with or without bpffs.
//
// The program is attached as a bpf_link (BPF_XDP, kernel 5.9+): the link lives as long as its
// descriptor, so when the switch dies, of SIGKILL or a trap, the kernel takes the program off
// the port and frames go back to the kernel's stack instead of into a socket nobody reads.
// Where the kernel has no XDP links (or with `XDPAttachment.netlink`) the program is attached
// through netlink instead, and then outlives a crashed switch. So on start we look at what is
// attached: our own program (by name) is a stale leftover and is replaced; anything else is
// someone else's and we refuse with a message that says how to remove it.
import CXDP
import FabricSystem
import Glibc

public enum XDPMode: String, CaseIterable, Sendable {
    case auto, native, generic
}

/// How the program is held on its interface.
public enum XDPAttachment: String, CaseIterable, Sendable {
    /// A bpf_link where the kernel has XDP links, netlink where it has not.
    case auto
    /// A bpf_link only: the kernel detaches the program when the process dies.
    case link
    /// Netlink only: the program stays attached after a crash until the next start removes it.
    case netlink
}

public final class XDPProgram {
    /// The BPF function name in fabric_xsk.bpf.c; also how we recognise a stale instance.
    public static let programName = "fabric_xsk"
    /// The ELF section of SwiftFabric's XDP programs.
    public static let section = "xdp.frags"

    public let interface: String
    public let ifindex: Int32
    /// The BPF function name of this program, by which a stale copy is recognised.
    public let name: String
    public private(set) var mode: XDPMode = .auto
    let program: OpaquePointer
    public private(set) var xsksMapFD: Int32 = -1
    private(set) var statsMapFD: Int32 = -1
    /// fabric_serving (fabric_xsk only; -1 in programs without it).
    private(set) var servingMapFD: Int32 = -1
    private(set) var attached = false
    /// The link holding the program on the interface (-1: none, attached through netlink).
    private var linkFD: Int32 = -1
    /// The loaded program (libbpf owns the descriptor; -1 until loaded).
    private var programFD: Int32 = -1
    /// How the program was attached (`link` or `netlink`), after `attach`.
    public private(set) var attachment: XDPAttachment = .auto
    /// True when an earlier run's program was found attached and replaced.
    public private(set) var replacedStale = false

    /// Silences libxdp/libbpf below warnings unless `verbose`.
    public static func configureLogging(verbose: Bool) {
        Self.verbose = verbose
        sf_set_library_logging(verbose ? 2 : 1)
    }
    nonisolated(unsafe) static var verbose = false

    /// Opens and loads the object (not yet attached).
    public init(objectPath: String, interface: String, ifindex: Int32, name: String = XDPProgram.programName) throws {
        self.interface = interface
        self.ifindex = ifindex
        self.name = name
        guard access(objectPath, R_OK) == 0 else {
            throw SystemError("XDP object \(objectPath) is not readable (run scripts/build-bpf.sh)", errno: Glibc.errno)
        }
        // xdp_program__open_file returns an error pointer, not nil, on failure.
        // Section xdp.frags: multi-buffer aware (jumbo frames), as libbpf loads it with
        // BPF_F_XDP_HAS_FRAGS; libxdp is told so too.
        let prog = xdp_program__open_file(objectPath, Self.section, nil)
        let err = libxdp_get_error(UnsafeRawPointer(prog))
        guard let prog, err == 0 else {
            throw SystemError.negative(Int32(err), "cannot open XDP object \(objectPath) (section \(Self.section); rebuild it: scripts/build-bpf.sh)")
        }
        _ = xdp_program__set_xdp_frags_support(prog, true)
        // Maps are created when libxdp loads the program on attach; their fds come after.
        program = prog
    }

    /// Removes a stale SwiftFabric program from the interface; throws if a foreign one is there.
    func clearStale() throws {
        let mp = xdp_multiprog__get_from_ifindex(ifindex)
        let err = libxdp_get_error(UnsafeRawPointer(mp))
        guard let mp, err == 0 else { return }  // nothing attached (or unreadable: attach will say)
        defer { xdp_multiprog__close(mp) }
        var names: [String] = []
        if xdp_multiprog__is_legacy(mp) {
            if let main = xdp_multiprog__main_prog(mp), let n = xdp_program__name(main) { names.append(String(cString: n)) }
        } else {
            var p = xdp_multiprog__next_prog(nil, mp)
            while let prog = p {
                if let n = xdp_program__name(prog) { names.append(String(cString: n)) }
                p = xdp_multiprog__next_prog(prog, mp)
            }
        }
        if names.isEmpty { return }
        guard names.allSatisfy({ $0 == name }) else {
            throw SystemError("interface \(interface) already has XDP program(s) \(names.joined(separator: ", ")) attached; "
                + "remove with `ip link set dev \(interface) xdp off` (and xdpgeneric off) if they are not needed")
        }
        let rc = xdp_multiprog__detach(mp)
        guard rc == 0 else { throw SystemError.negative(rc, "cannot remove stale \(name) from \(interface)") }
        replacedStale = true
    }

    /// Loads the program into the kernel (once) and finds its maps.
    func load() throws {
        guard programFD < 0 else { return }
        let obj = xdp_program__bpf_obj(program)
        let rc = bpf_object__load(obj)
        guard rc == 0 else { throw SystemError.negative(rc, "cannot load the XDP program \(name) for \(interface) (--verbose shows libbpf's reasons)") }
        let fd = bpf_program__fd(bpf_object__find_program_by_name(obj, name))
        guard fd >= 0 else { throw SystemError("XDP object has no program \(name) (wrong object file?)") }
        xsksMapFD = bpf_object__find_map_fd_by_name(obj, "xsks_map")
        statsMapFD = bpf_object__find_map_fd_by_name(obj, "fabric_stats")
        servingMapFD = bpf_object__find_map_fd_by_name(obj, "fabric_serving")
        guard xsksMapFD >= 0, statsMapFD >= 0 else {
            throw SystemError("XDP object has no xsks_map/fabric_stats map (wrong object file?)")
        }
        programFD = fd
    }

    /// Attaches in the requested mode (`auto` tries native and falls back to generic), as a
    /// link or through netlink (`via`; `auto`: a link, netlink where the kernel refuses XDP
    /// links).
    public func attach(mode requested: XDPMode, via: XDPAttachment = .auto) throws {
        try clearStale()
        try load()
        let order: [XDPMode] = requested == .auto ? [.native, .generic] : [requested]
        var lastError: Int32 = 0
        for m in order {
            let native: Int32 = m == .native ? 1 : 0
            if via != .netlink {
                let fd = sf_xdp_link_create(programFD, ifindex, native)
                if fd >= 0 {
                    linkFD = fd
                    attached(m, .link)
                    return
                }
                lastError = fd
            }
            if via != .link {
                let rc = sf_xdp_netlink_attach(programFD, ifindex, native)
                if rc == 0 {
                    attached(m, .netlink)
                    return
                }
                lastError = rc
            }
        }
        throw SystemError.negative(lastError, "cannot attach XDP program to \(interface) in \(requested) mode\(via == .auto ? "" : " as a \(via.rawValue) attachment")")
    }

    private func attached(_ m: XDPMode, _ how: XDPAttachment) {
        mode = m
        attachment = how
        attached = true
    }

    /// Detaches the program; an interface that is already gone counts as detached.
    public func detach() {
        if linkFD >= 0 {
            // bpf_link_detach takes the program off now, whoever else holds the descriptor.
            if attached { _ = bpf_link_detach(linkFD) }
            Glibc.close(linkFD)
            linkFD = -1
            attached = false
            return
        }
        guard attached else { return }
        attached = false
        let rc = sf_xdp_netlink_detach(programFD, ifindex, mode == .native ? 1 : 0)
        if rc != 0 && rc != -ENODEV && interfaceName(ifindex: ifindex) != nil {
            logWarning("fabric: warning: detaching XDP from \(interface): \(String(cString: strerror(-rc)))")
        }
    }

    /// Marks the program as gone with its interface (nothing to detach).
    public func interfaceVanished() { attached = false }

    /// Frames the program redirected to the socket and passed to the kernel, summed over CPUs.
    /// Tells the program every socket the switch serves is in xsks_map: a frame on any other
    /// queue is dropped (`unserved_queue`) from now on, not passed.
    public func startServing() throws {
        guard servingMapFD >= 0 else { return }
        var key: UInt32 = 0, on: UInt32 = 1
        let rc = bpf_map_update_elem(servingMapFD, &key, &on, 0)
        guard rc == 0 else { throw SystemError.negative(rc, "\(interface): cannot update fabric_serving") }
    }

    /// Frames on any queue without a socket go to the kernel again (not dropped), and queue
    /// `queue`'s socket leaves xsks_map (a secondary worker stopping). Best effort: the
    /// program may be detached already.
    public func stopServing(queue: UInt32) {
        var key: UInt32 = 0, off: UInt32 = 0
        if servingMapFD >= 0 { _ = bpf_map_update_elem(servingMapFD, &key, &off, 0) }
        var q = queue
        if xsksMapFD >= 0 { _ = bpf_map_delete_elem(xsksMapFD, &q) }
    }

    public func counters() -> (redirected: UInt64, passed: UInt64, unserved: UInt64) {
        guard statsMapFD >= 0 else { return (0, 0, 0) }
        let cpus = Int(max(libbpf_num_possible_cpus(), 1))
        var values = [UInt64](repeating: 0, count: cpus)
        func sum(_ key: UInt32) -> UInt64 {
            var k = key
            guard bpf_map_lookup_elem(statsMapFD, &k, &values) == 0 else { return 0 }
            return values.reduce(0, &+)
        }
        return (sum(0), sum(1), sum(2))
    }

    deinit {
        detach()
        xdp_program__close(program)
    }
}

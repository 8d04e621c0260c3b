// The AF_XDP backend's kernel objects (XDP programs, port locks, sockets, UMEM), released in
// order, and what a secondary worker's backend borrows of the primary's.
import CXDP
import FabricSystem
import FabricXDP

/// Kernel objects the backend holds, released in order: XDP programs, sockets, UMEM, memory.
/// Idempotent, and run from deinit too, so a failed setup leaves nothing behind.
final class XSKResources {
    /// The XDP programs this backend attached (a secondary worker's: none).
    var programs: [XDPProgram] = []
    /// The programs whose xsks_map this backend's sockets go into: its own, or the primary
    /// worker's (`XSKShare`).
    var mapPrograms: [XDPProgram] = []
    var locks: [PortLock] = []
    /// The fast path's shared maps (`--fastpath on`; the primary's only).
    var fastPath: FastPathMaps?
    let rings: UnsafeMutablePointer<XSKRings>
    let portCount: Int
    /// Declared last: released after the sockets that use it.
    var umem: UMEM?

    init(portCount: Int) {
        self.portCount = portCount
        rings = .allocate(capacity: portCount)
        for p in 0..<portCount { (rings + p).initialize(to: XSKRings()) }
    }

    func detachPrograms() {
        for prog in programs { prog.detach() }
    }

    func closeSockets() {
        for p in 0..<portCount { rings[p].closeSocket() }
        umem?.close()
    }

    deinit {
        detachPrograms()
        closeSockets()
        programs.removeAll()
        locks.removeAll()
        for p in 0..<portCount { rings[p].deallocate() }
        rings.deallocate()
    }
}

/// What a secondary worker's backend (`--workers N`, queue N-1...1) takes from the primary's:
/// the ports' XDP programs, attached once, whose xsks_map gets every worker's socket at its
/// queue's slot.
public struct XSKShare {
    let resources: XSKResources
}

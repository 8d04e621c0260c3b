import FabricPacket
import Synchronization

/// What the workers of one switch (`fabric switch --workers N`) share. Each worker owns a whole
/// data path (tables, queues, buffers, counters) and forwards the flows of its rx queue; what
/// one worker learns or receives for the whole port reaches the others here, off the
/// per-packet path:
///
/// - learned MAC addresses and resolved neighbours: each worker sends the entries it learned
///   or refreshed since its last export (every `exportInterval`), and the others learn them, so
///   a flow's reply, which may arrive on another queue, is not flooded and finds its next hop;
/// - PFC frames received: the worker that got one hands it to the others, so every worker's
///   egress queues of that port pause (a pause is the port's, not the queue's);
/// - XON: a priority's sender may resume only when no worker holds it in XOFF. Each worker
///   accounts its own frames against the full thresholds (the ingress buffer is per worker:
///   each has the headroom of the port), sets its bit of (port, priority) with an XOFF and
///   clears it at its XON, which goes out only if no other bit is set; the last worker to let
///   go sends it.
///
/// Messages go through single-producer single-consumer rings, one per (sender, receiver); a
/// full ring drops the message (counted in `dropped`): an address is sent again at the next
/// export it is refreshed in, and a lost PFC frame is refreshed by its sender.
public final class WorkerLinks: @unchecked Sendable {
    public let workers: Int
    let ports: Int
    let rings: [MessageRing]
    /// Per (port, priority): bit w set while worker w holds the priority in XOFF.
    let xoff: UnsafeMutablePointer<Atomic<UInt64>>
    /// Messages lost to a full ring.
    public let dropped = Atomic<UInt64>(0)
    /// How often a worker sends what it learned.
    public static let exportInterval: UInt64 = 10_000_000

    public init(workers: Int, ports: Int, ringCapacity: Int = 4096) {
        precondition((1...64).contains(workers))
        self.workers = workers
        self.ports = ports
        rings = (0..<(workers * workers)).map { _ in MessageRing(capacity: ringCapacity) }
        xoff = .allocate(capacity: ports * 8)
        for i in 0..<(ports * 8) { (xoff + i).initialize(to: Atomic<UInt64>(0)) }
    }

    deinit {
        xoff.deinitialize(count: ports * 8)
        xoff.deallocate()
    }

    func ring(from: Int, to: Int) -> MessageRing { rings[from * workers + to] }

    /// Sends `m` from worker `from` to every other worker.
    func broadcast(_ m: WorkerMessage, from: Int) {
        for to in 0..<workers where to != from && !ring(from: from, to: to).push(m) {
            dropped.add(1, ordering: .relaxed)
        }
    }

    /// Worker `w` holds (or lets go of) `priorities` of `port` in XOFF. Returns the priorities
    /// whose XON may go out: those no other worker holds.
    func setXoff(port: Int, priorities: UInt8, worker w: Int, on: Bool) -> UInt8 {
        var free: UInt8 = 0
        for p in 0..<8 where priorities & (1 << UInt8(p)) != 0 {
            let cell = xoff + (port * 8 + p)
            if on {
                cell.pointee.bitwiseOr(1 << UInt64(w), ordering: .acquiringAndReleasing)
            } else {
                let left = cell.pointee.bitwiseAnd(~(1 << UInt64(w)), ordering: .acquiringAndReleasing).newValue
                if left == 0 { free |= 1 << UInt8(p) }
            }
        }
        return free
    }
}

/// One message between workers.
struct WorkerMessage {
    enum Kind: UInt8 { case mac, neighbour4, neighbour6, pfc }
    var kind: Kind
    var port: UInt16
    /// mac: the address; neighbour: the MAC; pfc: the frame's length.
    var a: UInt64
    /// neighbour4: the IPv4 address; neighbour6: its high half.
    var b: UInt64
    /// neighbour6: the low half.
    var c: UInt64
    /// When it was seen or confirmed.
    var stamp: UInt64
    /// pfc: the frame (at most 64 bytes).
    var frame: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)

    init(_ kind: Kind, port: Int, a: UInt64 = 0, b: UInt64 = 0, c: UInt64 = 0, stamp: UInt64 = 0) {
        self.kind = kind
        self.port = UInt16(truncatingIfNeeded: port)
        self.a = a
        self.b = b
        self.c = c
        self.stamp = stamp
        frame = (0, 0, 0, 0, 0, 0, 0, 0)
    }
}

/// A single-producer single-consumer ring of messages.
final class MessageRing: @unchecked Sendable {
    let capacity: Int
    let slots: UnsafeMutablePointer<WorkerMessage>
    let head = Atomic<Int>(0)   // next to read (consumer)
    let tail = Atomic<Int>(0)   // next to write (producer)

    init(capacity: Int) {
        self.capacity = capacity
        slots = .allocate(capacity: capacity)
    }

    deinit { slots.deallocate() }

    func push(_ m: WorkerMessage) -> Bool {
        let t = tail.load(ordering: .relaxed)
        guard t &- head.load(ordering: .acquiring) < capacity else { return false }
        (slots + t % capacity).initialize(to: m)
        tail.store(t &+ 1, ordering: .releasing)
        return true
    }

    func pop() -> WorkerMessage? {
        let h = head.load(ordering: .relaxed)
        guard h != tail.load(ordering: .acquiring) else { return nil }
        let m = (slots + h % capacity).move()
        head.store(h &+ 1, ordering: .releasing)
        return m
    }
}

// MARK: - What a data path sends and takes

extension MACTable {
    /// Every entry seen after `t`: address, port, when.
    func forEach(seenAfter t: UInt64, _ body: (UInt64, Int, UInt64) -> Void) {
        for i in 0..<capacity where keys[i] != 0 && seen[i] > t { body(keys[i], Int(ports[i]), seen[i]) }
    }
}

extension NeighbourCache {
    /// Every learned (not static) resolved entry confirmed after `t`.
    func forEachResolved(after t: UInt64, _ body: (Key, UInt64, Int, UInt64) -> Void) {
        for i in 0..<capacity where keys[i] != Key.unused && macs[i] != 0 && flags[i] & Self.isStatic == 0 && stamps[i] > t {
            body(keys[i], macs[i], Int(ports[i]), stamps[i])
        }
    }
}

extension Datapath {
    /// Joins this data path to the other workers' (`index` is its worker number).
    public mutating func join(_ links: WorkerLinks, as index: Int) {
        self.links = links
        workerIndex = index
    }

    /// The workers' duties on a clock (from `tick`): take what the others sent; every
    /// `WorkerLinks.exportInterval`, send what this one learned since the last time.
    mutating func exchangeWithWorkers(now: UInt64) {
        guard let links else { return }
        for from in 0..<links.workers where from != workerIndex {
            let ring = links.ring(from: from, to: workerIndex)
            while let m = ring.pop() { take(m, now: now) }
        }
        guard now &- lastExport >= WorkerLinks.exportInterval else { return }
        let since = lastExport
        lastExport = now
        let me = workerIndex
        if mode == .bridge {
            bridge.table.forEach(seenAfter: since) { mac, port, seen in
                links.broadcast(WorkerMessage(.mac, port: port, a: mac, stamp: seen), from: me)
            }
        } else {
            router.neighbours.v4.forEachResolved(after: since) { ip, mac, port, stamp in
                links.broadcast(WorkerMessage(.neighbour4, port: port, a: mac, b: UInt64(ip), stamp: stamp), from: me)
            }
            router.neighbours.v6.forEachResolved(after: since) { ip, mac, port, stamp in
                links.broadcast(WorkerMessage(.neighbour6, port: port, a: mac, b: ip.high, c: ip.low, stamp: stamp), from: me)
            }
        }
    }

    mutating func take(_ m: WorkerMessage, now: UInt64) {
        let port = Int(m.port)
        guard port < portCount else { return }
        switch m.kind {
        case .mac:
            bridge.table.learn(MACAddress(rawValue: m.a), port: port, now: m.stamp)
        case .neighbour4:
            if router.neighbours.learn(UInt32(truncatingIfNeeded: m.b), mac: MACAddress(rawValue: m.a), port: port, now: m.stamp) {
                releaseResolved(now: now)
            }
        case .neighbour6:
            if router.neighbours.learn(IPv6Address(high: m.b, low: m.c), mac: MACAddress(rawValue: m.a), port: port, now: m.stamp) {
                releaseResolved(now: now)
            }
        case .pfc:
            // Another worker received (and counted) it: pause this worker's queues too,
            // counted nowhere.
            var frame = m.frame
            var scratch = PortCounters()
            withUnsafeBytes(of: &frame) { bytes in
                pfcReceiver.receive(UnsafeMutableRawPointer(mutating: bytes.baseAddress!), length: Int(m.a), port: port,
                                    pause: &egress[port].pause, counters: &scratch, now: now)
            }
        }
    }

    /// A PFC frame received on `port` (the consume path): the other workers pause too.
    mutating func shareReceivedPFC(_ frame: UnsafeRawPointer, length: Int, port: Int) {
        guard let links, length <= 64 else { return }
        var m = WorkerMessage(.pfc, port: port, a: UInt64(length))
        withUnsafeMutableBytes(of: &m.frame) { $0.baseAddress!.copyMemory(from: frame, byteCount: length) }
        links.broadcast(m, from: workerIndex)
    }

    /// The priorities of an XON this worker wants to send on `port` that may go out (no other
    /// worker holds them in XOFF); an XOFF is recorded and goes out whole.
    mutating func shareXoff(port: Int, priorities: UInt8, quanta: UInt16) -> UInt8 {
        guard let links else { return priorities }
        let free = links.setXoff(port: port, priorities: priorities, worker: workerIndex, on: quanta > 0)
        return quanta > 0 ? priorities : free
    }
}

import FabricPacket

/// Routed frames waiting for their next hop's MAC (ARP or neighbour discovery in flight): a
/// small bounded array, scanned only on neighbour events and housekeeping ticks. One egress
/// port may hold at most half of it, so frames to a port under an address scan cannot crowd
/// out those to the others. Frames leave
/// in arrival order, in the class they arrived in and charged as they were (`queue`, `tag`):
/// as if they had not waited.
///
/// Taking entries out (`takeResolved`, `takeExpired`, `takePort`) moves them into a
/// preallocated `taken` list the caller then walks: no allocation, and the caller may enqueue
/// while it walks (the queue itself is no longer being changed).
public struct PendingQueue: ~Copyable {
    public struct Entry {
        public var addr: UInt64
        public var len: UInt32
        public var port: UInt16
        public var queue: UInt8
        public var tag: ChargeTag
        public var nextHop: IPAddress
        public var since: UInt64
        /// Filled in by `takeResolved`: the next hop's MAC.
        public var mac: MACAddress = MACAddress(rawValue: 0)
    }

    /// Frames the router parks at most (the data path's pending queue).
    public static let defaultCapacity = 256
    public let capacity: Int
    public let timeout: UInt64
    /// The most frames one egress port may have waiting.
    public let perPort: Int
    @usableFromInline let entries: UnsafeMutablePointer<Entry>
    let portCounts: UnsafeMutablePointer<Int>
    let portCount: Int
    public private(set) var count = 0
    /// What the last `take...` took out, in arrival order.
    public let taken: UnsafeMutablePointer<Entry>

    public init(capacity: Int = PendingQueue.defaultCapacity, timeout: UInt64 = 1_000_000_000, portCount: Int = 1) {
        self.capacity = capacity
        self.timeout = timeout
        self.portCount = max(1, portCount)
        perPort = portCount > 1 ? max(1, capacity / 2) : capacity
        entries = .allocate(capacity: capacity)
        taken = .allocate(capacity: capacity)
        portCounts = .filled(with: 0, count: self.portCount)
    }

    deinit {
        entries.deinitialize(count: count)
        entries.deallocate()
        taken.deallocate()
        portCounts.deallocate()
    }

    /// Parks a frame; false when full, or when its port has its share waiting.
    public mutating func add(addr: UInt64, len: UInt32, port: Int, queue: Int, tag: ChargeTag, nextHop: IPAddress, now: UInt64) -> Bool {
        guard count < capacity, portCounts[port] < perPort else { return false }
        (entries + count).initialize(to: Entry(addr: addr, len: len, port: UInt16(truncatingIfNeeded: port), queue: UInt8(queue & 7),
                                               tag: tag, nextHop: nextHop, since: now))
        count += 1
        portCounts[port] += 1
        return true
    }

    /// Frames waiting to leave through `port`.
    public func waiting(port: Int) -> Int { portCounts[port] }

    /// Moves out every entry for which `take` is true (into `taken`, with `take`'s MAC);
    /// keeps the rest in order. Returns how many were taken.
    mutating func take(where take: (_ entry: Entry) -> MACAddress?) -> Int {
        var kept = 0, out = 0
        for i in 0..<count {
            let e = (entries + i).move()
            if let mac = take(e) {
                var t = e
                t.mac = mac
                (taken + out).initialize(to: t)
                out += 1
                portCounts[Int(e.port)] -= 1
            } else {
                (entries + kept).initialize(to: e)
                kept += 1
            }
        }
        count = kept
        return out
    }

    /// Takes out the frames whose next hop `neighbours` now knows, with its MAC.
    public mutating func takeResolved(neighbours: borrowing NeighbourTable, now: UInt64) -> Int {
        guard count > 0 else { return 0 }
        return take { e in
            switch e.nextHop {
            case .v4(let a): neighbours.lookup(a, now: now)
            case .v6(let a): neighbours.lookup(a, now: now)
            }
        }
    }

    /// Takes out the frames that waited `timeout` or longer at `now`.
    public mutating func takeExpired(now: UInt64) -> Int {
        guard count > 0 else { return 0 }
        let timeout = timeout
        return take { e in now &- e.since >= timeout ? MACAddress(rawValue: 0) : nil }
    }

    /// Takes out the frames waiting to leave through `port`.
    public mutating func takePort(_ port: Int) -> Int {
        take { e in Int(e.port) == port ? MACAddress(rawValue: 0) : nil }
    }
}

import FabricPacket

/// A batch of frames received on one port, as struct-of-arrays preallocated once. Stages
/// read `addr`/`len` and write `verdict`; nothing here allocates after `init`.
public struct Batch: ~Copyable {
    public let capacity: Int
    public let addr: UnsafeMutablePointer<UInt64>
    public let len: UnsafeMutablePointer<UInt32>
    public let verdict: UnsafeMutablePointer<Verdict>
    /// Traffic class chosen by classification (0 for frames the switch answers or consumes
    /// itself, and for frames it cannot classify).
    public let tc: UnsafeMutablePointer<UInt8>
    /// Where the IP header starts and its version (0: not IP, or not to be marked), for ECN.
    public let l3Offset: UnsafeMutablePointer<UInt16>
    public let ipVersion: UnsafeMutablePointer<UInt8>
    /// For `.hold`: the egress port and the next hop to resolve (ARP or neighbour discovery).
    public let holdPort: UnsafeMutablePointer<UInt16>
    public let holdNextHop: UnsafeMutablePointer<IPAddress>
    /// Each frame's parse, for a stage that parses the whole batch before it acts on any
    /// frame (the router: its lookups are prefetched between the two). Scratch: valid only
    /// inside that stage.
    public let packet: UnsafeMutablePointer<PacketInfo>
    /// Each IPv4 frame's destination address, read once by the router's parse stage so the
    /// later stages need not touch the frame again for it. Scratch, as `packet`.
    public let ipv4Destination: UnsafeMutablePointer<UInt32>
    public let ipv4Source: UnsafeMutablePointer<UInt32>
    /// The router's LPM answer for each IPv4 frame (`noTarget`: no route) and, for a target of
    /// more than one member, the frame's flow hash: computed for the whole batch before the
    /// stage that acts on each frame. Scratch, as `packet`.
    public let ipv4Target: UnsafeMutablePointer<UInt32>
    /// The target's packed word (`FIB.Target`), read by the same stage, so the stage that acts
    /// on the frame starts from it and not from the end of the lookup's chain of loads.
    public let ipv4TargetInfo: UnsafeMutablePointer<UInt64>
    public let flowHash: UnsafeMutablePointer<UInt32>
    @inlinable public static var noTarget: UInt32 { .max }
    /// Frames in the batch.
    public var count = 0
    /// Index of the port every frame of this batch arrived on.
    public var ingress = 0
    /// Monotonic nanoseconds when the batch was received.
    public var timestamp: UInt64 = 0
    /// Per frame: nanoseconds from its XDP stamp (the port's XDP program saw it) to `timestamp`,
    /// the time it waited in the socket's rx ring; 0 when the backend gives no stamp. Written by
    /// the receive step; the pipeline only carries it to the egress queue.
    public let ringWait: UnsafeMutablePointer<UInt32>

    public init(capacity: Int) {
        self.capacity = capacity
        addr = .allocate(capacity: capacity)
        len = .allocate(capacity: capacity)
        verdict = .allocate(capacity: capacity)
        tc = .filled(with: 0, count: capacity)
        l3Offset = .filled(with: 0, count: capacity)
        ipVersion = .filled(with: 0, count: capacity)
        holdPort = .filled(with: 0, count: capacity)
        holdNextHop = .filled(with: .v4(0), count: capacity)
        packet = .filled(with: PacketInfo(), count: capacity)
        ipv4Destination = .filled(with: 0, count: capacity)
        ipv4Source = .filled(with: 0, count: capacity)
        ipv4Target = .filled(with: Self.noTarget, count: capacity)
        ipv4TargetInfo = .filled(with: 0, count: capacity)
        flowHash = .filled(with: 0, count: capacity)
        ringWait = .filled(with: 0, count: capacity)
    }

    deinit {
        addr.deallocate()
        len.deallocate()
        verdict.deallocate()
        tc.deallocate()
        l3Offset.deallocate()
        ipVersion.deallocate()
        holdPort.deallocate()
        holdNextHop.deinitialize(count: capacity)
        holdNextHop.deallocate()
        packet.deallocate()
        ipv4Destination.deallocate()
        ipv4Source.deallocate()
        ipv4Target.deallocate()
        ipv4TargetInfo.deallocate()
        flowHash.deallocate()
        ringWait.deallocate()
    }

    /// Appends a frame (test and receive helper). Returns false when full.
    @inlinable public mutating func append(addr a: UInt64, len l: UInt32) -> Bool {
        guard count < capacity else { return false }
        addr[count] = a
        len[count] = l
        verdict[count] = .flood
        count += 1
        return true
    }
}

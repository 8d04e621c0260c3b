// The RoCEv2 receiver: RoCEv2 data comes in through an AF_XDP socket that bpf/roce_rx steers
// it into (or through the AF_PACKET socket, which also gets CNPs and everything the program
// passes); `TrafficMeter` measures each frame.
import FabricPacket
import FabricSystem
import FabricXDP

/// Receives RoCEv2 traffic on one host and measures it.
public struct RoCEReceiver {
    public let interface: String
    /// Sends CNPs, and receives everything when AF_XDP is not in use.
    let socket: PacketSocket
    /// RoCEv2 data arrives here when available (bpf/roce_rx steers it), else on `socket`.
    let xsk: XSKReceiver?
    public let fallbackReason: String?

    /// Frames up to this size are read from the AF_PACKET socket whole.
    static let bufferBytes = 16384
    /// How long one wait for frames lasts: the deadline and the idle time are checked between.
    static let pollMilliseconds: Int32 = 50

    /// How the receiver answers as an RC responder.
    public let reliability: ReliabilityParameters

    /// `bpfObject`: the compiled bpf/roce_rx; nil to use AF_PACKET only.
    public init(interface: String, bpfObject: String? = nil, reliability: ReliabilityParameters = ReliabilityParameters()) throws {
        try reliability.validate()
        self.reliability = reliability
        self.interface = interface
        socket = try PacketSocket(interface: interface)
        socket.claimRoCEPort()
        if let obj = bpfObject {
            do {
                xsk = try XSKReceiver(interface: interface, bpfObject: obj)
                fallbackReason = nil
            } catch {
                xsk = nil
                fallbackReason = "\(error)"
            }
        } else {
            xsk = nil
            fallbackReason = nil
        }
    }

    public var backend: TrafficBackend { xsk == nil ? .afpacket : .afxdp }

    /// Receives until `seconds` have passed, or `idle` seconds without a RoCE packet once
    /// traffic has started. `ready` runs once the socket is open.
    /// `delivered` hears the messages delivered in order so far after every batch (a
    /// collective rank's dependency); `stop` ends the run early when it returns true.
    public func run(seconds: Double, idle: Double = 1.0, ready: () -> Void = {}, delivered: ((UInt64) -> Void)? = nil,
                    stop: () -> Bool = { false }) -> ReceiverReport {
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: Self.bufferBytes, alignment: 64)
        defer { buffer.deallocate() }
        var meter = TrafficMeter(port: socket, sourceMAC: socket.mac, reliability: reliability)
        ready()
        let end = monotonicNanoseconds() + UInt64(seconds * 1e9)
        while !stopRequested.load(ordering: .relaxed) {
            let now = monotonicNanoseconds()
            if now >= end { break }
            if meter.flows.lastArrival > 0 && now - meter.flows.lastArrival > UInt64(idle * 1e9) { break }
            if stop() { break }
            // An ACK waiting for its coalescing timer: wake within 1 ms (poll's resolution) to
            // send it. Not a spin: on 2 shared cores a spinning receiver starves the senders
            // and the switch (most ACKs go at once anyway: every 16 packets and on AckReq).
            let wait = meter.responder.pending > 0 ? 1 : Self.pollMilliseconds
            if let x = xsk {
                _ = x.receive(timeoutMilliseconds: wait) { frame, n in meter.measure(frame, length: n, at: monotonicNanoseconds()) }
                // CNPs and anything the program passed still come to the AF_PACKET socket.
                while case let n = socket.receive(into: buffer, capacity: Self.bufferBytes, timeoutMilliseconds: 0), n > 0 {
                    meter.measure(buffer, length: n, at: monotonicNanoseconds())
                }
            } else {
                let n = socket.receive(into: buffer, capacity: Self.bufferBytes, timeoutMilliseconds: wait)
                if n > 0 { meter.measure(buffer, length: n, at: monotonicNanoseconds()) }
            }
            meter.flushAcknowledgements(at: monotonicNanoseconds())
            delivered?(meter.responder.messagesCompleted)
        }
        var report = meter.report { source in
            switch source {
            case .ipv4(let address): formatIPv4(address)
            case .ipv6(let address): address.description
            }
        }
        report.hostDrops = socket.drops() + (xsk?.drops() ?? 0)
        report.backend = backend.rawValue
        return report
    }
}

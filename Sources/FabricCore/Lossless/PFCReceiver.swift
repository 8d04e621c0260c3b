import FabricPacket

/// 802.1Qbb on the receive side: a PFC frame that arrives on a port pauses (or resumes) that
/// port's egress queues of the priorities it names and the port has PFC enabled for, for the
/// time it asks; a classic PAUSE (802.3x) is counted, not honoured (the fabric runs PFC).
///
/// Only a frame to the reserved MAC Control address 01:80:C2:00:00:01 is honoured (802.1Qbb
/// 36.1.3.2; 802.3 Annex 31B): one to a unicast or broadcast address is counted and ignored,
/// so one host cannot pause the switch on behalf of another. Either way the frame is used up.
public struct PFCReceiver: ~Copyable {
    /// The destination address of PAUSE and PFC frames.
    public static let destination = MACAddress(rawValue: 0x0180_C200_0001)
    /// Priority (= traffic class) -> the egress queue it pauses.
    @usableFromInline let priorityToQueue: UnsafeMutablePointer<UInt8>
    /// Per port: bit n set when PFC for priority n is honoured there.
    @usableFromInline let enabled: UnsafeMutablePointer<UInt8>

    /// `tcToQueue`: the QoS map from traffic class (PFC priority n = TC n) to egress queue;
    /// `enabled`: per port, the priorities whose PFC it honours.
    public init(tcToQueue: [UInt8], enabled: [UInt8] = [0xFF]) {
        precondition(tcToQueue.count == 8 && !enabled.isEmpty)
        priorityToQueue = .allocate(capacity: 8)
        priorityToQueue.initialize(from: tcToQueue.map { $0 & 7 }, count: 8)
        self.enabled = .allocate(capacity: enabled.count)
        self.enabled.initialize(from: enabled, count: enabled.count)
    }

    deinit {
        priorityToQueue.deallocate()
        enabled.deallocate()
    }

    /// New maps from now on (a live change): the queue each priority pauses, the priorities
    /// each port honours. Pauses running now keep their queues until they end.
    public func update(tcToQueue: [UInt8], enabled e: [UInt8]) {
        for i in 0..<8 { priorityToQueue[i] = tcToQueue[i] & 7 }
        for (p, v) in e.enumerated() { enabled[p] = v }
    }

    /// The egress queue PFC priority `priority` pauses.
    @inlinable public func queue(priority: Int) -> Int { Int(priorityToQueue[priority & 7]) }

    /// The priorities whose PFC `port` honours.
    @inlinable public func enabled(port: Int) -> UInt8 { enabled[port] }

    /// A MAC Control frame of `length` bytes at `frame` arrived on `port`, whose pause state is
    /// `pause` and counters `counters`. Anything not PFC or PAUSE is ignored.
    public func receive(_ frame: UnsafeRawPointer, length: Int, port: Int = 0, pause: inout PauseState, counters: inout PortCounters, now: UInt64) {
        let info = FrameParser.parse(frame, length: length)
        guard info.kind == .pfc || info.kind == .pause else { return }
        // The parser found at least an Ethernet header, so the destination is there to read.
        guard EthernetView.loadMAC(frame) == Self.destination.rawValue else {
            counters.pfcIgnoredDestination &+= 1
            return
        }
        if info.kind == .pause { counters.pauseRx &+= 1; return }
        guard let mc = MACControlView(frame + Int(info.l3Offset), available: length - Int(info.l3Offset)) else { return }
        let vector = mc.classEnableVector, honoured = enabled[port]
        for priority in 0..<8 where vector & (1 << UInt8(priority)) != 0 {
            guard honoured & (1 << UInt8(priority)) != 0 else {
                counters.pfcIgnoredPriority[priority] &+= 1
                continue
            }
            counters.pfcRx[priority] &+= 1
            if pause.pause(queue: queue(priority: priority), quanta: mc.pauseTime(priority: priority), now: now) {
                counters.pfcXonTransitions[priority] &+= 1
            }
        }
    }
}

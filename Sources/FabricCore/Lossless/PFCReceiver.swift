import FabricPacket

/// 802.1Qbb on the receive side: a PFC frame that arrives on a port pauses (or resumes) that
/// port's egress queues of the enabled priorities, for the time it asks; a classic PAUSE
/// (802.3x) is counted, not honoured (the fabric runs PFC).
public struct PFCReceiver: ~Copyable {
    /// Priority (= traffic class) -> the egress queue it pauses.
    @usableFromInline let priorityToQueue: UnsafeMutablePointer<UInt8>

    /// `tcToQueue`: the QoS map from traffic class (PFC priority n = TC n) to egress queue.
    public init(tcToQueue: [UInt8]) {
        precondition(tcToQueue.count == 8)
        priorityToQueue = .allocate(capacity: 8)
        priorityToQueue.initialize(from: tcToQueue.map { $0 & 7 }, count: 8)
    }

    deinit { priorityToQueue.deallocate() }

    /// The egress queue PFC priority `priority` pauses.
    @inlinable public func queue(priority: Int) -> Int { Int(priorityToQueue[priority & 7]) }

    /// A MAC Control frame of `length` bytes at `frame` arrived on a port whose pause state is
    /// `pause` and counters `counters`. Anything not PFC or PAUSE is ignored.
    public func receive(_ frame: UnsafeRawPointer, length: Int, pause: inout PauseState, counters: inout PortCounters, now: UInt64) {
        let info = FrameParser.parse(frame, length: length)
        if info.kind == .pause { counters.pauseRx &+= 1; return }
        guard info.kind == .pfc, let mc = MACControlView(frame + Int(info.l3Offset), available: length - Int(info.l3Offset)) else { return }
        let vector = mc.classEnableVector
        for priority in 0..<8 where vector & (1 << UInt8(priority)) != 0 {
            counters.pfcRx[priority] &+= 1
            if pause.pause(queue: queue(priority: priority), quanta: mc.pauseTime(priority: priority), now: now) {
                counters.pfcXonTransitions[priority] &+= 1
            }
        }
    }
}

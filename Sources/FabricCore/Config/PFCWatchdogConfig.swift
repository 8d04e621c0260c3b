/// The PFC watchdog (SONiC's pfcwd): a queue kept paused for `detection` while it holds
/// frames is declared stormed (a peer stuck sending XOFF, a deadlock); the action then applies
/// until no PFC frame for it has arrived for `restoration`.
public struct PFCWatchdogConfig: Sendable, Equatable {
    public enum Action: String, Sendable, CaseIterable {
        /// Discard the queue's frames and new arrivals, ignore its pauses.
        case drop
        /// Ignore its pauses: transmit as if no PFC arrived.
        case forward
        /// Count only.
        case alert
    }
    public var enabled = true
    public var action: Action = .drop
    public var detectionNanoseconds: UInt64 = 200_000_000
    public var restorationNanoseconds: UInt64 = 200_000_000
    public init() {}
}

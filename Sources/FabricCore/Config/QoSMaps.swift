/// Which header field a port trusts to pick a packet's traffic class.
public enum TrustMode: String, Sendable, CaseIterable {
    case dscp, pcp
}

/// The QoS maps of a switch: DSCP or PCP to traffic class (TC), TC to priority group (PG, the
/// unit of ingress buffer accounting and PFC) and TC to egress queue, and which TCs are
/// lossless. Names and shapes follow SONiC's DSCP_TO_TC_MAP, DOT1P_TO_TC_MAP,
/// TC_TO_PRIORITY_GROUP_MAP and TC_TO_QUEUE_MAP.
public struct QoSMaps: Sendable, Equatable {
    public var profile: String
    public var dscpToTC: [UInt8]            // 64 entries
    public var pcpToTC: [UInt8]             // 8 entries
    public var tcToPriorityGroup: [UInt8]   // 8 entries
    public var tcToQueue: [UInt8]           // 8 entries
    /// Bit n set: TC n is lossless (PFC on priority n).
    public var losslessTCs: UInt8
    /// Bit n set: egress queue n is served by strict priority (default: queue 6, CNPs).
    public var strictQueues: UInt8 = 1 << 6
    /// ETS weights of the other queues for deficit round robin (default: equal).
    public var etsWeights: [Int] = Array(repeating: 1, count: 8)

    public static let profileNames = ["nvidia-roce", "sonic-azure"]

    /// NVIDIA/Cumulus RoCE profile (DESIGN.md): DSCP 26 -> TC3 lossless (PFC priority 3),
    /// DSCP 48 (CNP) -> TC6 strict priority, everything else -> TC0 lossy.
    public static let nvidiaRoCE: QoSMaps = {
        var dscp = [UInt8](repeating: 0, count: 64)
        dscp[26] = 3
        dscp[48] = 6
        return QoSMaps(profile: "nvidia-roce", dscpToTC: dscp, pcpToTC: Array(0...7),
                       tcToPriorityGroup: [0, 0, 0, 3, 0, 0, 6, 0], tcToQueue: Array(0...7), losslessTCs: 1 << 3)
    }()

    /// SONiC's Azure template, simplified: DSCP 3 and 4 -> lossless TC3 and TC4, DSCP 8 -> TC0,
    /// DSCP 46 -> TC5, DSCP 48 -> TC6, all others (DSCP 26 included) -> lossy TC1.
    public static let sonicAzure: QoSMaps = {
        var dscp = [UInt8](repeating: 1, count: 64)
        dscp[3] = 3
        dscp[4] = 4
        dscp[8] = 0
        dscp[46] = 5
        dscp[48] = 6
        return QoSMaps(profile: "sonic-azure", dscpToTC: dscp, pcpToTC: Array(0...7),
                       tcToPriorityGroup: [0, 0, 0, 3, 4, 0, 0, 0], tcToQueue: Array(0...7), losslessTCs: 1 << 3 | 1 << 4)
    }()

    public static func named(_ name: String) -> QoSMaps? {
        switch name {
        case "nvidia-roce": .nvidiaRoCE
        case "sonic-azure": .sonicAzure
        default: nil
        }
    }
}

import FabricCore
import FabricPacket
import FabricTestSupport
@testable import FabricIO

/// A bridge over the scripted-kernel backend (`EmbeddedBackend`): ports e0, e1, ... with
/// switch MACs 02:5f:00:00:ee:0N, batches of 16, 256-frame queues. What every run-loop test
/// starts from.
func embeddedSwitch(ports: Int = 3, ringSize: Int = 64, frameCount: Int = 1024) throws -> FabricSwitch<EmbeddedBackend> {
    let config = SwitchConfig(name: "embedded", mode: .bridge,
                              ports: (0..<ports).map { PortConfig(name: "e\($0)", mac: MACAddress(rawValue: 0x02_5F_00_00_EE_00 | UInt64($0))) })
    var options = SwitchOptions(config: config, bpfObject: "")
    options.batchSize = 16
    options.queueCapacity = 256
    return try FabricSwitch(options: options, ifindexes: (0..<ports).map { Int32($0 + 1) },
                            io: EmbeddedBackend(ports: ports, frameCount: frameCount, ringSize: ringSize))
}

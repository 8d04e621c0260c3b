import ArgumentParser
import FabricIO
import FabricXDP

@main
struct Fabric: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fabric",
        abstract: "SwiftFabric: an AF_XDP software switch and lab for AI-fabric networking.",
        subcommands: [SwitchCommand.self, ConfigCommand.self, CtlCommand.self, TestbedCommand.self, TrafficCommand.self, DemoCommand.self, LosslessCommand.self,
                      BalanceCommand.self, StatsCommand.self, ReportCommand.self, ProbeCommand.self])
}

extension XDPMode: ExpressibleByArgument {}
extension XDPAttachment: ExpressibleByArgument {}
extension PollMode: ExpressibleByArgument {}
extension Backend: ExpressibleByArgument {}
extension ZeroCopy: ExpressibleByArgument {}

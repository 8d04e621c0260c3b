import ArgumentParser
import FabricIO
import FabricLab
import Foundation

struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "demo", abstract: "placeholder")
    func run() throws {}
}

struct ProbeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "probe", abstract: "placeholder")
    func run() throws {}
}

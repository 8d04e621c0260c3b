import ArgumentParser
import FabricConfig
import FabricCore
import FabricSystem

/// `fabric config check FILE`: validate and summarise a switch configuration.
struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Work with switch configuration files.",
        subcommands: [Check.self])

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Validate a configuration file and summarise it; exit 1 if invalid.")
        @Argument(help: "The YAML file.") var file: String
        func run() throws {
            let c: SwitchConfig
            do {
                c = try ConfigLoader.load(file: file)
            } catch {
                logLine("\(error)")
                throw ExitCode(1)
            }
            print("\(file): valid. \(c.mode.rawValue) '\(c.name)', QoS profile \(c.qos.profile), load balancing \(c.loadBalancing.mode.name)\(c.loadBalancing.mode == .flowlet ? " (idle \(c.loadBalancing.flowletIdleNanoseconds / 1000) us, table \(c.loadBalancing.flowletTableSize))" : "")")
            for p in c.ports {
                let addrs = p.addresses.map(\.description).joined(separator: ", ")
                print("  port \(p.name): \(addrs.isEmpty ? "no address" : addrs), trust \(p.trust.rawValue)"
                      + (p.mac.map { ", mac \($0)" } ?? "") + (p.speedGbps.map { ", \(Units.text(gbps: $0))" } ?? "")
                      + (p.delayNanoseconds > 0 ? ", delay \(Units.text(nanoseconds: p.delayNanoseconds)) (\(p.delayLineFrames) frames on the wire at most)" : "")
                      + (p.lossPercent > 0 ? ", loss \(Units.text(percent: p.lossPercent))\(p.lossSeed.map { " (seed \($0))" } ?? "")" : "")
                      + (p.pfcEnable.map { e in ", PFC on [\((0..<8).filter { e & 1 << $0 != 0 }.map(String.init).joined(separator: ", "))]" } ?? ""))
            }
            for r in c.routes {
                print("  route \(r.prefix) via \(r.nextHops.map(\.description).joined(separator: ", "))\(r.nextHops.count > 1 ? " (ECMP, \((r.mode ?? c.loadBalancing.mode).name))" : "")")
            }
            for n in c.neighbours { print("  neighbour \(n.address) at \(n.mac)") }
            let b = c.buffers
            print("  buffers: pool \(b.poolBytes) B; lossless PGs reserved \(b.lossless.reservedBytes) B, \(b.lossless.threshold.description), "
                  + "xon offset \(b.xonOffsetBytes) B; lossy PGs reserved \(b.lossy.reservedBytes) B, \(b.lossy.threshold.description)")
            print("  stall budget \(Units.text(nanoseconds: b.stallBudgetNanoseconds)) at up to \(Units.text(gbps: b.stallRateGbps)) a port")
            for p in c.ports {
                let speed = p.speedGbps ?? 100
                print("  headroom \(p.name): \(b.headroom(speedGbps: p.speedGbps, delayNanoseconds: p.delayNanoseconds)) B per lossless PG (at \(Units.text(gbps: speed)), cable \(b.cableMeters) m"
                      + (p.delayNanoseconds > 0 ? " + delay \(Units.text(nanoseconds: p.delayNanoseconds)) each way" : "") + ", MTU \(b.mtu), "
                      + "\(b.stallBytes(speedGbps: p.speedGbps)) B of stall)")
            }
        }
    }
}

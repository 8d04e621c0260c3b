import ArgumentParser
import FabricTelemetry
import Foundation

/// `fabric ctl`: changes a running switch through its control socket (root only: the socket is
/// 0600 in a 0700 directory).
struct CtlCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ctl",
        abstract: "Change a running switch: port state, routes, its configuration, counters.",
        discussion: """
        Requests (applied by the switch between two batches: no frame is lost for a change):
          port shutdown|startup PORT        the port's admin state (its peer loses carrier)
          route add PREFIX via NH[,NH..]    add or replace a static route (several next hops: an ECMP group)
          route del PREFIX                  remove a static route
          config apply FILE                 apply a configuration file: routes, neighbours, ecn, pfc_watchdog change \
        live; if anything else differs (ports, buffers, qos, mode, load_balancing) nothing is applied
          clear counters|watermarks         zero the switch's counters (stats file, Prometheus too), or only the watermarks
        (`fabric stats clear` instead keeps a baseline for that reader only.)
        """)

    @Option(help: "The switch's name (default: the only one running).") var `switch`: String?
    @Argument(help: "The request, e.g. route add 10.2.0.0/16 via 10.0.0.1,10.0.1.1") var request: [String]

    func run() throws {
        try requireRoot("fabric ctl")
        let name: String
        if let s = self.switch { name = s } else {
            let all = ControlClient.switches()
            guard all.count == 1 else {
                throw ValidationError(all.isEmpty ? "no running switch has a control socket under \(ControlServer.root)"
                                                  : "several switches are running; name one with --switch: \(all.joined(separator: ", "))")
            }
            name = all[0]
        }
        var words = request
        // A relative configuration file is the caller's, not the switch's working directory.
        if words.count == 3, words[0] == "config", words[1] == "apply", !words[2].hasPrefix("/") {
            words[2] = FileManager.default.currentDirectoryPath + "/" + words[2]
        }
        let answer = try ControlClient.change(name: name, words.joined(separator: " "))
        print("switch '\(name)': \(answer)")
        if !answer.hasPrefix("ok") { throw ExitCode(1) }
    }
}

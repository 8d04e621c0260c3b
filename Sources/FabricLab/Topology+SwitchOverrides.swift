// A switch's own settings in a test bed: `labels: {swiftfabric.config: FILE}` on a switch node
// (or its kind, group, or the defaults) names a switch configuration file holding some of the
// sections the bed does not generate (qos, buffers, pfc, ecn, load_balancing); they replace the
// generated ones on that switch. The bed keeps generating `switch`, `ports` and `routes`.
import FabricConfig
import FabricCore
import Foundation

extension Topology {
    /// Sections of a switch configuration file that replace a switch's generated ones.
    public struct SwitchOverrides: Sendable, Equatable {
        /// The file, an absolute path (what the recorded bed names).
        public var file: String
        public var qos: QoSMaps?
        public var buffers: BufferConfig?
        /// Whether `buffers` gives its own `mtu`; else the switch keeps its links' largest.
        public var buffersMTU = false
        public var pfcWatchdog: PFCWatchdogConfig?
        public var ecn: ECNConfig?
        public var loadBalancing: LoadBalancingConfig?

        static let sections = ["qos", "buffers", "pfc", "ecn", "load_balancing"]
        static let generated = ["switch", "ports", "routes", "ecmp_groups", "neighbours"]

        /// Reads `file` with the switch configuration's own loader; errors name its lines.
        public static func load(file: String) throws -> SwitchOverrides {
            let root = try Cursor.root(file: file)
            let keys = try root.entries(expected: "a switch configuration with some of: \(sections.joined(separator: ", "))")
            for (key, c) in keys where generated.contains(key) {
                throw c.fail("'\(key)' is what the test bed generates for each switch; an override holds only \(sections.joined(separator: ", "))")
            }
            let m = try root.mapping(allowed: sections)
            // The loader reads the file's sections as it reads any configuration, given one port:
            // appended below, so every line the loader names is the file's own.
            let text = try String(contentsOfFile: file, encoding: .utf8)
            let c = try ConfigLoader.parse(text + "\nswitch: {mode: bridge}\nports:\n  - {name: p0}\n", file: file)
            var o = SwitchOverrides(file: file)
            if m["qos"] != nil { o.qos = c.qos }
            if let b = m["buffers"] {
                o.buffers = c.buffers
                o.buffersMTU = try b.entries(expected: "a mapping").contains { $0.key == "mtu" }
            }
            if m["pfc"] != nil { o.pfcWatchdog = c.pfcWatchdog }
            if m["ecn"] != nil { o.ecn = c.ecn }
            if m["load_balancing"] != nil { o.loadBalancing = c.loadBalancing }
            return o
        }

        /// The generated configuration `c` with this file's sections in place of its own.
        public func apply(to c: inout SwitchConfig) {
            if let qos { c.qos = qos }
            if let buffers {
                let mtu = c.buffers.mtu
                c.buffers = buffers
                if !buffersMTU { c.buffers.mtu = mtu }
            }
            if let pfcWatchdog { c.pfcWatchdog = pfcWatchdog }
            if let ecn { c.ecn = ecn }
            if let loadBalancing { c.loadBalancing = loadBalancing }
        }
    }
}

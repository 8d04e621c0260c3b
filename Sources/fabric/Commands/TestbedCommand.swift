import ArgumentParser
import FabricCore
import FabricConfig
import FabricLab
import Foundation

/// `fabric testbed up|down`: namespaces, veths and addresses, as a star or from a topology.
struct TestbedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "testbed",
        abstract: "Create or remove a test bed: host namespaces around one switch namespace (a star), or any topology.",
        subcommands: [Up.self, Down.self, Link.self, Convert.self, Configs.self])

    struct Up: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create the test bed (removing leftovers first).")
        @Option(help: "Number of hosts (star test bed).") var hosts: Int = 4
        @Option(help: "Name prefix of the namespaces.") var prefix: String = "sf"
        @Flag(help: "Each host in its own subnet with a default route via the switch, which runs as a router.")
        var routed = false
        @Option(help: "A containerlab topology file (linux nodes are hosts, bridge nodes learning bridges, every other kind a SwiftFabric switch), or 'leaf-spine' for the shipped 2 spines, 2 leaves, 4 hosts per leaf (scripts/leaf-spine.clab.yml). Starts one switch per switch node.")
        var topology: String?
        @Option(help: "With --topology: only nodes of these containerlab kinds become switches (comma-separated, e.g. nokia_srlinux,ceos); nodes of other kinds are hosts (default: every kind but linux and the bridges).")
        var switchKinds: String?
        @Option(help: "With --topology: load-balancing mode of every ECMP group (ecmp, flowlet, spray; default: the topology's).")
        var mode: String?
        @Option(help: "MTU of every link, and the switches' buffers.mtu: 1500, or jumbo frames up to 9500 (default: 1500, or the topology's).")
        var mtu: Int?
        @Option(help: "Receive and transmit queues of every veth (flows hash to queues; fabric switch --workers N serves queues 0..N-1; default: 1, or the topology's).")
        var queues: Int?
        @Flag(help: "Prepare the hosts' veth ends for `fabric switch --fastpath on` (GRO on: frames the XDP fast path redirects into a veth are lost at an end with neither XDP nor GRO); with --topology, start the switches with --fastpath on.")
        var fastpath = false
        @Option(help: "With --topology: the namespace of this machine, where the topology's vxlan links make their devices and reach their remote (default: the namespace fabric runs in).")
        var underlayNetns: String?
        @Option(help: "With --topology and --remote: build only these nodes of the lab (comma-separated; this machine's part); links to the other nodes become VXLAN links towards --remote. Addresses and routes are the whole lab's, so a routed lab spans machines.")
        var nodes: String?
        @Option(help: "With --nodes: the underlay address of the machine that runs the other nodes.")
        var remote: String?
        @Option(help: "With --nodes: crossing link i (1-based, in the file's order) gets VNI BASE + i, the same on both machines.")
        var vniBase: Int = Topology.Split.defaultVNIBase
        @Option(help: "With --nodes: the VXLAN UDP port of the crossing links.")
        var vxlanPort: Int = Topology.VXLANLink.ianaPort

        func validate() throws {
            guard (1...250).contains(hosts) else { throw ValidationError("--hosts must be 1...250 (got \(hosts))") }
            if let queues, !(1...Topology.maxQueues).contains(queues) { throw ValidationError("--queues must be 1...\(Topology.maxQueues) (got \(queues))") }
            if let mtu, !(BufferConfig.smallestMTU...BufferConfig.largestMTU).contains(mtu) {
                throw ValidationError("--mtu must be \(BufferConfig.smallestMTU)...\(BufferConfig.largestMTU), the MTUs the switch carries (got \(mtu))")
            }
            if let mode, LoadBalancingMode(name: mode) == nil { throw ValidationError("--mode: expected ecmp, flowlet or spray") }
            if switchKinds != nil && (topology == nil || kinds.isEmpty) { throw ValidationError("--switch-kinds: give kinds, comma-separated, with --topology FILE") }
            if underlayNetns != nil && topology == nil { throw ValidationError("--underlay-netns: a topology's vxlan links have an underlay; give it with --topology FILE") }
            if (nodes == nil) != (remote == nil) || (nodes != nil && topology == nil) {
                throw ValidationError("--nodes and --remote go together, with --topology FILE: this machine's nodes of the lab, the other machine's underlay address")
            }
            if let nodes, nodes.split(separator: ",").isEmpty { throw ValidationError("--nodes: give node names, comma-separated") }
            guard (1...65535).contains(vxlanPort) else { throw ValidationError("--vxlan-port must be 1...65535") }
            guard (0...16_000_000).contains(vniBase) else { throw ValidationError("--vni-base must be 0...16000000") }
        }

        var kinds: Set<String> { Set((switchKinds ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }) }

        func run() throws {
            try requireRoot("fabric testbed up")
            guard let topology else {
                // A star: no switch started (its configuration is ready for `fabric switch`).
                let tb = TopologyTestbed.star(prefix: prefix, hosts: hosts, routed: routed, mtu: mtu ?? 1500, queues: queues ?? 1)
                try tb.up()
                if fastpath { try tb.prepareHostsForFastPath() }
                print(tb.summary, terminator: "")
                let fast = fastpath ? " --fastpath on" : ""
                if routed {
                    print("run the switch: fabric switch --netns \(tb.switchNamespace) --config \(tb.configPath)\(fast)")
                } else {
                    print("run the switch: fabric switch --netns \(tb.switchNamespace) --ports \(tb.switchPorts.joined(separator: ","))\(fast)")
                }
                return
            }
            var t = topology == "leaf-spine" ? Topology.leafSpine() : try Topology.load(file: topology, switchKinds: switchKinds == nil ? nil : kinds)
            if let mtu {
                t.mtu = mtu
                for i in t.links.indices { t.links[i].mtu = nil }
            }
            if let queues { t.queues = queues }
            let tb: TopologyTestbed
            if let nodes, let remote {
                let split = Topology.Split(nodes: nodes.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) },
                                           remote: remote, vniBase: vniBase, udpPort: vxlanPort)
                do { tb = try TopologyTestbed(whole: t, split: split, prefix: prefix) } catch { throw ValidationError("\(error)") }
            } else {
                tb = TopologyTestbed(topology: t, prefix: prefix)
            }
            if let underlayNetns {
                guard Shell.namespaces().contains(underlayNetns) else { throw ValidationError("--underlay-netns: no namespace '\(underlayNetns)' (ip netns list)") }
                tb.underlayNamespace = underlayNetns
            }
            try tb.up(mode: mode.flatMap(LoadBalancingMode.init(name:)))
            if fastpath { try tb.prepareHostsForFastPath() }
            var launcher = switchLauncher()
            launcher.statsInterval = 1
            if fastpath { launcher.arguments += ["--fastpath", "on"] }
            try tb.startSwitches(launcher, detached: true)
            print(tb.summary, terminator: "")
            for n in tb.notes { FileHandle.standardError.write(Data("note: \(n)\n".utf8)) }
            print("inventory: \(tb.inventoryPath)")
            print("switches running (logs, stats, pids in \(tb.runDirectory)); remove everything: fabric testbed down --prefix \(prefix)")
        }
    }

    struct Convert: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a topology file (SwiftFabric's old format, or containerlab) as the containerlab file the test bed records.")
        @Argument(help: "The topology file.") var file: String
        func run() throws {
            print(try Topology.load(file: file, note: { _ in }).yaml, terminator: "")
        }
    }

    struct Configs: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the configurations a topology's nodes get, for nodes something else creates (containerlab with the SwiftFabric image).",
            discussion: """
            For each switch NODE.yaml (fabric switch --config; the image's entrypoint reads /etc/swiftfabric/NODE.yaml), for \
            each host NODE.sh (its link interface's MAC, addresses, and routes to the fabric's 10.0.0.0/8 and fd77::/16 via \
            its switch). The addressing and routes are those `fabric testbed up` gives the same file. Nothing is started.
            """)
        @Argument(help: "The topology file (containerlab, or SwiftFabric's old format).") var file: String
        @Option(help: "Directory to write into (created if missing).") var out: String
        @Option(help: "Only nodes of these containerlab kinds become switches (comma-separated; default: every kind but linux and the bridges).")
        var switchKinds: String?
        @Option(help: "Load-balancing mode of every ECMP group (ecmp, flowlet, spray; default: the topology's).")
        var mode: String?
        @Option(help: "MTU of the links that give none: the switches' buffers.mtu follows it (default: \(Self.containerlabMTU), what containerlab gives such links).")
        var mtu: Int = Self.containerlabMTU
        /// containerlab's DefaultLinkMTU.
        static let containerlabMTU = 9500

        func validate() throws {
            if let mode, LoadBalancingMode(name: mode) == nil { throw ValidationError("--mode: expected ecmp, flowlet or spray") }
            guard (BufferConfig.smallestMTU...BufferConfig.largestMTU).contains(mtu) else {
                throw ValidationError("--mtu must be \(BufferConfig.smallestMTU)...\(BufferConfig.largestMTU), the MTUs the switch carries (got \(mtu))")
            }
        }

        func run() throws {
            let kinds = switchKinds.map { Set($0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }) }
            var t = try Topology.load(file: file, switchKinds: kinds)
            for i in t.links.indices where t.links[i].mtu == nil { t.links[i].mtu = mtu }
            let tb = TopologyTestbed(topology: t, prefix: "x")
            try tb.validate()
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            let files = tb.nodeFiles(source: URL(fileURLWithPath: file).lastPathComponent, mode: mode.flatMap(LoadBalancingMode.init(name:)))
            // Files an earlier run wrote for nodes the topology no longer has would be found by
            // the image's entrypoint or a host's exec: removed (only files this command writes).
            let stale = ((try? FileManager.default.contentsOfDirectory(atPath: out)) ?? []).filter { name in
                !files.contains { $0.name == name } && (name.hasSuffix(".yaml") || name.hasSuffix(".sh"))
                    && ((try? String(contentsOfFile: "\(out)/\(name)", encoding: .utf8)) ?? "").contains("Generated by `fabric testbed configs`")
            }
            for name in stale { try FileManager.default.removeItem(atPath: "\(out)/\(name)") }
            if !stale.isEmpty { print("\(out): removed \(stale.sorted().joined(separator: " ")) (no such node now)") }
            for f in files {
                let path = "\(out)/\(f.name)"
                try f.text.write(toFile: path, atomically: true, encoding: .utf8)
                if f.name.hasSuffix(".sh") { _ = chmod(path, 0o755) }
            }
            print("\(out): " + files.map(\.name).joined(separator: " "))
        }
    }

    struct Link: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Take a link of a test bed down or up (a cut cable: the other end loses carrier), or flap it.",
            discussion: """
            NODE:IF names one end of a link of the test bed (e.g. leaf1:s1, spine1:l1, h1:eth0); `ip link set` acts on \
            that end in its namespace. --flap PERIOD alternates down and up every PERIOD (--flaps times, default until \
            Ctrl-C), leaving the link up.
            """)
        @Argument(help: "down or up.") var state: String
        @Argument(help: "The link end, NODE:IF.") var endpoint: String
        @Option(help: "Name prefix of the test bed.") var prefix: String = "sf"
        @Option(help: "Flap: down and up every PERIOD (e.g. 500ms, 2s).") var flap: String?
        @Option(help: "With --flap: how many down-up cycles (0: until Ctrl-C).") var flaps: Int = 0

        func validate() throws {
            guard ["down", "up"].contains(state) else { throw ValidationError("expected 'down' or 'up', got '\(state)'") }
            guard flaps >= 0 else { throw ValidationError("--flaps must be >= 0") }
            if let flap {
                let s = try unit("--flap") { () throws(UnitError) in try Units.seconds(flap) }
                guard s >= 0.01 && s <= 3600 else { throw ValidationError("--flap must be 10ms...1h (got \(flap))") }
            }
        }

        func run() throws {
            try requireRoot("fabric testbed link")
            guard let tb = TopologyTestbed.recorded(prefix: prefix) else {
                throw ValidationError("no test bed '\(prefix)' (fabric testbed up --prefix \(prefix) first)")
            }
            _ = try tb.endpoint(endpoint)
            guard let flap else {
                try tb.setLink(endpoint, up: state == "up")
                print("\(endpoint): link \(state)")
                return
            }
            let half = try Units.seconds(flap)
            try interruptible("fabric testbed link") {
                // Whatever ends the flapping (the count, Ctrl-C, an error), the link is left up.
                defer { try? tb.setLink(endpoint, up: true) }
                var cycle = 0
                while flaps == 0 || cycle < flaps {
                    try tb.setLink(endpoint, up: false)
                    try Interrupt.sleep(half)
                    try tb.setLink(endpoint, up: true)
                    cycle += 1
                    print("\(endpoint): flap \(cycle) (down \(flap), up \(flap))")
                    try Interrupt.sleep(half)
                }
            }
        }
    }

    struct Down: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove every namespace (and veth) of the test bed, and stop its switches.")
        @Option(help: "Name prefix of the namespaces.") var prefix: String = "sf"
        func run() throws {
            // Without a record (a bed from an older build), what a star of any size leaves.
            let tb = TopologyTestbed.recorded(prefix: prefix) ?? .star(prefix: prefix, hosts: 250)
            let present = tb.existingNamespaces()
            tb.down()
            print(present.isEmpty ? "test bed '\(prefix)': nothing to remove"
                                  : "test bed '\(prefix)': switches stopped, removed \(present.sorted().joined(separator: " "))")
        }
    }
}

import ArgumentParser
import FabricSystem
import FabricLab
import FabricPacket
import FabricTraffic
import Foundation

/// `fabric probe`: the small traffic tools of the tests and the demo.
struct ProbeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "probe",
        abstract: "Numbered UDP datagrams for tests and the demo (sender and receiver), and PFC frames.",
        subcommands: [Send.self, Receive.self, PFC.self])

    struct PFC: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "pfc", abstract: "Send 802.1Qbb PFC frames out of an interface (tests of PFC honouring).")
        @Option(help: "Network namespace.") var netns: String?
        @Option(help: "Interface to send on.") var interface: String
        @Option(help: "Priority to pause (0-7).") var priority: Int = 3
        @Option(help: "Pause time in quanta of 512 bit times (0 = resume).") var quanta: UInt16 = 0xFFFF
        @Option(help: "Frames to send.") var count: Int = 1
        @Option(help: "Microseconds between frames.") var interval: Int = 0
        @Option(help: "Destination MAC (default 01:80:c2:00:00:01, the only one a PFC frame is honoured from; others test that it is not).")
        var destination: String?
        func run() throws {
            guard (0...7).contains(priority) else { throw ValidationError("--priority is 0-7") }
            let dst = try destination.map { d in
                guard let m = MACAddress(d) else { throw ValidationError("--destination is a MAC like ff:ff:ff:ff:ff:ff, got '\(d)'") }
                return m
            }
            if let ns = netns { try enterNetworkNamespace(ns) }
            let socket = try PacketSocket(interface: interface)
            let frame = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 8)
            defer { frame.deallocate() }
            let n = PFCBuilder.write(into: frame, source: socket.mac, times: [(priority, quanta)])
            if let d = dst { storeMAC(d, at: frame) }
            for i in 0..<count {
                while try !socket.send(frame, length: n) { usleep(10) }
                if interval > 0 && i + 1 < count { usleep(UInt32(interval)) }
            }
            print("sent \(count) PFC frame(s) on \(interface): priority \(priority), \(quanta) quanta")
        }
    }

    struct Send: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "udp-send", abstract: "Send numbered UDP datagrams.")
        @Option(help: "Network namespace to send from.") var netns: String?
        @Option(help: "Destination IPv4 address.") var to: String
        @Option(help: "Destination UDP port.") var port: UInt16 = 7777
        @Option(help: "Datagrams to send.") var count: Int = 1000
        @Option(help: "UDP payload bytes (18 makes 64-byte frames).") var payload: Int = UDPProbe.payloadFor64ByteFrames
        @Option(help: "Packets per second (0 = unthrottled).") var pps: Double = 0
        @Flag(help: "Print the result as one JSON line.") var json = false
        func run() throws {
            if let ns = netns { try enterNetworkNamespace(ns) }
            let r = try UDPProbe.send(to: to, port: port, count: count, payload: payload, pps: pps)
            if json {
                print(String(decoding: try JSONEncoder().encode(r), as: UTF8.self))
            } else {
                print(String(format: "sent %d datagrams in %.3f s (%.0f pps), %d retries", r.sent, r.seconds, r.packetsPerSecond, r.errors))
            }
        }
    }

    struct Receive: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "udp-recv", abstract: "Count numbered UDP datagrams.")
        @Option(help: "Network namespace to receive in.") var netns: String?
        @Option(help: "UDP port to listen on.") var port: UInt16 = 7777
        @Option(help: "Datagrams expected.") var count: Int = 1000
        @Option(help: "Seconds to wait for the first datagram.") var startTimeout: Double = 10
        @Option(help: "Seconds of silence that end the run.") var idleTimeout: Double = 1
        @Flag(help: "Print the result as one JSON line.") var json = false
        func run() throws {
            if let ns = netns { try enterNetworkNamespace(ns) }
            let r = try UDPProbe.receive(port: port, count: count, startTimeout: startTimeout, idleTimeout: idleTimeout) {
                ChildRun.announceReady("on udp port \(port)")
            }
            if json {
                print(String(decoding: try JSONEncoder().encode(r), as: UTF8.self))
            } else {
                print("received \(r.received) (\(r.unique) unique, \(r.duplicates) duplicates, \(r.reordered) reordered)")
            }
        }
    }
}

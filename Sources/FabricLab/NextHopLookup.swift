import Foundation

/// How a host in a namespace reaches a destination: the source address its kernel would use and
/// the MAC of the next hop (the gateway when routed, the destination itself on the same subnet),
/// resolved by the host's own ARP. Used to aim generated frames; never on a data path.
public enum NextHopLookup {
    public struct Result: Sendable {
        public var source: String
        public var nextHop: String
        public var mac: String
    }

    /// `interface`: the route out of that interface (`ip route get ... oif`), the one the frames
    /// will leave by; nil: the host's choice.
    public static func resolve(namespace ns: String?, destination: String, interface: String? = nil) throws -> Result {
        let ip = ["ip"] + (ns.map { ["-n", $0] } ?? [])
        let here = ns ?? "this host"
        let route = try Shell.run(ip + ["route", "get", destination] + (interface.map { ["oif", $0] } ?? []))
        let words = route.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
        func after(_ key: String) -> String? { words.firstIndex(of: key).flatMap { $0 + 1 < words.count ? words[$0 + 1] : nil } }
        guard let src = after("src") else { throw TestbedError("no route from \(here) to \(destination): \(route)") }
        let hop = after("via") ?? destination
        for attempt in 0..<3 {
            let ping = ["ping", "-n", "-c", "1", "-W", "1", hop]
            _ = try? (ns.map { try Shell.inNamespace($0, ping, check: false) } ?? Shell.run(ping, check: false))
            let neigh = try Shell.run(ip + ["neigh", "show", hop])
            let n = neigh.split(separator: " ").map(String.init)
            if let i = n.firstIndex(of: "lladdr"), i + 1 < n.count { return Result(source: src, nextHop: hop, mac: n[i + 1]) }
            if attempt < 2 { usleep(200_000) }
        }
        throw TestbedError("\(here) could not resolve the MAC of \(hop) (is the switch running?)")
    }
}

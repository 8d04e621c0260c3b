/// Traffic patterns of collective communication on a test bed, each flow a `fabric traffic send`
/// child in its sender's namespace and one `fabric traffic recv` per receiving host.
public enum Pattern: Sendable {
    /// Many senders into one receiver.
    case incast(to: Int, from: [Int])
    /// Every host to every other host at once.
    case allToAll(hosts: [Int])
    /// Every host to one other host, each receiving from exactly one (a random derangement).
    case permutation(hosts: [Int], seed: UInt64)
    /// Exactly these flows.
    case flows([Flow])

    public struct Flow: Sendable, Equatable {
        public var from: Int
        public var to: Int
        public init(_ from: Int, _ to: Int) { self.from = from; self.to = to }
    }

    /// The flows, sender to receiver, by host number.
    public var pairs: [(from: Int, to: Int)] {
        switch self {
        case .incast(let to, let from): return from.map { ($0, to) }
        case .allToAll(let hosts): return hosts.flatMap { a in hosts.filter { $0 != a }.map { (a, $0) } }
        case .flows(let f): return f.map { ($0.from, $0.to) }
        case .permutation(let hosts, let seed):
            var rng = SplitMix(seed: seed)
            var perm = hosts
            repeat { perm.shuffle(using: &rng) } while zip(hosts, perm).contains { $0 == $1 } && hosts.count > 1
            return Array(zip(hosts, perm)).map { ($0.0, $0.1) }
        }
    }
}

/// SplitMix64 (Steele, Lea, Flood 2014): a seeded generator, so a permutation is repeatable.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

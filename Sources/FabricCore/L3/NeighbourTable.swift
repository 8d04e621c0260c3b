import FabricPacket

/// How many neighbours the switch keeps, how long, and how fast it asks for new ones. A scan of
/// a connected subnet (RFC 6583) sends to addresses nobody has; these bound what it can take:
/// resolving entries per port, requests per port and per switch, and never the room of
/// resolved entries. Probe count and interval are Linux's defaults (`mcast_solicit` 3,
/// `retrans_time` 1 s).
public struct NeighbourLimits: Sendable, Equatable {
    /// Resolved entries per address family, static ones included.
    public var resolvedEntries = 2048
    /// Addresses being resolved at once, per port and family; one more pushes out the oldest.
    public var incompletePerPort = 64
    /// A resolved entry is good this long after its neighbour last confirmed it (nanoseconds).
    public var reachableTime: UInt64 = 60_000_000_000
    /// Requests for one address go at least this far apart (nanoseconds); `probes` unanswered
    /// ones, `probes` x `retryInterval` after the first, and the address has failed.
    public var retryInterval: UInt64 = 1_000_000_000
    public var probes = 3
    /// Requests the switch may send for addresses it is resolving: per port, and in all.
    public var requestsPerSecondPerPort = 50
    public var requestBurstPerPort = 16
    public var requestsPerSecond = 500
    public var requestBurst = 64
    /// Kept per port for addresses asked for again (see `RequestBudget`).
    public var reservedPerSecondPerPort = 10
    public var reservedBurstPerPort = 4

    public init() {}

    func validate() {
        precondition(resolvedEntries >= 1 && incompletePerPort >= 1, "neighbour tables need room")
        precondition((1...255).contains(probes) && retryInterval > 0 && reachableTime > 0, "neighbour timers must be positive")
        for (rate, burst) in [(requestsPerSecondPerPort, requestBurstPerPort), (requestsPerSecond, requestBurst),
                              (reservedPerSecondPerPort, reservedBurstPerPort)] {
            precondition((1...1_000_000_000).contains(rate) && burst >= 1, "request rates and bursts must be positive")
        }
    }
}

/// What the neighbour tables did on one port (IPv4 and IPv6 together).
public struct NeighbourCounters: Codable, Sendable, Equatable, CustomStringConvertible {
    /// Requests not sent because the port's or the switch's request budget was used up.
    public var requestsRateLimited: UInt64 = 0
    /// Addresses being resolved that gave way to a newer one: the port had
    /// `incompletePerPort` already.
    public var incompleteLimitHits: UInt64 = 0
    /// Addresses that never answered, removed `probes` x `retryInterval` after the first request.
    public var failed: UInt64 = 0
    /// Resolved entries removed because nothing confirmed them within the reachable time.
    public var expired: UInt64 = 0
    /// Requests sent so that a resolved entry in use does not lapse.
    public var refreshes: UInt64 = 0
    /// Neighbours not learned because the family's resolved entries were at their limit.
    public var tableFull: UInt64 = 0

    public init() {}

    public mutating func add(_ o: NeighbourCounters) {
        requestsRateLimited &+= o.requestsRateLimited
        incompleteLimitHits &+= o.incompleteLimitHits
        failed &+= o.failed
        expired &+= o.expired
        refreshes &+= o.refreshes
        tableFull &+= o.tableFull
    }

    public var description: String {
        "failed \(failed), expired \(expired), requests rate-limited \(requestsRateLimited), "
            + "incomplete limit hits \(incompleteLimitHits), refreshes \(refreshes), table full \(tableFull)"
    }
}

/// The router's neighbours: IPv4 (ARP) and IPv6 (neighbour discovery), learned and static,
/// each family a `NeighbourCache` (its comment has the states and their lifetimes), with one
/// `RequestBudget` for the requests the switch sends and a `DemandFilter` that tells an
/// address frames keep asking for from a scan's one-off.
///
/// The data path asks `lookup` per routed frame; a frame without a MAC is held while
/// `request` decides whether an ARP request or solicitation goes out; `sweep` (housekeeping)
/// ages entries and lists the refreshes due. Nothing here allocates after `init`.
public struct NeighbourTable: ~Copyable {
    public let limits: NeighbourLimits
    public let portCount: Int
    @usableFromInline var v4: NeighbourCache<UInt32>
    @usableFromInline var v6: NeighbourCache<IPv6Address>
    var budget: RequestBudget
    var demand: DemandFilter
    let counters: UnsafeMutablePointer<NeighbourCounters>
    /// What the last `sweep` found due for a refresh request, and the port to ask on.
    public let due: UnsafeMutablePointer<IPAddress>
    public let duePorts: UnsafeMutablePointer<UInt16>

    public init(portCount: Int = 1, limits: NeighbourLimits = NeighbourLimits()) {
        limits.validate()
        self.limits = limits
        self.portCount = max(1, portCount)
        var random = SystemRandomNumberGenerator()
        v4 = NeighbourCache(portCount: portCount, limits: limits, seed: random.next())
        v6 = NeighbourCache(portCount: portCount, limits: limits, seed: random.next())
        budget = RequestBudget(portCount: portCount, limits: limits)
        demand = DemandFilter(window: UInt64(limits.probes) * limits.retryInterval, seed: random.next())
        counters = .filled(with: NeighbourCounters(), count: self.portCount)
        due = .filled(with: .v4(0), count: 2 * limits.resolvedEntries)
        duePorts = .filled(with: 0, count: 2 * limits.resolvedEntries)
    }

    deinit {
        counters.deallocate()
        due.deallocate()
        duePorts.deallocate()
    }

    // MARK: - Per frame

    /// The MAC of a resolved IPv4 neighbour within its reachable time (marks the entry used).
    @inlinable public func lookup(_ ip: UInt32, now: UInt64) -> MACAddress? { v4.lookup(ip, now: now) }

    /// The MAC of a resolved IPv6 neighbour within its reachable time (marks the entry used).
    @inlinable public func lookup(_ ip: IPv6Address, now: UInt64) -> MACAddress? { v6.lookup(ip, now: now) }

    /// What a frame that needs an address resolved should do.
    public enum Request: Equatable, Sendable {
        /// Send a request now (it has been counted against the budget), and wait.
        case send
        /// Wait: a request for the address is out.
        case wait
        /// Nobody is asking for the address and the budget allows no request now: waiting
        /// would not make it resolve (a frame for it is dropped; a later one may ask).
        case refused
    }

    /// For a frame that needs `address` resolved on `port`. `priority`: the address is known
    /// to be wanted (a route's gateway), as if asked for again.
    public mutating func request(_ address: IPAddress, port: Int, priority: Bool = false, now: UInt64) -> Request {
        switch address {
        case .v4(let a):
            Self.request(&v4, a, port: port, priority: priority, now: now, budget: &budget, demand: &demand, counters: counters)
        case .v6(let a):
            Self.request(&v6, a, port: port, priority: priority, now: now, budget: &budget, demand: &demand, counters: counters)
        }
    }

    static func request<Key: NeighbourKey>(_ cache: inout NeighbourCache<Key>, _ key: Key, port: Int, priority: Bool, now: UInt64,
                                           budget: inout RequestBudget, demand: inout DemandFilter,
                                           counters: UnsafeMutablePointer<NeighbourCounters>) -> Request {
        guard key != Key.unused else { return .refused }
        switch cache.need(key, now: now, counters: counters) {
        case .wait:
            return .wait
        case .retry(let i):
            guard budget.allow(port: port, priority: true, now: now) else {
                counters[port].requestsRateLimited &+= 1
                return .wait
            }
            cache.probed(i, now: now)
            return .send
        case .new:
            let again = demand.wantedAgain(key.hashBits, port: port, now: now)
            guard budget.allow(port: port, priority: priority || again, now: now) else {
                counters[port].requestsRateLimited &+= 1
                return .refused
            }
            cache.startResolving(key, port: port, now: now, counters: counters)
            return .send
        }
    }

    // MARK: - Learning

    /// `ip` is at `mac`, as an ARP message that came in on `port` says. True when frames
    /// waiting for it may go. Static entries are not changed.
    @discardableResult
    public mutating func learn(_ ip: UInt32, mac: MACAddress, port: Int, now: UInt64) -> Bool {
        v4.learn(ip, mac: mac, port: port, now: now, counters: counters)
    }

    /// `ip` is at `mac`, as a neighbour solicitation or advertisement that came in on `port` says.
    @discardableResult
    public mutating func learn(_ ip: IPv6Address, mac: MACAddress, port: Int, now: UInt64) -> Bool {
        v6.learn(ip, mac: mac, port: port, now: now, counters: counters)
    }

    public mutating func addStatic(_ ip: UInt32, mac: MACAddress) { v4.addStatic(ip, mac: mac) }
    public mutating func addStatic(_ ip: IPv6Address, mac: MACAddress) { v6.addStatic(ip, mac: mac) }

    // MARK: - Housekeeping

    /// Removes failed and lapsed entries (counted) and returns how many refresh requests are
    /// due: `due[0..<n]`, each to be asked on `duePorts[k]`.
    public mutating func sweep(now: UInt64) -> Int {
        let room = limits.resolvedEntries
        let n4 = v4.sweep(now: now, counters: counters, due: due, ports: duePorts, room: room)
        return n4 + v6.sweep(now: now, counters: counters, due: due + n4, ports: duePorts + n4, room: room)
    }

    /// Forgets what was learned or is being resolved on `port` (it went out of service).
    public mutating func flush(port: Int) {
        v4.flush(port: port)
        v6.flush(port: port)
    }

    // MARK: - For telemetry (off the data path)

    public func counters(port: Int) -> NeighbourCounters { counters[port] }
    /// Entries resolved (static included) and being resolved, both families.
    public var resolvedCount: Int { v4.resolved + v6.resolved }
    public var resolvingCount: Int { v4.incomplete + v6.incomplete }

    /// Every IPv4 entry, for display; nil MAC while resolving.
    public func entries(now: UInt64) -> [(ip: UInt32, mac: MACAddress?, isStatic: Bool)] {
        v4.entries().map { ($0.key, $0.mac, $0.isStatic) }
    }

    public func entries6(now: UInt64) -> [(ip: IPv6Address, mac: MACAddress?, isStatic: Bool)] {
        v6.entries().map { ($0.key, $0.mac, $0.isStatic) }
    }
}

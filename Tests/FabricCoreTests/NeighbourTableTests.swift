import FabricPacket
import FabricTestSupport
import XCTest
@testable import FabricCore

/// The neighbour tables under address scans (RFC 6583) and over time: what a scan may take,
/// how fast the switch asks, when entries fail, lapse or are refreshed. Frames come from h1
/// (port 0); port i has 10.(80+i).0.254/20 and fd77:(i+1)::fe/64, its host .1 and ::1.
final class NeighbourTableTests: XCTestCase {
    static let hostMAC: UInt64 = 0x02_5F_00_00_00_22
    static let newHostMAC: UInt64 = 0x02_5F_00_00_BE_EF
    let ms: UInt64 = 1_000_000
    let s: UInt64 = 1_000_000_000

    func make(ports: Int = 3) -> EmbeddedDatapath {
        let cfg = SwitchConfig(ports: (0..<ports).map { i in
            PortConfig(name: "h\(i + 1)", addresses: [IPPrefix("10.\(80 + i).0.254/20", strict: false)!,
                                                       IPPrefix("fd77:\(i + 1)::fe/64", strict: false)!])
        })
        return EmbeddedDatapath(config: cfg, portMACs: (0..<ports).map { MACAddress(rawValue: 0x02_5F_00_00_10_00 + UInt64($0)) },
                                frameCount: 2048, queueCapacity: 256)
    }

    func portMAC(_ p: Int) -> UInt64 { 0x02_5F_00_00_10_00 + UInt64(p) }
    func v6(_ port: Int, _ suffix: String) -> IPv6Address { IPv6Address("fd77:\(port + 1)::\(suffix)")! }
    func v4(_ port: Int, _ n: Int) -> UInt32 { parseIPv4("10.\(80 + port).\(n / 250).\(n % 250 + 1)")! }
    var source6: IPv6Address { v6(0, "1") }

    /// A UDP frame from h1 to `dst` (IPv6 or IPv4), received on port 0.
    func send(_ bed: EmbeddedDatapath, to dst: IPAddress, sport: UInt16 = 7) {
        switch dst {
        case .v6(let a): bed.receive(Frames.udp6(dstMAC: portMAC(0), srcMAC: 0x02_5F_00_00_00_01, src: source6, dst: a, sport: sport, dport: 9))
        case .v4(let a): bed.receive(Frames.udp4(dstMAC: portMAC(0), srcMAC: 0x02_5F_00_00_00_01, src: v4(0, 0), dst: a, sport: sport, dport: 9))
        }
    }

    /// Sends `count` frames from h1 to unused addresses of port `port` (`first` on), 60 a
    /// batch, all at `now`; returns what every port sent meanwhile.
    @discardableResult
    func scan(_ bed: EmbeddedDatapath, port: Int, v6 isV6: Bool = true, count: Int, first: Int = 0, now: UInt64) -> [[[UInt8]]] {
        var out = [[[UInt8]]](repeating: [], count: bed.dp.portCount)
        var i = first
        while i < first + count {
            for k in i..<min(i + 60, first + count) {
                send(bed, to: isV6 ? .v6(v6(port, "1:\(String(k, radix: 16))")) : .v4(v4(port, 10 + k)))
            }
            bed.forward(ingress: 0, now: now)
            for p in 0..<bed.dp.portCount { out[p] += bed.drain(p) }
            i += 60
        }
        return out
    }

    /// The targets of the neighbour solicitations among `frames`.
    func solicited(_ frames: [[UInt8]]) -> [IPv6Address] {
        frames.compactMap { f in
            guard f.count >= 78, f[12] == 0x86, f[13] == 0xDD, f[20] == 58, f[54] == 135 else { return nil }
            return f.withUnsafeBytes { loadIPv6($0.baseAddress! + 62) }
        }
    }

    /// The target addresses of the ARP requests among `frames`.
    func arpAsked(_ frames: [[UInt8]]) -> [UInt32] {
        frames.compactMap { f in
            guard f.count >= 42, f[12] == 0x08, f[13] == 0x06, f[21] == 1 else { return nil }
            return f[38...41].reduce(0) { $0 << 8 | UInt32($1) }
        }
    }

    /// Frames among `frames` sent to `mac`.
    func to(_ mac: UInt64, _ frames: [[UInt8]]) -> Int { frames.filter { Frames.mac($0, 0) == mac }.count }

    func answer(_ bed: EmbeddedDatapath, port: Int, _ target: IPv6Address, mac: UInt64, now: UInt64) {
        bed.receive(Frames.neighbourAdvertisement(dstMAC: portMAC(port), srcMAC: mac, target: target, dst: v6(port, "fe")))
        bed.forward(ingress: port, now: now)
    }

    func answer(_ bed: EmbeddedDatapath, port: Int, _ ip: UInt32, mac: UInt64, now: UInt64) {
        bed.receive(Frames.arp(op: 2, dstMAC: portMAC(port), sha: mac, spa: ip, tha: portMAC(port), tpa: parseIPv4("10.\(80 + port).0.254")!))
        bed.forward(ingress: port, now: now)
    }

    func resolving(_ bed: EmbeddedDatapath) -> Int { bed.dp.neighbourEntries(now: 0).filter { $0.mac == nil }.count }

    // MARK: - Incomplete entries

    /// Linux's timing: three requests one second apart while frames want the address, and
    /// three seconds after the first the address has failed and its entry is gone.
    func testAnUnansweredAddressIsAskedThreeTimesAndThenFails() {
        let bed = make()
        let target = v6(1, "77")
        var asked: [UInt64] = []
        for t in [0, 500 * ms, 1 * s, 1500 * ms, 2 * s, 2500 * ms] {
            send(bed, to: .v6(target))
            bed.forward(ingress: 0, now: t)
            bed.dp.housekeeping(now: t)
            if solicited(bed.drain(1)) == [target] { asked.append(t) }
        }
        XCTAssertEqual(asked, [0, 1 * s, 2 * s])
        XCTAssertEqual(resolving(bed), 1)
        bed.dp.housekeeping(now: 3 * s)
        XCTAssertEqual(resolving(bed), 0, "failed 3 s after the first request, and removed")
        XCTAssertEqual(bed.dp.router.neighbours.counters(port: 1).failed, 1)
        // Frames held for it were dropped after the pending timeout, counted.
        bed.dp.housekeeping(now: 4 * s)
        XCTAssertEqual(bed.dp.pendingFrames, 0)
        XCTAssertEqual(bed.dp.counters[1].drops[.neighbourUnresolved], 6)
        XCTAssertTrue(bed.ledgerBalances)
    }

    /// The reported bug: 300 unused addresses of h2's /64 filled the IPv6 table for good, and
    /// a host added afterwards never resolved.
    func testAScanFailsAwayAndANewHostResolvesRightAfterIt() {
        let bed = make()
        send(bed, to: .v6(v6(1, "1")))
        bed.forward(ingress: 0, now: 0)
        answer(bed, port: 1, v6(1, "1"), mac: Self.hostMAC, now: 1 * ms)
        XCTAssertEqual(to(Self.hostMAC, bed.drain(1)), 1, "h2 resolved before the scan")

        let out = scan(bed, port: 1, count: 300, now: 1 * s)
        XCTAssertLessThanOrEqual(solicited(out[1]).count, 16, "the port's request burst, not one request per address")
        XCTAssertLessThanOrEqual(resolving(bed), 64, "at most the port's incomplete limit")

        // A host that appears right after the scan resolves on its first frame.
        let beef = v6(1, "beef")
        send(bed, to: .v6(beef))
        bed.forward(ingress: 0, now: 1400 * ms)
        XCTAssertEqual(solicited(bed.drain(1)), [beef])
        answer(bed, port: 1, beef, mac: Self.newHostMAC, now: 1401 * ms)
        XCTAssertEqual(to(Self.newHostMAC, bed.drain(1)), 1, "the held frame went out")
        send(bed, to: .v6(v6(1, "1")))
        bed.forward(ingress: 0, now: 1402 * ms)
        XCTAssertEqual(to(Self.hostMAC, bed.drain(1)), 1, "h2 is still resolved")

        for t in stride(from: 1500 * ms, through: 5 * s, by: 100_000_000) { bed.dp.housekeeping(now: t) }
        XCTAssertEqual(resolving(bed), 0, "every scanned address failed and went")
        let c = bed.dp.router.neighbours.counters(port: 1)
        XCTAssertEqual(c.requestsRateLimited, 300 - 16, "\(c)")
        XCTAssertEqual(c.failed, 16, "\(c)")
        XCTAssertEqual(bed.dp.counters[1].drops[.neighbourUnresolved], 300, "each scanned frame dropped and counted")
        XCTAssertTrue(bed.ledgerBalances)
    }

    /// The same for IPv4, whose table holds 2048: 2100 addresses of a /20 in waves that fit the
    /// pending queue, then a new host.
    func testAnIPv4ScanOfMoreThanTheTableLeavesRoomForANewHost() {
        let bed = make()
        var t: UInt64 = 0
        for wave in 0..<11 {
            scan(bed, port: 1, v6: false, count: 200, first: wave * 200, now: t)
            t += 1100 * ms
            bed.dp.housekeeping(now: t)
        }
        let newHost = parseIPv4("10.81.15.9")!
        send(bed, to: .v4(newHost))
        bed.forward(ingress: 0, now: t + 1 * ms)
        XCTAssertEqual(arpAsked(bed.drain(1)), [newHost])
        answer(bed, port: 1, newHost, mac: Self.newHostMAC, now: t + 2 * ms)
        XCTAssertEqual(to(Self.newHostMAC, bed.drain(1)), 1)
        XCTAssertTrue(bed.ledgerBalances)
    }

    /// A host that frames keep asking for (once a second, as ping does) resolves while a scan
    /// of its subnet sends to 2000 new addresses a second, and a resolved host keeps working.
    func testANewHostResolvesDuringASustainedScan() {
        let bed = make()
        answer(bed, port: 1, v6(1, "1"), mac: Self.hostMAC, now: 0)
        let beef = v6(1, "beef")
        var reachedAfter: Int?
        var n = 0
        for step in 1...600 {  // 10 ms steps: 6 s
            let now = UInt64(step) * 10 * ms
            for _ in 0..<20 {
                n += 1
                send(bed, to: .v6(v6(1, "\(String(n, radix: 16)):1")))
            }
            if step % 100 == 0 {
                send(bed, to: .v6(beef), sport: UInt16(step))
                send(bed, to: .v6(v6(1, "1")), sport: UInt16(step))
            }
            bed.forward(ingress: 0, now: now)
            var out = bed.drain(1)
            if solicited(out).contains(beef) {
                answer(bed, port: 1, beef, mac: Self.newHostMAC, now: now + 1000)
                out += bed.drain(1)
            }
            if step % 100 == 0 { XCTAssertEqual(to(Self.hostMAC, out), 1, "h2 reached at \(step / 100) s") }
            if reachedAfter == nil && to(Self.newHostMAC, out) > 0 { reachedAfter = step / 100 }
            if step % 10 == 0 { bed.dp.housekeeping(now: now) }
        }
        XCTAssertNotNil(reachedAfter, "the new host never resolved")
        XCTAssertLessThanOrEqual(reachedAfter ?? 99, 4, "a frame a second: reached at its second try, allowing for two unlucky ones")
        XCTAssertLessThanOrEqual(resolving(bed), 64)
        XCTAssertTrue(bed.ledgerBalances)
    }

    /// A scan through one port takes nothing from another: its requests, its incomplete entries
    /// and its room for waiting frames are its own.
    func testAScanOfOnePortLeavesTheOthersAlone() {
        let bed = make()
        scan(bed, port: 1, count: 600, now: 0)
        let host3 = v6(2, "5")
        send(bed, to: .v6(host3))
        bed.forward(ingress: 0, now: 1 * ms)
        XCTAssertEqual(solicited(bed.drain(2)), [host3])
        answer(bed, port: 2, host3, mac: Self.newHostMAC, now: 2 * ms)
        XCTAssertEqual(to(Self.newHostMAC, bed.drain(2)), 1)
        XCTAssertEqual(bed.dp.counters[2].drops.total, 0)
    }

    /// The switch as a whole sends at most its burst (64) at once however many ports are
    /// scanned; each port at most its own (16).
    func testRequestsAreLimitedPerPortAndForTheSwitch() {
        let bed = make(ports: 7)
        var asked = [Int](repeating: 0, count: 7)
        for p in 1..<7 {
            let out = scan(bed, port: p, count: 100, now: 0)
            for q in 0..<7 { asked[q] += solicited(out[q]).count }
        }
        XCTAssertEqual(asked[1...4].map { $0 }, [16, 16, 16, 16])
        XCTAssertEqual(asked.reduce(0, +), 64, "\(asked)")
        // A second later each port may ask again (50 a second, its burst 16 at most).
        let out = scan(bed, port: 1, count: 100, first: 1000, now: 1 * s)
        XCTAssertEqual(solicited(out[1]).count, 16)
    }

    // MARK: - Resolved entries

    /// A resolved neighbour is good for the reachable time (60 s) after it last answered. One
    /// in use is asked again in the last 3 s and stays while it answers; one not in use, or
    /// one that stops answering, is removed when the time is up.
    func testResolvedNeighboursInUseAreRefreshedAndTheRestExpire() {
        let bed = make()
        let busy = v4(1, 0), silent = v4(1, 1), idle = v4(1, 2)
        for (ip, mac) in [(busy, Self.hostMAC), (silent, 0x02_5F_00_00_00_33), (idle, 0x02_5F_00_00_00_44)] {
            answer(bed, port: 1, ip, mac: mac, now: 0)
        }
        var refreshed: [UInt32: [UInt64]] = [:]
        var delivered = 0
        for step in 1...630 {
            let now = UInt64(step) * 100 * ms
            if step % 10 == 0 {
                send(bed, to: .v4(busy))
                if step <= 500 { send(bed, to: .v4(silent)) }
                bed.forward(ingress: 0, now: now)
            }
            bed.dp.housekeeping(now: now)
            let out = bed.drain(1)
            delivered += to(Self.hostMAC, out)
            for ip in arpAsked(out) {
                refreshed[ip, default: []].append(now)
                if ip == busy { answer(bed, port: 1, busy, mac: Self.hostMAC, now: now + 1000) }
            }
            if step == 600 {
                let known = Set(bed.dp.neighbourEntries(now: now).map(\.address))
                XCTAssertTrue(known.contains(.v4(busy)), "refreshed: good for another 60 s")
                XCTAssertFalse(known.contains(.v4(idle)), "not in use: gone at 60 s")
                XCTAssertFalse(known.contains(.v4(silent)), "did not answer its refreshes: gone at 60 s")
            }
        }
        XCTAssertEqual(refreshed[busy], [57 * s], "asked once, 3 s before it would lapse")
        XCTAssertEqual(refreshed[silent], [57 * s, 58 * s, 59 * s])
        XCTAssertNil(refreshed[idle])
        XCTAssertEqual(bed.dp.router.neighbours.counters(port: 1).expired, 2)
        XCTAssertEqual(bed.dp.router.neighbours.counters(port: 1).refreshes, 4)
        XCTAssertEqual(delivered, 63, "every frame to the busy host went straight out, none waited")
        XCTAssertEqual(bed.dp.pendingFrames, 0)
        XCTAssertTrue(bed.ledgerBalances)
    }

    /// After a scan, hosts that announce themselves (a solicitation, an advertisement) are
    /// learned: the scan's entries never take the room of resolved ones.
    func testAScanDoesNotKeepNeighboursFromBeingLearned() {
        let bed = make()
        scan(bed, port: 1, count: 600, now: 0)
        for k in 0..<40 {
            answer(bed, port: 1, v6(1, "a:\(k)"), mac: 0x02_5F_00_00_A0_00 + UInt64(k), now: 1 * ms)
        }
        for k in 0..<40 {
            XCTAssertEqual(bed.dp.router.neighbours.lookup(v6(1, "a:\(k)"), now: 2 * ms)?.rawValue, 0x02_5F_00_00_A0_00 + UInt64(k))
        }
    }

    /// Neighbour discovery teaches only addresses on the subnets of the port it came in on: a
    /// host on h1 cannot claim h2's neighbours (cross-port poisoning).
    func testNeighbourDiscoveryIsLearnedOnlyOnThePortsOwnSubnets() {
        let bed = make()
        answer(bed, port: 1, v6(1, "9"), mac: Self.hostMAC, now: 0)
        bed.receive(Frames.neighbourAdvertisement(dstMAC: portMAC(0), srcMAC: 0x02_5F_00_00_66_66, target: v6(1, "9"), dst: v6(0, "fe")))
        bed.receive(Frames.neighbourAdvertisement(dstMAC: portMAC(0), srcMAC: 0x02_5F_00_00_66_66, target: v6(1, "10"), dst: v6(0, "fe")))
        bed.forward(ingress: 0, now: 1 * ms)
        XCTAssertEqual(bed.dp.router.neighbours.lookup(v6(1, "9"), now: 2 * ms)?.rawValue, Self.hostMAC)
        XCTAssertNil(bed.dp.router.neighbours.lookup(v6(1, "10"), now: 2 * ms))
    }
}

import FabricPacket
import XCTest
@testable import FabricCore

/// Builds test frames (header layouts are checked against scapy in FabricPacketTests; here
/// frames only need to be valid input for the router).
enum Frames {
    static func ipv4Header(src: UInt32, dst: UInt32, proto: UInt8, ttl: UInt8, tos: UInt8, payload: Int) -> [UInt8] {
        var h = [UInt8](repeating: 0, count: 20)
        h[0] = 0x45; h[1] = tos
        let total = 20 + payload
        h[2] = UInt8(total >> 8); h[3] = UInt8(total & 0xFF)
        h[8] = ttl; h[9] = proto
        let s = ipBytes(src), d = ipBytes(dst)
        for i in 0..<4 { h[12 + i] = s[i]; h[16 + i] = d[i] }
        let c = h.withUnsafeBytes { internetChecksum($0.baseAddress!, count: 20) }
        h[10] = UInt8(c >> 8); h[11] = UInt8(c & 0xFF)
        return h
    }

    static func macBytes(_ m: UInt64) -> [UInt8] {
        var out: [UInt8] = []
        for i in 0..<6 { out.append(UInt8(truncatingIfNeeded: m >> UInt64(40 - 8 * i))) }
        return out
    }

    static func ipBytes(_ a: UInt32) -> [UInt8] {
        [UInt8(truncatingIfNeeded: a >> 24), UInt8(truncatingIfNeeded: a >> 16), UInt8(truncatingIfNeeded: a >> 8), UInt8(truncatingIfNeeded: a)]
    }

    static func eth(_ dst: UInt64, _ src: UInt64, _ type: UInt16) -> [UInt8] {
        let t: [UInt8] = [UInt8(type >> 8), UInt8(type & 0xFF)]
        return macBytes(dst) + macBytes(src) + t
    }

    static func udp4(dstMAC: UInt64, srcMAC: UInt64, src: UInt32, dst: UInt32, sport: UInt16, dport: UInt16,
                     ttl: UInt8 = 64, tos: UInt8 = 0, payload: Int = 18) -> [UInt8] {
        let udpLen = 8 + payload
        var udp: [UInt8] = [UInt8(sport >> 8), UInt8(sport & 0xFF), UInt8(dport >> 8), UInt8(dport & 0xFF),
                            UInt8(udpLen >> 8), UInt8(udpLen & 0xFF), 0, 0]
        udp += [UInt8](repeating: 0xAB, count: payload)
        return eth(dstMAC, srcMAC, 0x0800) + ipv4Header(src: src, dst: dst, proto: 17, ttl: ttl, tos: tos, payload: udpLen) + udp
    }

    static func arp(op: UInt16, dstMAC: UInt64, sha: UInt64, spa: UInt32, tha: UInt64, tpa: UInt32) -> [UInt8] {
        var a: [UInt8] = [0, 1, 8, 0, 6, 4, 0, UInt8(op)]
        a += macBytes(sha)
        a += ipBytes(spa)
        a += macBytes(tha)
        a += ipBytes(tpa)
        return eth(dstMAC, sha, 0x0806) + a + [UInt8](repeating: 0, count: 18)
    }

    static func icmpEcho(dstMAC: UInt64, srcMAC: UInt64, src: UInt32, dst: UInt32, id: UInt16 = 0x1234, seq: UInt16 = 1) -> [UInt8] {
        var icmp: [UInt8] = [8, 0, 0, 0, UInt8(id >> 8), UInt8(id & 0xFF), UInt8(seq >> 8), UInt8(seq & 0xFF)]
        icmp += [UInt8](repeating: 0x42, count: 32)
        let c = icmp.withUnsafeBytes { internetChecksum($0.baseAddress!, count: icmp.count) }
        icmp[2] = UInt8(c >> 8); icmp[3] = UInt8(c & 0xFF)
        return eth(dstMAC, srcMAC, 0x0800) + ipv4Header(src: src, dst: dst, proto: 1, ttl: 64, tos: 0, payload: icmp.count) + icmp
    }
}

/// A router datapath over a plain buffer: ports h1 (10.77.1.254/24), h2 (10.77.2.254/24),
/// up1 (10.0.1.0/31), up2 (10.0.2.0/31); 10.99.0.0/16 over both uplinks (ECMP).
final class RouterBed {
    static let frameSize = 2048
    let memory: UnsafeMutableRawPointer
    var dp: Datapath
    var batch = Batch(capacity: 64)
    let frameCount = 1024
    static let portMACs: [UInt64] = [0x02_5F_00_00_00_02, 0x02_5F_00_00_02_FE, 0x02_5F_00_00_10_FE, 0x02_5F_00_00_20_FE]
    static let host1: UInt64 = 0x02_5F_00_00_00_01
    static let host2: UInt64 = 0x02_5F_00_00_00_22
    static let spine1: UInt64 = 0x02_5F_00_00_10_01
    static let spine2: UInt64 = 0x02_5F_00_00_20_01

    init(neighbours: Bool = true) {
        memory = .allocate(byteCount: frameCount * Self.frameSize, alignment: 4096)
        memory.initializeMemory(as: UInt8.self, repeating: 0, count: frameCount * Self.frameSize)
        var cfg = SwitchConfig(ports: [
            PortConfig(name: "h1", addresses: [IPPrefix("10.77.1.254/24", strict: false)!]),
            PortConfig(name: "h2", addresses: [IPPrefix("10.77.2.254/24", strict: false)!]),
            PortConfig(name: "up1", addresses: [IPPrefix("10.0.1.0/31", strict: false)!]),
            PortConfig(name: "up2", addresses: [IPPrefix("10.0.2.0/31", strict: false)!]),
        ])
        cfg.routes = [RouteConfig(prefix: IPPrefix("10.99.0.0/16", strict: true)!, nextHops: [.v4(parseIPv4("10.0.1.1")!), .v4(parseIPv4("10.0.2.1")!)])]
        if neighbours {
            cfg.neighbours = [NeighbourConfig(address: .v4(parseIPv4("10.0.1.1")!), mac: MACAddress(rawValue: Self.spine1)),
                              NeighbourConfig(address: .v4(parseIPv4("10.0.2.1")!), mac: MACAddress(rawValue: Self.spine2))]
        }
        dp = Datapath(config: cfg, portMACs: Self.portMACs.map { MACAddress(rawValue: $0) }, frames: memory,
                      pool: FramePool(frameCount: frameCount, frameSize: Self.frameSize), queueCapacity: 64)
    }

    deinit { memory.deallocate() }

    func receive(_ bytes: [UInt8]) {
        let addr = dp.pool.allocate()! + 256
        bytes.withUnsafeBytes { (memory + Int(addr)).copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
        _ = batch.append(addr: addr, len: UInt32(bytes.count))
    }

    func forward(ingress: Int, now: UInt64 = 1_000) {
        batch.ingress = ingress
        batch.timestamp = now
        dp.forward(&batch)
    }

    /// Frames queued on `port`, as bytes, freed.
    func drain(_ port: Int) -> [[UInt8]] {
        var out: [[UInt8]] = []
        while let f = dp.queues[port].dequeue() {
            out.append(Array(UnsafeRawBufferPointer(start: memory + Int(f.addr), count: Int(f.len))))
            dp.pool.release(f.addr)
        }
        return out
    }

    var ledgerBalances: Bool { dp.pool.freeCount + dp.queuedFrames + dp.pendingFrames == frameCount }
}

func mac(_ b: [UInt8], _ off: Int) -> UInt64 { (0..<6).reduce(0) { $0 << 8 | UInt64(b[off + $1]) } }
func ipv4HeaderValid(_ b: [UInt8], l3: Int = 14) -> Bool {
    b.withUnsafeBytes { internetChecksum($0.baseAddress! + l3, count: 20) } == 0
}

final class RouterTests: XCTestCase {
    let h1 = parseIPv4("10.77.1.1")!, h2 = parseIPv4("10.77.2.1")!

    func testRoutesBetweenConnectedSubnetsAfterARP() {
        let bed = RouterBed()
        // h2's MAC is unknown: the frame is held and an ARP request goes out on h2's port.
        bed.receive(Frames.udp4(dstMAC: RouterBed.portMACs[0], srcMAC: RouterBed.host1, src: h1, dst: h2, sport: 4000, dport: 5000))
        bed.forward(ingress: 0)
        XCTAssertEqual(bed.dp.pendingFrames, 1)
        let req = bed.drain(1)
        XCTAssertEqual(req.count, 1)
        XCTAssertEqual(mac(req[0], 0), 0xFFFF_FFFF_FFFF)
        XCTAssertEqual(Array(req[0][12...13]), [0x08, 0x06])
        XCTAssertEqual(Array(req[0][20...21]), [0, 1], "ARP request")
        XCTAssertEqual(mac(req[0], 22), RouterBed.portMACs[1], "sender MAC = port MAC")
        XCTAssertEqual(Array(req[0][28...31]), [10, 77, 2, 254], "sender IP = port address")
        XCTAssertEqual(Array(req[0][38...41]), [10, 77, 2, 1], "target IP")
        XCTAssertEqual(bed.dp.counters[1].arpRequestsSent, 1)
        // A second packet to the same host does not ask again.
        bed.receive(Frames.udp4(dstMAC: RouterBed.portMACs[0], srcMAC: RouterBed.host1, src: h1, dst: h2, sport: 4000, dport: 5000))
        bed.forward(ingress: 0, now: 2_000)
        XCTAssertEqual(bed.drain(1).count, 0)
        XCTAssertEqual(bed.dp.pendingFrames, 2)

        // h2 answers: both held frames go out, rewritten, in order.
        bed.receive(Frames.arp(op: 2, dstMAC: RouterBed.portMACs[1], sha: RouterBed.host2, spa: h2, tha: RouterBed.portMACs[1], tpa: parseIPv4("10.77.2.254")!))
        bed.forward(ingress: 1, now: 3_000)
        let out = bed.drain(1)
        XCTAssertEqual(out.count, 2)
        for f in out {
            XCTAssertEqual(mac(f, 0), RouterBed.host2)
            XCTAssertEqual(mac(f, 6), RouterBed.portMACs[1])
            XCTAssertEqual(f[22], 63, "TTL decremented")
            XCTAssertTrue(ipv4HeaderValid(f))
        }
        XCTAssertEqual(bed.dp.pendingFrames, 0)
        XCTAssertEqual(bed.dp.counters[1].consumed, 1, "the ARP reply is consumed")
        XCTAssertTrue(bed.ledgerBalances)
    }

    func testAnswersARPForItsOwnAddressOnlyOnThatPort() {
        let bed = RouterBed()
        bed.receive(Frames.arp(op: 1, dstMAC: 0xFFFF_FFFF_FFFF, sha: RouterBed.host1, spa: h1, tha: 0, tpa: parseIPv4("10.77.1.254")!))
        bed.receive(Frames.arp(op: 1, dstMAC: 0xFFFF_FFFF_FFFF, sha: RouterBed.host1, spa: h1, tha: 0, tpa: parseIPv4("10.77.2.254")!))
        bed.receive(Frames.arp(op: 1, dstMAC: 0xFFFF_FFFF_FFFF, sha: RouterBed.host1, spa: h1, tha: 0, tpa: parseIPv4("10.77.1.7")!))
        bed.forward(ingress: 0)
        let replies = bed.drain(0)
        XCTAssertEqual(replies.count, 1, "only the request for 10.77.1.254 on h1 is answered")
        let r = replies[0]
        XCTAssertEqual(mac(r, 0), RouterBed.host1)
        XCTAssertEqual(mac(r, 6), RouterBed.portMACs[0])
        XCTAssertEqual(Array(r[20...21]), [0, 2])
        XCTAssertEqual(mac(r, 22), RouterBed.portMACs[0])
        XCTAssertEqual(Array(r[28...31]), [10, 77, 1, 254])
        XCTAssertEqual(mac(r, 32), RouterBed.host1)
        XCTAssertEqual(Array(r[38...41]), [10, 77, 1, 1])
        XCTAssertEqual(bed.dp.counters[0].consumed, 2)
        XCTAssertEqual(bed.dp.router.neighbours.lookup(h1, now: 1_000)?.rawValue, RouterBed.host1, "learned from the request")
    }

    func testAnswersPingToItsAddress() {
        let bed = RouterBed()
        bed.receive(Frames.icmpEcho(dstMAC: RouterBed.portMACs[0], srcMAC: RouterBed.host1, src: h1, dst: parseIPv4("10.77.1.254")!))
        bed.forward(ingress: 0)
        let r = bed.drain(0)
        XCTAssertEqual(r.count, 1)
        let f = r[0]
        XCTAssertEqual(mac(f, 0), RouterBed.host1)
        XCTAssertEqual(Array(f[26...29]), [10, 77, 1, 254], "source is the switch")
        XCTAssertEqual(Array(f[30...33]), [10, 77, 1, 1])
        XCTAssertEqual(f[34], 0, "echo reply")
        XCTAssertTrue(ipv4HeaderValid(f))
        XCTAssertEqual(f.withUnsafeBytes { internetChecksum($0.baseAddress! + 34, count: f.count - 34) }, 0, "ICMP checksum valid")
        XCTAssertEqual(bed.dp.counters[0].icmpEchoReplies, 1)
    }

    func testECMPSpreadsFlowsOverUplinksAndKeepsEachFlowOnOnePath() {
        let bed = RouterBed()
        var perLink = [0, 0]
        var pathOf: [UInt16: Int] = [:]
        for round in 0..<2 {
            for sport in UInt16(0xC000)..<UInt16(0xC000 + 256) {
                bed.receive(Frames.udp4(dstMAC: RouterBed.portMACs[0], srcMAC: RouterBed.host1, src: h1,
                                        dst: parseIPv4("10.99.5.5")!, sport: sport, dport: 5000))
                bed.forward(ingress: 0)
                let a = bed.drain(2), b = bed.drain(3)
                XCTAssertEqual(a.count + b.count, 1)
                if a.count + b.count != 1 { return }
                let link = a.isEmpty ? 1 : 0
                if round == 0 { perLink[link] += 1; pathOf[sport] = link } else { XCTAssertEqual(pathOf[sport], link, "flow moved") }
                let f = (a + b)[0]
                XCTAssertEqual(mac(f, 0), link == 0 ? RouterBed.spine1 : RouterBed.spine2)
            }
        }
        XCTAssertGreaterThan(perLink[0], 90, "\(perLink)")
        XCTAssertGreaterThan(perLink[1], 90, "\(perLink)")
        // UDP 4791 whose BTH opcode is unknown: counted as a parse error, still routed.
        bed.receive(Frames.udp4(dstMAC: RouterBed.portMACs[0], srcMAC: RouterBed.host1, src: h1,
                                dst: parseIPv4("10.99.5.5")!, sport: 0xC001, dport: 4791))
        bed.forward(ingress: 0)
        XCTAssertEqual(bed.drain(2).count + bed.drain(3).count, 1)
        XCTAssertEqual(bed.dp.counters[0].parseErrors[raw: Int(ParseError.unknownRoCEOpcode.rawValue)], 1)
        XCTAssertEqual(bed.dp.counters[0].drops[.malformed], 0)
    }

    func testRoCEv2FromScapyKeepsItsICRCAndIsClassified() throws {
        // The scapy frame (Golden/): 10.77.1.1 -> 10.77.2.1, DSCP 26, to MAC 02:5f:00:00:00:02.
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../FabricPacketTests/Golden/golden.json")
        let data = try Data(contentsOf: url)
        let json = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        let cases = json["cases"] as! [[String: Any]]
        let hex = cases.first { $0["name"] as? String == "ipv4-rc-rdma-write-only-reth" }!["hex"] as! String
        var bytes: [UInt8] = []
        var it = hex.makeIterator()
        while let a = it.next(), let b = it.next() { bytes.append(UInt8(String([a, b]), radix: 16)!) }

        let bed = RouterBed()
        bed.receive(Frames.arp(op: 2, dstMAC: RouterBed.portMACs[1], sha: RouterBed.host2, spa: h2, tha: 0, tpa: parseIPv4("10.77.2.254")!))
        bed.forward(ingress: 1)
        bed.receive(bytes)
        bed.forward(ingress: 0)
        XCTAssertEqual(bed.batch.tc[0], 3, "DSCP 26 -> TC3 (nvidia-roce)")
        XCTAssertEqual(bed.dp.counters[0].roceFrames, 1)
        let out = bed.drain(1)
        XCTAssertEqual(out.count, 1)
        let f = out[0]
        XCTAssertEqual(f[22], 63)
        XCTAssertTrue(ipv4HeaderValid(f))
        f.withUnsafeBytes { p in
            XCTAssertTrue(ICRC.isValid(ip: p.baseAddress! + 14, l3Length: f.count - 14, ipVersion: 4), "ICRC still valid after routing")
        }
        // Everything from the IP source address on is byte-identical.
        XCTAssertEqual(Array(f[26...]), Array(bytes[26...]))
    }

    /// scapy's neighbour solicitation for the switch's IPv6 address gets exactly scapy's
    /// advertisement back (Golden/make_golden.py builds both).
    func testAnswersNeighbourSolicitationLikeScapySays() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../FabricPacketTests/Golden/golden.json")
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        let c = (json["cases"] as! [[String: Any]]).first { $0["name"] as? String == "ipv6-nd-solicitation" }!
        func hex(_ s: String) -> [UInt8] {
            var out: [UInt8] = []
            var it = s.makeIterator()
            while let a = it.next(), let b = it.next() { out.append(UInt8(String([a, b]), radix: 16)!) }
            return out
        }
        let memory = UnsafeMutableRawPointer.allocate(byteCount: 64 * 2048, alignment: 4096)
        defer { memory.deallocate() }
        let cfg = SwitchConfig(ports: [PortConfig(name: "h1", addresses: [IPPrefix("fd77:1::fe/64", strict: false)!]),
                                       PortConfig(name: "h2", addresses: [IPPrefix("fd77:2::fe/64", strict: false)!])])
        var dp = Datapath(config: cfg, portMACs: [MACAddress("02:5f:00:00:01:fe")!, MACAddress("02:5f:00:00:02:fe")!],
                          frames: memory, pool: FramePool(frameCount: 64, frameSize: 2048), queueCapacity: 16)
        var batch = Batch(capacity: 4)
        let ns = hex(c["hex"] as! String)
        let addr = dp.pool.allocate()! + 256
        ns.withUnsafeBytes { (memory + Int(addr)).copyMemory(from: $0.baseAddress!, byteCount: ns.count) }
        _ = batch.append(addr: addr, len: UInt32(ns.count))
        batch.ingress = 1
        batch.timestamp = 1_000
        dp.forward(&batch)
        let f = try XCTUnwrap(dp.queues[1].dequeue())
        let reply = Array(UnsafeRawBufferPointer(start: memory + Int(f.addr), count: Int(f.len)))
        XCTAssertEqual(reply, hex(c["reply"] as! String))
        XCTAssertEqual(dp.router.neighbours.lookup(IPv6Address("fd77:2::1")!, now: 2_000)?.description, "02:5f:00:00:00:02",
                       "learned the asker from its source link-layer option")
        // The same solicitation on the other port (not that port's address) is not answered.
        let addr2 = dp.pool.allocate()! + 256
        ns.withUnsafeBytes { (memory + Int(addr2)).copyMemory(from: $0.baseAddress!, byteCount: ns.count) }
        _ = batch.append(addr: addr2, len: UInt32(ns.count))
        batch.ingress = 0
        dp.forward(&batch)
        XCTAssertTrue(dp.queues[0].isEmpty)
        XCTAssertEqual(dp.counters[0].consumed, 1)
    }

    func testDropsAreCountedByReason() {
        let bed = RouterBed()
        let me = RouterBed.portMACs[0]
        bed.receive(Frames.udp4(dstMAC: me, srcMAC: RouterBed.host1, src: h1, dst: parseIPv4("192.0.2.1")!, sport: 1, dport: 2))      // no route
        bed.receive(Frames.udp4(dstMAC: me, srcMAC: RouterBed.host1, src: h1, dst: h2, sport: 1, dport: 2, ttl: 1))                     // TTL
        bed.receive(Frames.udp4(dstMAC: 0x02_00_00_00_00_99, srcMAC: RouterBed.host1, src: h1, dst: h2, sport: 1, dport: 2))            // not our MAC
        bed.receive(Array(Frames.udp4(dstMAC: me, srcMAC: RouterBed.host1, src: h1, dst: h2, sport: 1, dport: 2).prefix(30)))          // truncated IPv4
        bed.receive(Frames.eth(me, RouterBed.host1, 0x88CC) + [UInt8](repeating: 0, count: 46))                                         // LLDP ethertype
        var frag = Frames.udp4(dstMAC: me, srcMAC: RouterBed.host1, src: h1, dst: parseIPv4("192.0.2.1")!, sport: 1, dport: 2)
        frag[20] = 0x20                                                                                                                 // MF: a fragment
        frag[24] = 0; frag[25] = 0
        let c = frag.withUnsafeBytes { internetChecksum($0.baseAddress! + 14, count: 20) }
        frag[24] = UInt8(c >> 8); frag[25] = UInt8(c & 0xFF)
        bed.receive(frag)
        bed.forward(ingress: 0)
        XCTAssertEqual(bed.dp.counters[0].l4Skipped, 1, "the fragment is counted as routed without L4")
        let d = bed.dp.counters[0].drops
        XCTAssertEqual(d[.noRoute], 2)
        XCTAssertEqual(d[.ttlExpired], 1)
        XCTAssertEqual(d[.notRoutable], 2)
        XCTAssertEqual(d[.malformed], 1)
        XCTAssertEqual(bed.dp.counters[0].parseErrors[raw: Int(ParseError.truncatedIPv4.rawValue)], 1)
        XCTAssertTrue(bed.ledgerBalances)
    }

    func testUnansweredARPTimesOutAndCountsTheHeldFrames() {
        let bed = RouterBed()
        for i in 0..<3 {
            bed.receive(Frames.udp4(dstMAC: RouterBed.portMACs[0], srcMAC: RouterBed.host1, src: h1, dst: h2, sport: UInt16(i), dport: 9))
        }
        bed.forward(ingress: 0, now: 0)
        XCTAssertEqual(bed.dp.pendingFrames, 3)
        bed.dp.expirePending(now: 500_000_000)
        XCTAssertEqual(bed.dp.pendingFrames, 3, "not yet")
        bed.dp.expirePending(now: 1_000_000_000)
        XCTAssertEqual(bed.dp.pendingFrames, 0)
        XCTAssertEqual(bed.dp.counters[1].drops[.neighbourUnresolved], 3)
        _ = bed.drain(1)
        XCTAssertTrue(bed.ledgerBalances)
    }

    func testPendingQueueIsBounded() {
        let bed = RouterBed()
        var sent = 0
        while sent < 300 {
            for _ in 0..<60 {
                bed.receive(Frames.udp4(dstMAC: RouterBed.portMACs[0], srcMAC: RouterBed.host1, src: h1, dst: h2, sport: 7, dport: 9))
            }
            bed.forward(ingress: 0)
            _ = bed.drain(1)
            sent += 60
        }
        XCTAssertEqual(bed.dp.pendingFrames, 256)
        XCTAssertEqual(bed.dp.counters[1].drops[.pendingFull], UInt64(sent - 256))
    }
}

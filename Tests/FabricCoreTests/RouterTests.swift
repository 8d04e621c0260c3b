import FabricPacket
import FabricTestSupport
import XCTest
@testable import FabricCore

final class RouterTests: XCTestCase {
    let h1 = parseIPv4("10.77.1.1")!, h2 = parseIPv4("10.77.2.1")!

    func testRoutesBetweenConnectedSubnetsAfterARP() {
        let bed = RouterLab.make()
        // h2's MAC is unknown: the frame is held and an ARP request goes out on h2's port.
        bed.receive(Frames.udp4(dstMAC: RouterLab.portMACs[0], srcMAC: RouterLab.host1, src: h1, dst: h2, sport: 4000, dport: 5000))
        bed.forward(ingress: 0)
        XCTAssertEqual(bed.dp.pendingFrames, 1)
        let req = bed.drain(1)
        XCTAssertEqual(req.count, 1)
        XCTAssertEqual(mac(req[0], 0), 0xFFFF_FFFF_FFFF)
        XCTAssertEqual(Array(req[0][12...13]), [0x08, 0x06])
        XCTAssertEqual(Array(req[0][20...21]), [0, 1], "ARP request")
        XCTAssertEqual(mac(req[0], 22), RouterLab.portMACs[1], "sender MAC = port MAC")
        XCTAssertEqual(Array(req[0][28...31]), [10, 77, 2, 254], "sender IP = port address")
        XCTAssertEqual(Array(req[0][38...41]), [10, 77, 2, 1], "target IP")
        XCTAssertEqual(bed.dp.counters[1].arpRequestsSent, 1)
        // A second packet to the same host does not ask again.
        bed.receive(Frames.udp4(dstMAC: RouterLab.portMACs[0], srcMAC: RouterLab.host1, src: h1, dst: h2, sport: 4000, dport: 5000))
        bed.forward(ingress: 0, now: 2_000)
        XCTAssertEqual(bed.drain(1).count, 0)
        XCTAssertEqual(bed.dp.pendingFrames, 2)

        // h2 answers: both held frames go out, rewritten, in order.
        bed.receive(Frames.arp(op: 2, dstMAC: RouterLab.portMACs[1], sha: RouterLab.host2, spa: h2, tha: RouterLab.portMACs[1], tpa: parseIPv4("10.77.2.254")!))
        bed.forward(ingress: 1, now: 3_000)
        let out = bed.drain(1)
        XCTAssertEqual(out.count, 2)
        for f in out {
            XCTAssertEqual(mac(f, 0), RouterLab.host2)
            XCTAssertEqual(mac(f, 6), RouterLab.portMACs[1])
            XCTAssertEqual(f[22], 63, "TTL decremented")
            XCTAssertTrue(ipv4HeaderValid(f))
        }
        XCTAssertEqual(bed.dp.pendingFrames, 0)
        XCTAssertEqual(bed.dp.counters[1].consumed, 1, "the ARP reply is consumed")
        XCTAssertTrue(bed.ledgerBalances)
    }

    func testAnswersARPForItsOwnAddressOnlyOnThatPort() {
        let bed = RouterLab.make()
        bed.receive(Frames.arp(op: 1, dstMAC: 0xFFFF_FFFF_FFFF, sha: RouterLab.host1, spa: h1, tha: 0, tpa: parseIPv4("10.77.1.254")!))
        bed.receive(Frames.arp(op: 1, dstMAC: 0xFFFF_FFFF_FFFF, sha: RouterLab.host1, spa: h1, tha: 0, tpa: parseIPv4("10.77.2.254")!))
        bed.receive(Frames.arp(op: 1, dstMAC: 0xFFFF_FFFF_FFFF, sha: RouterLab.host1, spa: h1, tha: 0, tpa: parseIPv4("10.77.1.7")!))
        bed.forward(ingress: 0)
        let replies = bed.drain(0)
        XCTAssertEqual(replies.count, 1, "only the request for 10.77.1.254 on h1 is answered")
        let r = replies[0]
        XCTAssertEqual(mac(r, 0), RouterLab.host1)
        XCTAssertEqual(mac(r, 6), RouterLab.portMACs[0])
        XCTAssertEqual(Array(r[20...21]), [0, 2])
        XCTAssertEqual(mac(r, 22), RouterLab.portMACs[0])
        XCTAssertEqual(Array(r[28...31]), [10, 77, 1, 254])
        XCTAssertEqual(mac(r, 32), RouterLab.host1)
        XCTAssertEqual(Array(r[38...41]), [10, 77, 1, 1])
        XCTAssertEqual(bed.dp.counters[0].consumed, 2)
        XCTAssertEqual(bed.dp.router.neighbours.lookup(h1, now: 1_000)?.rawValue, RouterLab.host1, "learned from the request")
    }

    func testAnswersPingToItsAddress() {
        let bed = RouterLab.make()
        bed.receive(Frames.icmpEcho(dstMAC: RouterLab.portMACs[0], srcMAC: RouterLab.host1, src: h1, dst: parseIPv4("10.77.1.254")!))
        bed.forward(ingress: 0)
        let r = bed.drain(0)
        XCTAssertEqual(r.count, 1)
        let f = r[0]
        XCTAssertEqual(mac(f, 0), RouterLab.host1)
        XCTAssertEqual(Array(f[26...29]), [10, 77, 1, 254], "source is the switch")
        XCTAssertEqual(Array(f[30...33]), [10, 77, 1, 1])
        XCTAssertEqual(f[34], 0, "echo reply")
        XCTAssertTrue(ipv4HeaderValid(f))
        XCTAssertEqual(f.withUnsafeBytes { internetChecksum($0.baseAddress! + 34, count: f.count - 34) }, 0, "ICMP checksum valid")
        XCTAssertEqual(bed.dp.counters[0].icmpEchoReplies, 1)
    }

    func testECMPSpreadsFlowsOverUplinksAndKeepsEachFlowOnOnePath() {
        let bed = RouterLab.make()
        var perLink = [0, 0]
        var pathOf: [UInt16: Int] = [:]
        for round in 0..<2 {
            for sport in UInt16(0xC000)..<UInt16(0xC000 + 256) {
                bed.receive(Frames.udp4(dstMAC: RouterLab.portMACs[0], srcMAC: RouterLab.host1, src: h1,
                                        dst: parseIPv4("10.99.5.5")!, sport: sport, dport: 5000))
                bed.forward(ingress: 0)
                let a = bed.drain(2), b = bed.drain(3)
                XCTAssertEqual(a.count + b.count, 1)
                if a.count + b.count != 1 { return }
                let link = a.isEmpty ? 1 : 0
                if round == 0 { perLink[link] += 1; pathOf[sport] = link } else { XCTAssertEqual(pathOf[sport], link, "flow moved") }
                let f = (a + b)[0]
                XCTAssertEqual(mac(f, 0), link == 0 ? RouterLab.spine1 : RouterLab.spine2)
            }
        }
        XCTAssertGreaterThan(perLink[0], 90, "\(perLink)")
        XCTAssertGreaterThan(perLink[1], 90, "\(perLink)")
        // UDP 4791 whose BTH opcode is unknown: counted as a parse error, still routed.
        bed.receive(Frames.udp4(dstMAC: RouterLab.portMACs[0], srcMAC: RouterLab.host1, src: h1,
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

        let bed = RouterLab.make()
        bed.receive(Frames.arp(op: 2, dstMAC: RouterLab.portMACs[1], sha: RouterLab.host2, spa: h2, tha: 0, tpa: parseIPv4("10.77.2.254")!))
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
        let f = try XCTUnwrap(dp.egress[1].dequeue())
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
        XCTAssertTrue(dp.egress[0].isEmpty)
        XCTAssertEqual(dp.counters[0].consumed, 1)
    }

    func testDropsAreCountedByReason() {
        let bed = RouterLab.make()
        let me = RouterLab.portMACs[0]
        bed.receive(Frames.udp4(dstMAC: me, srcMAC: RouterLab.host1, src: h1, dst: parseIPv4("192.0.2.1")!, sport: 1, dport: 2))      // no route
        bed.receive(Frames.udp4(dstMAC: me, srcMAC: RouterLab.host1, src: h1, dst: h2, sport: 1, dport: 2, ttl: 1))                     // TTL
        bed.receive(Frames.udp4(dstMAC: 0x02_00_00_00_00_99, srcMAC: RouterLab.host1, src: h1, dst: h2, sport: 1, dport: 2))            // not our MAC
        bed.receive(Array(Frames.udp4(dstMAC: me, srcMAC: RouterLab.host1, src: h1, dst: h2, sport: 1, dport: 2).prefix(30)))          // truncated IPv4
        bed.receive(Frames.eth(me, RouterLab.host1, 0x88CC) + [UInt8](repeating: 0, count: 46))                                         // LLDP ethertype
        var frag = Frames.udp4(dstMAC: me, srcMAC: RouterLab.host1, src: h1, dst: parseIPv4("192.0.2.1")!, sport: 1, dport: 2)
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
        let bed = RouterLab.make()
        for i in 0..<3 {
            bed.receive(Frames.udp4(dstMAC: RouterLab.portMACs[0], srcMAC: RouterLab.host1, src: h1, dst: h2, sport: UInt16(i), dport: 9))
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
        let bed = RouterLab.make()
        var sent = 0
        while sent < 300 {
            for _ in 0..<60 {
                bed.receive(Frames.udp4(dstMAC: RouterLab.portMACs[0], srcMAC: RouterLab.host1, src: h1, dst: h2, sport: 7, dport: 9))
            }
            bed.forward(ingress: 0)
            _ = bed.drain(1)
            sent += 60
        }
        XCTAssertEqual(bed.dp.pendingFrames, 128, "one port may hold half of the 256")
        XCTAssertEqual(bed.dp.counters[1].drops[.pendingFull], UInt64(sent - 128))
    }
}

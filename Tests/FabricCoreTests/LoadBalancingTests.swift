import XCTest
@testable import FabricCore

final class LoadBalancingTests: XCTestCase {
    /// Ports 0...3 as the members of one group.
    let ports: [Int32] = [0, 1, 2, 3]

    func withPorts<R>(_ body: (UnsafePointer<Int32>) -> R) -> R { ports.withUnsafeBufferPointer { body($0.baseAddress!) } }

    /// Bands from a load of `bytesPerSample[p]` per 16 us sample and `queued[p]` bytes.
    func sampled(speeds: [Double?], bytesPerSample: [UInt64], queued: [Int], samples: Int = 64) -> PortLoad {
        var load = PortLoad(portSpeedsGbps: speeds, timeConstantNanoseconds: 8 * PortLoad.interval)
        var tx = [UInt64](repeating: 0, count: speeds.count)
        var now: UInt64 = 1_000
        for _ in 0...samples {
            load.sample(now: now, txBytes: { tx[$0] }, queuedBytes: { queued[$0] })
            for p in 0..<tx.count { tx[p] += bytesPerSample[p] }
            now += PortLoad.interval
        }
        return load
    }

    func testBandsFollowUtilisationAndQueueRelativeToEachPortsSpeed() {
        // 16 us at 10G is 20000 bytes. Port 0 idle, 1 at 50%, 2 saturated; port 3 at 5G gets the
        // same bytes as port 1 and is saturated by them.
        let load = sampled(speeds: [10, 10, 10, 5], bytesPerSample: [0, 10_000, 20_000, 10_000], queued: [0, 0, 0, 0])
        XCTAssertEqual(load.band[0], 0)
        XCTAssertEqual(load.band[1], 3, "50% -> band 3 or 4 (EWMA from 0 converges from below): \(load.utilisation[1])")
        XCTAssertEqual(load.band[2], 7)
        XCTAssertEqual(load.band[3], 7, "a half-speed member is saturated by half the bytes")
        XCTAssertEqual(load.utilisation[1], 0.5, accuracy: 0.01)
        // Queue: at 10G (1.25 B/ns), 16 us of drain is 20000 B per band.
        let q = sampled(speeds: [10, 10, 10, 1], bytesPerSample: [0, 0, 0, 0], queued: [0, 19_999, 60_000, 2_000])
        XCTAssertEqual(q.band[0], 0)
        XCTAssertEqual(q.band[1], 0)
        XCTAssertEqual(q.band[2], 3)
        XCTAssertEqual(q.band[3], 1, "2000 B at 1G drain in 16 us")
    }

    func testBestMemberIsTheLowestBandWithRandomTies() {
        let load = PortLoad(portSpeedsGbps: [nil, nil, nil, nil])
        load.band[0] = 5; load.band[1] = 2; load.band[2] = 2; load.band[3] = 6
        var sel = AdaptivePathSelector(load: load)
        var counts = [0, 0, 0, 0]
        withPorts { p in for _ in 0..<10_000 { counts[sel.best(ports: p, memberCount: 4)] += 1 } }
        XCTAssertEqual(counts[0] + counts[3], 0, "never a worse band: \(counts)")
        XCTAssertEqual(Double(counts[1]) / 10_000, 0.5, accuracy: 0.03, "ties split evenly: \(counts)")
    }

    /// Members of different speeds: a new flowlet takes the largest share of a port's speed,
    /// speed / (active data flowlets + 1), then the lowest band; a 200 and a 100 Mb/s member
    /// take flowlets 2:1.
    func testUnequalMembersShareBySpeedThenBand() {
        let load = PortLoad(portSpeedsGbps: [0.2, 0.1, 0.2, 0.1])
        var sel = AdaptivePathSelector(load: load, tableSize: 4096, idleNanoseconds: 1_000_000)
        let pair: [Int32] = [0, 1]
        pair.withUnsafeBufferPointer { b in
            let p = b.baseAddress!
            load.band[0] = 3                // busier by band, but empty: 200 Mb/s beats 100
            XCTAssertEqual(sel.best(ports: p, memberCount: 2), 0)
            // Flowlets placed one after another, none ending: fast, then a tie (band decides: the
            // fast one is the worse), then fast again...
            load.band[0] = 0
            var on = [0, 0]
            for f in 0..<30 {
                let m = sel.select(target: 0, mode: .flowlet, ports: p, memberCount: 2, flowHash: UInt32(f) &* 0x9E37_79B9 | 1, length: 1000, now: 1_000_000)
                on[m] += 1
                load.band[0] = UInt8(min(7, on[0] / 2)); load.band[1] = UInt8(min(7, on[1]))
            }
            XCTAssertEqual(sel.activeFlowlets(port: 0), on[0])
            XCTAssertEqual(Double(on[0]) / Double(on[1]), 2, accuracy: 0.25, "flowlets 2:1 by speed: \(on)")
            // Equal shares (one flowlet on the fast member, none on the slow): the lower band.
        }
        var two = AdaptivePathSelector(load: load, tableSize: 4096, idleNanoseconds: 1_000_000)
        pair.withUnsafeBufferPointer { b in
            let p = b.baseAddress!
            load.band[0] = 0; load.band[1] = 0
            XCTAssertEqual(two.select(target: 0, mode: .flowlet, ports: p, memberCount: 2, flowHash: 7, length: 1000, now: 1_000), 0)
            load.band[0] = 2
            XCTAssertEqual(two.best(ports: p, memberCount: 2), 1, "equal shares: the lower band")
            load.band[0] = 0; load.band[1] = 2
            XCTAssertEqual(two.best(ports: p, memberCount: 2), 0)
            load.band[1] = 0
            var counts = [0, 0]
            for _ in 0..<2_000 { counts[two.best(ports: p, memberCount: 2)] += 1 }
            XCTAssertEqual(Double(counts[0]) / 2_000, 0.5, accuracy: 0.05, "equal shares and bands: a coin toss \(counts)")
            // A down member is never chosen.
            load.up[0] = false
            XCTAssertEqual(two.best(ports: p, memberCount: 2), 1)
            load.up[0] = true
        }
    }

    func testFlowletKeepsItsMemberWithinTheIdleTimeAndMovesAfterAGap() {
        let load = PortLoad(portSpeedsGbps: [nil, nil, nil, nil])
        for p in 0..<4 { load.band[p] = 7 }
        load.band[2] = 0
        var sel = AdaptivePathSelector(load: load, tableSize: 4096, idleNanoseconds: 256_000)
        withPorts { p in
            let flow: UInt32 = 0xDEAD_BEEF
            XCTAssertEqual(sel.select(target: 0, mode: .flowlet, ports: p, memberCount: 4, flowHash: flow, length: 1000, now: 1_000_000), 2)
            XCTAssertEqual(sel.newFlowlets, 1)
            // Member 2 becomes the worst, 0 the best; packets 200 us apart stay on 2 (no reordering).
            load.band[2] = 7; load.band[0] = 0
            var t: UInt64 = 1_000_000
            for _ in 0..<20 {
                t += 200_000
                XCTAssertEqual(sel.select(target: 0, mode: .flowlet, ports: p, memberCount: 4, flowHash: flow, length: 1000, now: t), 2)
            }
            XCTAssertEqual(sel.newFlowlets, 1)
            // A 257 us gap: a new flowlet, on member 0.
            t += 257_000
            XCTAssertEqual(sel.select(target: 0, mode: .flowlet, ports: p, memberCount: 4, flowHash: flow, length: 1000, now: t), 0)
            XCTAssertEqual(sel.newFlowlets, 2)
            XCTAssertEqual(sel.pathChanges, 1)
            // Exactly the idle time is still the same flowlet.
            t += 256_000
            XCTAssertEqual(sel.select(target: 0, mode: .flowlet, ports: p, memberCount: 4, flowHash: flow, length: 1000, now: t), 0)
            XCTAssertEqual(sel.newFlowlets, 2)
            // Another flow on the same entry while it is active: a collision, it shares member 0.
            load.band[0] = 7; load.band[1] = 0
            let other = flow ^ 0x4000_0000        // same low 12 bits: same entry of 4096
            XCTAssertEqual(sel.select(target: 0, mode: .flowlet, ports: p, memberCount: 4, flowHash: other, length: 1000, now: t + 10), 0)
            XCTAssertEqual(sel.collisions, 1)
            // After the entry went idle, the other flow takes it over on the best member.
            XCTAssertEqual(sel.select(target: 0, mode: .flowlet, ports: p, memberCount: 4, flowHash: other, length: 1000, now: t + 400_000), 1)
            XCTAssertEqual(sel.newFlowlets, 3)
            XCTAssertEqual(sel.pathChanges, 1, "a different flow taking the entry is not a path change")
        }
    }

    /// A collective's step starts its flows within microseconds, before any load sample can
    /// show the first of them: the active data flowlets on each member spread them evenly,
    /// small frames (ACKs) do not count, a flow that pauses past the idle time keeps its member
    /// when that is as good as any, and an expired flowlet stops counting.
    func testFlowletsStartingTogetherSpreadByActiveDataFlowlets() {
        let load = PortLoad(portSpeedsGbps: [nil, nil, nil, nil])
        var sel = AdaptivePathSelector(load: load, tableSize: 4096, idleNanoseconds: 1_000_000)
        let uplinks: [Int32] = [2, 3]
        uplinks.withUnsafeBufferPointer { b in
            let p = b.baseAddress!
            for trial in 0..<50 {
                let base = UInt64(trial) * 100_000_000 + 1_000_000
                // An ACK flow first (small frames): it must not count.
                _ = sel.select(target: 0, mode: .flowlet, ports: p, memberCount: 2, flowHash: UInt32(trial * 16 + 9), length: 60, now: base)
                var placed = [0, 0]
                for f in 0..<4 {
                    let hash = UInt32(trial * 16 + f) | 0x1000
                    placed[sel.select(target: 0, mode: .flowlet, ports: p, memberCount: 2, flowHash: hash, length: 1084, now: base + UInt64(f))] += 1
                }
                XCTAssertEqual(placed, [2, 2], "four flows starting together split 2-2 (trial \(trial))")
                XCTAssertEqual(sel.activeFlowlets(port: 2) + sel.activeFlowlets(port: 3), 4)
                // Every flow pauses 2 ms (a step boundary) and resumes: each keeps its member.
                var again = [0, 0]
                for f in 0..<4 {
                    let hash = UInt32(trial * 16 + f) | 0x1000
                    again[sel.select(target: 0, mode: .flowlet, ports: p, memberCount: 2, flowHash: hash, length: 1084, now: base + 2_000_000 + UInt64(f))] += 1
                }
                XCTAssertEqual(again, [2, 2])
                // 50 ms later every flowlet has expired: a sweep of the whole table uncounts them.
                for k in 0..<16 { sel.expire(now: base + 50_000_000 + UInt64(k) * 250_000) }
                XCTAssertEqual(sel.activeFlowlets(port: 2) + sel.activeFlowlets(port: 3), 0, "expired flowlets stop counting")
            }
        }
        XCTAssertEqual(sel.pathChanges, 0, "a flow moves only to a clearly better member")
    }

    /// A member whose link is down: ECMP moves only the flows that hashed onto it (resilient),
    /// a flowlet on it moves with its next packet however short the gap, spray never picks
    /// it, and each flow's failover is recorded once per down event.
    func testADownMemberIsSkippedAndOnlyItsFlowsMove() {
        let load = PortLoad(portSpeedsGbps: [nil, nil, nil, nil])
        var sel = AdaptivePathSelector(load: load, tableSize: 4096, idleNanoseconds: 1_000_000)
        withPorts { p in
            let flows = (0..<400).map { UInt32($0) &* 2_654_435_761 }
            let before = flows.map { sel.select(target: 0, mode: .ecmp, ports: p, memberCount: 4, flowHash: $0, length: 1000, now: 1_000) }
            XCTAssertEqual(Set(before), [0, 1, 2, 3])
            load.up[2] = false
            sel.linkWentDown(port: 2)
            let after = flows.map { sel.select(target: 0, mode: .ecmp, ports: p, memberCount: 4, flowHash: $0, length: 1000, now: 2_000) }
            for (b, a) in zip(before, after) {
                if b == 2 { XCTAssertNotEqual(a, 2, "a flow on the dead member moves") } else { XCTAssertEqual(a, b, "a flow on a live member stays") }
            }
            let moved = before.filter { $0 == 2 }.count
            XCTAssertEqual(sel.failoverCount, moved, "one failover per moved flow")
            XCTAssertTrue(sel.failovers.allSatisfy { $0.fromPort == 2 && $0.toPort != 2 && $0.lastOnDead == 1_000 && $0.firstOnLive == 2_000 })
            // Again: recorded once per flow and down event.
            for f in flows { _ = sel.select(target: 0, mode: .ecmp, ports: p, memberCount: 4, flowHash: f, length: 1000, now: 3_000) }
            XCTAssertEqual(sel.failoverCount, moved)
            // The moved flows spread over the three live members, not onto one.
            let targets = Set(zip(before, after).filter { $0.0 == 2 }.map(\.1))
            XCTAssertEqual(targets.count, 3, "rehashed over every live member")

            // Flowlet: a flow on member 1 keeps sending 10 us apart; member 1 goes down.
            load.up[2] = true
            let flow: UInt32 = 0xABCD_0001
            var t: UInt64 = 10_000_000
            var m = sel.select(target: 0, mode: .flowlet, ports: p, memberCount: 4, flowHash: flow, length: 1000, now: t)
            load.up[Int(p[m])] = false
            sel.linkWentDown(port: Int(p[m]))
            t += 10_000
            let next = sel.select(target: 0, mode: .flowlet, ports: p, memberCount: 4, flowHash: flow, length: 1000, now: t)
            XCTAssertNotEqual(next, m, "a flowlet leaves a dead member at once, gap or not")
            XCTAssertTrue(sel.failovers.contains { $0.flowHash == flow && $0.nanoseconds == 10_000 })
            load.up[Int(p[m])] = true
            m = next

            // Spray: never the dead member.
            load.up[0] = false
            var counts = [0, 0, 0, 0]
            for i in 0..<3000 { counts[sel.select(target: 9, mode: .spray, ports: p, memberCount: 4, flowHash: 1, length: 1000, now: UInt64(i))] += 1 }
            XCTAssertEqual(counts[0], 0, "\(counts)")
            // Every member down: nothing to choose (the data path drops as link_down).
            for k in 0..<4 { load.up[k] = false }
            _ = sel.select(target: 0, mode: .ecmp, ports: p, memberCount: 4, flowHash: 7, length: 1000, now: 1)
        }
    }

    func testEcmpModeIsTheHashWhateverTheLoad() {
        let load = PortLoad(portSpeedsGbps: [nil, nil, nil, nil])
        var sel = AdaptivePathSelector(load: load)
        withPorts { p in
            for h in stride(from: UInt32(1), to: 4_000_000_000, by: 77_777_777) {
                load.band[Int(h % 4)] = UInt8(h % 8)
                XCTAssertEqual(sel.select(target: 0, mode: .ecmp, ports: p, memberCount: 4, flowHash: h, length: 100, now: UInt64(h)),
                               HashPathSelector.hash(h, 4))
            }
        }
    }

    func testSprayAvoidsTheLoadedMemberAndSpreadsOverTheRest() {
        let load = PortLoad(portSpeedsGbps: [nil, nil, nil, nil])
        load.band[3] = 6
        var sel = AdaptivePathSelector(load: load)
        var counts = [0, 0, 0, 0]
        withPorts { p in
            for i in 0..<3000 {
                counts[sel.select(target: 7, mode: .spray, ports: p, memberCount: 4, flowHash: 42, length: 1000, now: UInt64(i))] += 1
            }
        }
        XCTAssertEqual(counts[3], 0, "the loaded member: \(counts)")
        // Between samples the bytes assigned balance the others (one flow, every member used).
        for k in 0..<3 { XCTAssertEqual(Double(counts[k]) / 3000, 1.0 / 3, accuracy: 0.05, "\(counts)") }
        XCTAssertEqual(sel.sprayed, 3000)
    }
}

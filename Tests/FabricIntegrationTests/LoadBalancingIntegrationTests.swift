import FabricCore
import FabricLab
import Foundation
import XCTest

/// Flowlet and spray load balancing on the leaf-spine test bed: 2 spines, 2 leaves, 4 hosts
/// per leaf, 4 switches each in its own namespace, real RoCEv2 traffic.
final class LoadBalancingIntegrationTests: LabTestCase {
    func makeLeafSpine(_ topology: Topology = .leafSpine(uplinkGbps: 0.5)) throws -> TopologyTestbed {
        let tb = TopologyTestbed(topology: topology, prefix: "ls" + String(UUID().uuidString.prefix(5)).lowercased())
        addTeardownBlock {
            tb.down()
            XCTAssertEqual(tb.existingNamespaces(), [], "test bed namespaces left behind")
        }
        try tb.up()
        return tb
    }

    /// Two elephants, h1 -> h5 and h2 -> h6, 50 Mb/s each in 64 KB bursts at 1 Gb/s (a burst
    /// every 10.5 ms), with QPs chosen so ECMP hashes both onto leaf1's uplink to spine1.
    func elephants(_ lab: LoadBalanceLab) -> (Pattern, WorkloadOptions) {
        var o = WorkloadOptions()
        o.seconds = 3
        o.rateGbps = 0.05
        o.queuePairs = 1
        o.messageBytes = 65536
        o.extraSenderArguments = ["--burst", "1"]
        o.remoteQPs = [0: lab.remoteQP(from: 1, to: 5, member: 0, members: 2, start: 0x1000),
                       1: lab.remoteQP(from: 2, to: 6, member: 0, members: 2, start: 0x2000)]
        return (.flows([.init(1, 5), .init(2, 6)]), o)
    }

    func testFlowletsUnpileTheElephantsECMPPilesOnOneUplinkAndSprayReorders() throws {
        let tb = try makeLeafSpine(.leafSpine(uplinkGbps: 0.5, flowletIdleNanoseconds: 10_000_000))
        let lab = LoadBalanceLab(testbed: tb, launcher: launcher)
        var (pattern, o) = elephants(lab)
        o.rateGbps = 0.02
        XCTAssertEqual(lab.ecmpMember(from: 1, to: 5, remoteQP: o.remoteQP(0), members: 2), lab.ecmpMember(from: 2, to: 6, remoteQP: o.remoteQP(1), members: 2))
        let ecmp = try lab.run(mode: .ecmp, pattern: pattern, options: o)
        let flowlet = try lab.run(mode: .flowlet, pattern: pattern, options: o)
        let spray = try lab.run(mode: .spray, pattern: pattern, options: o)
        print(LoadBalanceLab.table([ecmp, flowlet, spray]))
        for r in [ecmp, flowlet, spray] {
            XCTAssertEqual(r.workload.lost, 0, "\(r.mode.name): nothing lost")
            XCTAssertEqual(r.workload.receivedPackets, r.workload.sentPackets, "\(r.mode.name)")
        }
        let (e1, e2) = (ecmp.uplinkBytes["leaf1:s1"] ?? 0, ecmp.uplinkBytes["leaf1:s2"] ?? 0)
        XCTAssertGreaterThan(e1, 20 * max(e2, 1), "ECMP: both elephants on leaf1's uplink to spine1 (\(e1) vs \(e2) bytes)")
        XCTAssertGreaterThan(ecmp.imbalance, 1.9)
        XCTAssertEqual(ecmp.workload.reordered, 0)
        XCTAssertLessThan(flowlet.imbalance, 1.3, "flowlets spread the elephants: \(flowlet.uplinkBytes)")
        XCTAssertGreaterThan(flowlet.newFlowlets, 150, "every 64 KB burst after a gap is a new flowlet")
        XCTAssertLessThanOrEqual(flowlet.reorderedFraction, 0.001, "flowlets do not reorder (\(flowlet.workload.reordered))")
        XCTAssertLessThan(spray.imbalance, 1.3)
        XCTAssertGreaterThan(spray.workload.reordered, 0, "per-packet spraying reorders")
    }

    func testFlowletShiftsLoadAwayFromAHalfSpeedUplink() throws {
        var t = Topology.leafSpine(uplinkGbps: 0.2, flowletIdleNanoseconds: 10_000_000)
        for i in t.links.indices where Set([t.links[i].a.node, t.links[i].b.node]) == ["leaf1", "spine2"] { t.links[i].gbps = 0.1 }
        let tb = try makeLeafSpine(t)
        let lab = LoadBalanceLab(testbed: tb, launcher: launcher)
        var (pattern, o) = elephants(lab)
        o.rateGbps = 0.02
        let flowlet = try lab.run(mode: .flowlet, pattern: pattern, options: o)
        print(LoadBalanceLab.table([flowlet]))
        let (fast, slow) = (Double(flowlet.uplinkBytes["leaf1:s1"] ?? 0), Double(flowlet.uplinkBytes["leaf1:s2"] ?? 0))
        // Members of different speeds take new flowlets by share (speed / (active data flowlets
        // + 1)), then band: measured 1.79-1.89 in three runs (2:1 is the capacity ratio). With
        // bands first, consecutive flowlets alternated: 0.82-1.59. The flowlet timer is 10 ms as
        // in the elephants test: software switches on 2 shared cores differ in delay by more
        // than the default 256 us, and reordering costs go-back-N resends.
        XCTAssertGreaterThan(fast, 1.4 * slow, "more on the 200 Mb/s uplink than on the 100 Mb/s one (\(fast) vs \(slow) bytes)")
        XCTAssertGreaterThan(slow, 0, "the slow uplink is still used")
        XCTAssertEqual(flowlet.workload.lost, 0)
    }

    /// The collision tax on a ring all-reduce (the `fabric balance` scenario, CI-sized): ranks
    /// h1,h5,h2,h6,h3,h7,h4,h8 over 25 Mb/s uplinks (slow enough that a debug build's CPU is
    /// not the bottleneck: 1.37x and 1.44x in two runs, 1.14x at 50 Mb/s), QPs chosen so ECMP hashes all four flows
    /// leaving each leaf onto one uplink. Flowlets spread them and finish the job sooner;
    /// selective repeat, so the few packets flowlets reorder cost no go-back-N.
    func testTheRingAllreduceFinishesSoonerWithFlowletsThanWithCollidingECMP() throws {
        let tb = try makeLeafSpine(.leafSpine(uplinkGbps: 0.025, flowletIdleNanoseconds: 10_000_000))
        let lab = CollisionLab(lab: LoadBalanceLab(testbed: tb, launcher: launcher))
        let ranks = CollisionLab.interleavedRanks(hostsPerLeaf: 4, leaves: 2)
        XCTAssertEqual(ranks, [1, 5, 2, 6, 3, 7, 4, 8])
        var o = CollectiveOptions()
        o.bufferBytes = 1 << 20
        o.reliabilityArguments = ["--transport", "sr"]
        let ecmp = try lab.run(mode: .ecmp, seed: -1, ranks: ranks, options: o)
        let flowlet = try lab.run(mode: .flowlet, seed: -1, ranks: ranks, options: o)
        let ideal = lab.idealSeconds(ranks: ranks, options: o)
        print(CollisionLab.table([ecmp, flowlet], ideal: ideal))
        for r in [ecmp, flowlet] {
            XCTAssertEqual(r.collective.messagesCompleted, 8 * 14, "\(r.mode.name): every chunk of every step acknowledged")
            XCTAssertEqual(r.collective.failedQueuePairs, 0)
            XCTAssertGreaterThan(r.collective.jctSeconds, ideal, "\(r.mode.name): no faster than the uplinks allow")
        }
        for leaf in ["leaf1", "leaf2"] {
            let (a, b) = (ecmp.switches.uplinkBytes["\(leaf):s1"] ?? 0, ecmp.switches.uplinkBytes["\(leaf):s2"] ?? 0)
            XCTAssertGreaterThan(a, 10 * max(b, 1), "ECMP: every flow leaving \(leaf) on its uplink to spine1 (\(a) vs \(b) bytes)")
            let (c, d) = (Double(flowlet.switches.uplinkBytes["\(leaf):s1"] ?? 0), Double(flowlet.switches.uplinkBytes["\(leaf):s2"] ?? 0))
            // Flowlets count the active data flowlets on each uplink, so a step's 4 flows split
            // 2-2 (drawn at random they split 3-1 as often, 2.1:1 over a run); a flow that moves
            // mid-run shifts some bytes, so the bound is 2:1, not 1:1.
            XCTAssertLessThan(max(c, d) / max(1, min(c, d)), 2, "flowlets split \(leaf)'s flows over both uplinks (\(c) vs \(d) bytes)")
        }
        XCTAssertGreaterThan(ecmp.collective.jctSeconds, 1.2 * flowlet.collective.jctSeconds, "the collision tax")
        let record = lab.record(ecmp, ranks: ranks, options: o)
        XCTAssertEqual(Set(record.flows.flatMap(\.uplinkBytes.keys)), ["leaf1:s1", "leaf2:s1"], "each flow's ECMP uplink, by the switch's hash")
    }

    /// A leaf-spine link dies mid-collective (`fabric balance --fail leaf1:s1@0.3s`, CI-sized):
    /// leaf1 sees carrier loss and moves the flows on that uplink to the other, the lab gives
    /// every switch the routes without the link (spine1 can no longer reach leaf1), RC resends
    /// what the dead link held. The ring completes under ecmp and flowlet, and the failover is
    /// reported per flow.
    func testTheRingAllreduceCompletesThroughALinkFailure() throws {
        let tb = try makeLeafSpine(.leafSpine(uplinkGbps: 0.05, flowletIdleNanoseconds: 10_000_000))
        let lab = CollisionLab(lab: LoadBalanceLab(testbed: tb, launcher: launcher))
        let ranks = CollisionLab.interleavedRanks(hostsPerLeaf: 4, leaves: 2)
        var o = CollectiveOptions()
        o.bufferBytes = 1 << 20
        let failure = CollisionLab.LinkFailure(link: "leaf1:s1", atSeconds: 0.3)
        var runs: [CollisionRun] = []
        for mode in [LoadBalancingMode.ecmp, .flowlet] {
            // Colliding QPs: under ECMP every flow leaving leaf1 is on the uplink that dies.
            var r = try lab.run(mode: mode, seed: -1, ranks: ranks, options: o, failure: failure)
            if mode == .flowlet, r.failure?.failovers.isEmpty == true {
                // A failover is recorded when a flow on the dead member sends before the lab has
                // reconverged (~200-300 ms). If every such flow happened to be stalled for that
                // long (waiting for its next step or the 268 ms ACK timeout; seen once in a full
                // CI run on 2 loaded cores), nothing met the dead member: run the scenario once
                // more rather than pass it unchecked.
                print("flowlet: no flow met the dead member before reconvergence; running again")
                r = try lab.run(mode: mode, seed: -1, ranks: ranks, options: o, failure: failure)
            }
            runs.append(r)
            let f = try XCTUnwrap(r.failure, "\(mode.name): the failure is recorded")
            print("\(mode.name): link down at \(f.atSeconds) s, reconverged in \(f.reconvergedMilliseconds) ms, failovers "
                  + f.failovers.map { "\($0.from)->\($0.to) \(String(format: "%.2f", $0.milliseconds)) ms" }.joined(separator: ", "))
            XCTAssertEqual(r.collective.messagesCompleted, 8 * 14, "\(mode.name): every chunk of every step acknowledged through the failure")
            XCTAssertEqual(r.collective.failedQueuePairs, 0)
            XCTAssertGreaterThan(f.atSeconds, 0.25, "the link went down mid-run")
            XCTAssertLessThan(f.atSeconds, r.collective.jctSeconds)
            XCTAssertTrue(f.failovers.allSatisfy { $0.from == "s1" && $0.to == "s2" }, "\(f.failovers)")
            // The switch saw the link go down exactly once, and its frames after that went to s2.
            let leaf1 = try tb.stats("leaf1")
            let s1 = try XCTUnwrap(leaf1.ports.first { $0.name == "s1" })
            XCTAssertEqual(s1.linkDowns, 1)
            XCTAssertEqual(s1.linkUp, false, "down when the switch stopped (the lab brings it up afterwards)")
        }
        // Under flowlet the flows on s1 kept sending and each moved with its next packet. (Under
        // colliding ECMP all four of leaf1's flows were on s1, which is congested: with their
        // windows lost on the dead link they often wait for the 268 ms ACK timeout, and by then
        // the routes have converged without s1, so no flow meets the dead member: 0-3 failovers
        // recorded over runs.)
        let flowlet = try XCTUnwrap(runs[1].failure)
        XCTAssertFalse(flowlet.failovers.isEmpty, "flowlet: leaf1 moved flows off s1")
        // (A failover counts from the flow's own last packet on s1: a flow that was waiting for
        // its next step when the link died shows that wait too, 3.6-177 ms over runs.)
        XCTAssertTrue(flowlet.failovers.allSatisfy { $0.milliseconds > 0 }, "\(flowlet.failovers)")
        let record = lab.record(runs[1], ranks: ranks, options: o)
        XCTAssertTrue(record.flows.contains { $0.failoverMilliseconds != nil }, "the JSON names the flows that failed over")
        XCTAssertEqual(try tb.endpoint("leaf1:s1").interface, "s1")
        XCTAssertTrue(try Shell.run(["ip", "-n", tb.namespace("leaf1"), "link", "show", "s1"]).contains("state UP"), "the link is up again after the run")
    }

    /// `fabric ctl route add` under traffic: the route to h5's subnet moves from both spines to
    /// spine2 only and back, five times, while h1 streams RoCEv2 to h5: nothing is lost and no
    /// switch drops a frame (each change is swapped in between two batches).
    func testRouteChangesUnderTrafficLoseNothing() throws {
        let tb = try makeLeafSpine(.leafSpine(uplinkGbps: 0.5))
        let lab = LoadBalanceLab(testbed: tb, launcher: launcher)
        let config = tb.switchConfig("leaf1")
        let subnet = tb.plan.host("h5").addresses.first { if case .v4 = $0.address { true } else { false } }!.network
        let route = try XCTUnwrap(config.routes.first { $0.prefix == subnet })
        XCTAssertEqual(route.nextHops.count, 2)
        var o = WorkloadOptions()
        o.seconds = 3
        o.rateGbps = 0.05
        o.queuePairs = 1
        o.reliabilityArguments = ["--transport", "none"]
        // The single next hop is the spine ECMP does not hash the flow to: every change moves it.
        let hashed = lab.ecmpMember(from: 1, to: 5, remoteQP: o.remoteQP(0), members: 2)
        let other = route.nextHops[1 - hashed]
        let fabric = launcher.fabric, ns = tb.namespace("leaf1")
        let answers = Answers()
        let (w, counters) = try lab.measured(mode: .ecmp) {
            let changer = Thread {
                usleep(500_000)
                for k in 0..<10 {
                    let via = k % 2 == 0 ? "\(other)" : route.nextHops.map { "\($0)" }.joined(separator: ",")
                    answers.add((try? Shell.run([fabric, "ctl", "--switch", ns, "route", "add", "\(subnet)", "via", via])) ?? "failed")
                    usleep(200_000)
                }
            }
            changer.start()
            defer { while !changer.isFinished { usleep(10_000) } }
            return try Workload.run(fabric: fabric, testbed: tb, pattern: .flows([.init(1, 5)]), options: o)
        }
        print(answers.all)
        XCTAssertEqual(answers.all.filter { $0.contains("ok: applied route") }.count, 10, "\(answers.all)")
        XCTAssertGreaterThan(w.sentPackets, 1_000)
        XCTAssertEqual(w.lost, 0, "no frame lost to a route change")
        XCTAssertEqual(counters.switchDrops, 0, "\(counters.dropReasons)")
        let (hashedUp, otherUp) = (hashed == 0 ? "leaf1:s1" : "leaf1:s2", hashed == 0 ? "leaf1:s2" : "leaf1:s1")
        XCTAssertGreaterThan(counters.uplinkBytes[otherUp] ?? 0, 1_000_000, "the other spine carried the flow while it was the only next hop")
        XCTAssertGreaterThan(counters.uplinkBytes[hashedUp] ?? 0, 1_000_000, "and the hashed one while both were")
    }

    final class Answers: @unchecked Sendable {
        private let lock = NSLock()
        private var list: [String] = []
        func add(_ s: String) { lock.lock(); list.append(s); lock.unlock() }
        var all: [String] { lock.lock(); defer { lock.unlock() }; return list }
    }
}

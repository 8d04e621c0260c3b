import FabricLab
import XCTest

/// What the lab reads from its tools and children: ping's output, the flows of a pattern, the
/// last JSON line of a child's output.
final class MeasureTests: XCTestCase {
    func testPingParse() {
        let out = """
        PING 10.77.0.2 (10.77.0.2) 56(84) bytes of data.
        64 bytes from 10.77.0.2: icmp_seq=1 ttl=64 time=0.123 ms
        64 bytes from 10.77.0.2: icmp_seq=2 ttl=64 time=1.5 ms
        64 bytes from 10.77.0.2: icmp_seq=4 ttl=64 time=0.050 ms

        --- 10.77.0.2 ping statistics ---
        4 packets transmitted, 3 received, 25% packet loss, time 31ms
        rtt min/avg/max/mdev = 0.050/0.557/1.500/0.670 ms
        """
        let r = Ping.parse(out)
        XCTAssertEqual(r.transmitted, 4)
        XCTAssertEqual(r.received, 3)
        XCTAssertEqual(r.rttMilliseconds, [0.123, 1.5, 0.05])
        XCTAssertEqual(r.loss, 0.25)
        let none = Ping.parse("connect: Network is unreachable\n")
        XCTAssertEqual(none, PingResult())
        XCTAssertEqual(none.loss, 1, "nothing sent counts as all lost")
    }

    /// The deadline ping gets (`-w`) covers sending every request and the reply wait after the
    /// last one, so a late last reply is waited for, not counted lost (iputils without `-w`
    /// gives it only max(2 x max RTT, interval)).
    func testPingDeadlineCoversTheRequestsAndTheLastReplysWait() {
        for (count, interval, wait) in [(3, 0.02, 1), (60, 0.02, 2), (200, 0.005, 1), (1, 0.01, 0), (20, 0.2, 2)] {
            let d = Ping.deadline(count: count, interval: interval, waitSeconds: wait)
            XCTAssertGreaterThanOrEqual(Double(d), Double(count - 1) * interval + Double(max(wait, 1)) + 0.5,
                                        "count \(count) interval \(interval) wait \(wait): \(d) s")
        }
        XCTAssertEqual(Ping.deadline(count: 3, interval: 0.02, waitSeconds: 1), 3, "3 quick pings: at most 3 s")
    }

    func testPatternPairs() {
        XCTAssertTrue(Pattern.incast(to: 1, from: [2, 3]).pairs.elementsEqual([(2, 1), (3, 1)], by: ==))
        XCTAssertTrue(Pattern.allToAll(hosts: [1, 2, 3]).pairs.elementsEqual([(1, 2), (1, 3), (2, 1), (2, 3), (3, 1), (3, 2)], by: ==))
        XCTAssertTrue(Pattern.flows([.init(1, 5), .init(2, 6)]).pairs.elementsEqual([(1, 5), (2, 6)], by: ==))
        for seed: UInt64 in [1, 2, 7, 99] {
            let p = Pattern.permutation(hosts: [1, 2, 3, 4, 5], seed: seed).pairs
            XCTAssertEqual(p.map(\.from), [1, 2, 3, 4, 5], "every host sends once")
            XCTAssertEqual(p.map(\.to).sorted(), [1, 2, 3, 4, 5], "every host receives once")
            XCTAssertFalse(p.contains { $0.from == $0.to }, "nobody sends to itself (seed \(seed))")
            XCTAssertTrue(p.elementsEqual(Pattern.permutation(hosts: [1, 2, 3, 4, 5], seed: seed).pairs, by: ==), "the seed repeats it")
        }
    }

    struct Report: Decodable, Equatable { var packets: Int }

    func testTheLastJSONLineOfAChildIsItsResult() throws {
        let out = "listening on eth0\n{\"packets\": 1}\nsome warning\n{\"packets\": 42}\ndone\n"
        XCTAssertEqual(try ChildRun.decodeLast(Report.self, from: out, what: "x"), Report(packets: 42))
        XCTAssertThrowsError(try ChildRun.decodeLast(Report.self, from: "crashed\n", what: "the sender")) {
            XCTAssertTrue("\($0)".hasPrefix("the sender printed no result"), "\($0)")
        }
        XCTAssertThrowsError(try ChildRun.decodeLast(Report.self, from: "{\"bytes\": 1}\n", what: "the sender")) {
            XCTAssertTrue("\($0)".hasPrefix("the sender: cannot read its result"), "\($0)")
        }
    }
}

import XCTest
@testable import FabricCore

/// `dispatch` admits the frames of one PG as a run within `BufferAccounting.runBudget` and
/// charges their sum once (`chargeRun`). That is only right if, for every buffer state, frames
/// within the budget are each admitted by `admit` without headroom, one after the other, and
/// the one charge leaves exactly the state of the charges one by one. Checked here on random
/// configurations and states, against the per-frame path itself.
final class AdmissionRunTests: XCTestCase {
    struct Rng {
        var state: UInt64
        mutating func next(_ range: ClosedRange<Int>) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let x = Int(truncatingIfNeeded: (state >> 33) % UInt64(range.count))
            return range.lowerBound + x
        }
    }

    static func randomProfile(_ rng: inout Rng) -> BufferConfig.Profile {
        // Shifts past the config's -7...7 too: the budget must hold for any the API takes.
        let shift = rng.next(0...9) == 0 ? rng.next(-40...30) : rng.next(-7...7)
        let threshold: BufferConfig.Threshold = rng.next(0...3) == 0 ? .fixed(rng.next(0...400_000)) : .dynamic(shift)
        return BufferConfig.Profile(reservedBytes: rng.next(0...3) == 0 ? 0 : rng.next(0...40_000), threshold: threshold)
    }

    /// Every figure the accounting reports, for comparing two of them.
    static func state(_ b: borrowing BufferAccounting, ports: Int) -> [Int] {
        var s = [b.poolUsed, b.poolWatermark]
        for p in 0..<ports {
            for pg in 0..<8 {
                s += [b.held(port: p, pg: pg), b.shared(port: p, pg: pg), b.headroomUsed(port: p, pg: pg),
                      b.heldPeak(port: p, pg: pg), b.headroomPeak(port: p, pg: pg)]
            }
        }
        return s
    }

    func testFramesWithinTheRunBudgetAreAdmittedAndChargedAsOneByOne() {
        var rng = Rng(state: 0x5EED_F00D)
        let ports = 3
        var trials = 0, framesInRuns = 0, sharedRuns = 0
        for _ in 0..<3000 {
            var config = BufferConfig()
            config.poolBytes = rng.next(16_384...4_000_000)
            config.lossless = Self.randomProfile(&rng)
            config.lossy = Self.randomProfile(&rng)
            config.headroomBytes = rng.next(0...200_000)
            let lossless = UInt8(truncatingIfNeeded: rng.next(0...255))
            var one = BufferAccounting(config: config, losslessPGs: lossless, portSpeedsGbps: [Double?](repeating: 100, count: ports))
            var run = BufferAccounting(config: config, losslessPGs: lossless, portSpeedsGbps: [Double?](repeating: 100, count: ports))
            // The same history on both: frames admitted and charged one by one (headroom too),
            // and some of them released again.
            var charged: [(Int, Int, Int)] = []
            for _ in 0..<rng.next(0...400) {
                let (p, pg, bytes) = (rng.next(0...(ports - 1)), rng.next(0...7), rng.next(64...9_200))
                if rng.next(0...3) == 0 && !charged.isEmpty {
                    let (rp, rpg, rb) = charged.remove(at: rng.next(0...(charged.count - 1)))
                    one.release(port: rp, pg: rpg, bytes: rb)
                    run.release(port: rp, pg: rpg, bytes: rb)
                } else if let part = one.admit(port: p, pg: pg, bytes: bytes) {
                    _ = one.charge(port: p, pg: pg, bytes: bytes, part: part)
                    _ = run.charge(port: p, pg: pg, bytes: bytes, part: part)
                    charged.append((p, pg, bytes))
                }
            }
            XCTAssertEqual(Self.state(one, ports: ports), Self.state(run, ports: ports))
            // A run on one (port, PG): frames one by one on `one`, their sum at once on `run`.
            let (p, pg) = (rng.next(0...(ports - 1)), rng.next(0...7))
            let budget = run.runBudget(port: p, pg: pg)
            let sharedBefore = one.shared(port: p, pg: pg)
            var sum = 0
            while true {
                let bytes = rng.next(64...9_200)
                guard sum + bytes <= budget else { break }
                guard let part = one.admit(port: p, pg: pg, bytes: bytes) else {
                    XCTFail("a frame of \(bytes) B within the budget \(budget) (\(sum) B before it) was refused")
                    return
                }
                XCTAssertEqual(part.headroom, 0, "a frame within the budget went to headroom")
                _ = one.charge(port: p, pg: pg, bytes: bytes, part: part)
                sum += bytes
                framesInRuns += 1
            }
            run.chargeRun(port: p, pg: pg, bytes: sum)
            XCTAssertEqual(Self.state(one, ports: ports), Self.state(run, ports: ports), "config \(config), lossless \(lossless), port \(p) pg \(pg)")
            if one.shared(port: p, pg: pg) > sharedBefore { sharedRuns += 1 }
            trials += 1
        }
        // The budget is not a trivial zero: most runs held frames, many of them in the shared pool.
        XCTAssertEqual(trials, 3000)
        XCTAssertGreaterThan(framesInRuns, 3000 * 5)
        XCTAssertGreaterThan(sharedRuns, 500)
    }

    /// The budget is close to what the PG really takes: on an empty buffer, one frame more than
    /// it holds is within a frame and a fraction of the first frame `admit` would refuse or
    /// put in headroom.
    func testTheRunBudgetIsNearWhatThePGTakes() {
        // The last two: alphas no config gives (2^-25, 2^-30) over a pool large enough that a
        // budget computed with a larger alpha would let frames into headroom.
        for (shift, pool) in [(-3, 8 << 20), (-2, 8 << 20), (0, 8 << 20), (2, 8 << 20), (-25, 1 << 40), (-30, 1 << 40)] {
            var config = BufferConfig()
            config.poolBytes = pool
            config.lossless = .init(reservedBytes: 16_384, threshold: .dynamic(shift))
            var b = BufferAccounting(config: config, losslessPGs: 0x08, portSpeedsGbps: [100, 100])
            let budget = b.runBudget(port: 0, pg: 3)
            var taken = 0
            while let part = b.admit(port: 0, pg: 3, bytes: 1_000), part.headroom == 0 {
                _ = b.charge(port: 0, pg: 3, bytes: 1_000, part: part)
                taken += 1_000
            }
            XCTAssertLessThanOrEqual(budget, taken + 1_000, "shift \(shift)")
            XCTAssertGreaterThanOrEqual(budget, taken - 2_000, "shift \(shift): the budget \(budget) is far below the \(taken) B taken")
        }
    }
}

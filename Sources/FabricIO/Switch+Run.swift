// The switch's run loop: passes over the ports, the wait between them (spin, yield or sleep in
// poll()), housekeeping every 100 ms, and the orderly shutdown.
import FabricCore
import FabricSystem
import FabricTelemetry
import Glibc

extension FabricSwitch where IO: ~Copyable {
    /// Runs until SIGINT/SIGTERM (or `stop` returns true, checked every housekeeping tick).
    /// Returns the final report after an orderly shutdown.
    public mutating func run(until stop: () -> Bool = { false }) -> SwitchReport {
        if options.workerNice != 0 {
            do { try Affinity.setThreadNice(options.workerNice) } catch { logLine("fabric: worker: \(error)") }
        }
        // A real-time worker that could not become one runs as any other (said once).
        var realtime = false
        if options.workerRealtimePriority > 0 {
            do {
                try Affinity.setThreadRealtime(priority: options.workerRealtimePriority)
                realtime = true
            } catch { logLine("fabric: worker: \(error); it runs at normal priority") }
        }
        let spin = UInt64(options.spinMicroseconds) * 1000
        let tick: UInt64 = 100_000_000
        let statsEvery = UInt64(options.statsIntervalSeconds * 1e9)
        var lastWork = monotonicNanoseconds()
        var lastTick = lastWork
        var lastStats = lastWork
        var lastPass = lastWork
        var lastLinkCheck = lastWork
        var longestStall: UInt64 = 0
        startFastPath()
        while !stopRequested.load(ordering: .relaxed) && !(workerStop?.requested ?? false) {
            var now = monotonicNanoseconds()
            if now &- lastPass > longestStall {
                longestStall = now &- lastPass
                loop.longestStallMicroseconds = Double(longestStall) / 1000
            }
            lastPass = now
            let moved = iterate(now: now)
            // After forwarding what woke us: a snapshot (a few hundred microseconds: counters
            // of the XDP programs and sockets, percentiles) must not hold up those frames.
            if let c = control, c.wanted {
                if let change = c.change { c.publish(changed: apply(change)) } else if c.wantsSeries { c.publish(series: depthRing.series(portNames: names)) } else { c.publish(snapshot(running: true)) }
            }
            if depthRing.due(now) { depthRing.sample(dp, now: now) }
            if let r = recorder, r.due(now) { r.sample(dp, now: now) }
            // Frames crossing an emulated wire are due at a known time: the loop may sleep
            // until `wireWakeEarly` before it (a busy machine preempts a spinner for
            // milliseconds) and spins the rest without yielding (waking up takes time too), so
            // they leave on time. Frames held by the line rate are due any moment.
            let onWire = dp.framesOnWire
            let idle = dp.queuedFrames == onWire
            let wireDue = onWire == 0 ? nil : dp.nextWireArrival
            if moved > 0 {
                lastWork = now
            } else if realtime {
                // Never spin at real-time priority: the kernel threads on this CPU (the veths'
                // NAPI that copies frames in, the softirq that completes transmits) run only
                // while we sleep. Sleep until frames arrive, a frame on an emulated wire is due
                // (a real-time thread's timers have no slack), or, with frames queued that could
                // not leave (paused, shaped, a full tx ring), a short while.
                let wake = wireDue.map { $0 > now ? max($0 &- now, Self.realtimeRetry / 8) : Self.realtimeRetry / 8 }
                    ?? (idle ? nil : Self.realtimeRetry)
                io.sleepUntilWork(inService: dp.inService, wakeAfter: wake, loop: &loop)
                now = monotonicNanoseconds()
                lastPass = now
            } else if let due = wireDue, due <= now &+ Self.wireWakeEarly {
                // About to arrive: spin for it.
            } else if options.poll == .adaptive && now &- lastWork > spin && idle {
                let wake = wireDue.map { $0 &- Self.wireWakeEarly &- now }
                io.sleepUntilWork(inService: dp.inService, wakeAfter: wake, loop: &loop)
                now = monotonicNanoseconds()
                lastPass = now   // asleep in poll() is not a stall: the kernel wakes us for frames
            } else if options.poll == .adaptive && idle {
                // Spinning with nothing to do: let a kernel thread on this CPU run now (the
                // veth's NAPI thread that copies our next frames in, when it shares the core).
                // Not while frames wait for the emulated line rate: they are due any moment.
                // (Its effect on latency is measured in README "Performance".)
                sched_yield()
            }
            if now &- lastLinkCheck >= Self.linkCheckInterval {
                lastLinkCheck = now
                checkLinks()
            }
            // The I/O side's own housekeeping (the data path's runs in `dp.tick`).
            if now &- lastTick >= tick {
                lastTick = now
                if stop() { break }
                checkPorts()
                if let fp = fastPath { fp.housekeeping(&dp, captureMask: captures.mask, now: now) }
                captures.flush()
                recorder?.flush()
                if statsEvery > 0, options.statsFile != nil || ownSlot != nil, now &- lastStats >= statsEvery {
                    lastStats = now
                    publishStats(running: true)
                }
            }
        }
        return shutdown()
    }

    /// Orderly stop: detach XDP, drain queued frames for up to 100 ms, close sockets, report.
    mutating func shutdown() -> SwitchReport {
        workerStop?.request()
        io.detach()
        let deadline = monotonicNanoseconds() + 100_000_000
        while monotonicNanoseconds() < deadline {
            let moved = iterate(now: monotonicNanoseconds(), draining: true)
            let pending = (0..<portCount).contains { dp.isInService($0) && (dp.hasQueued(port: $0) || io.transmitPending($0)) }
            if moved == 0 && !pending { break }
        }
        // Last completions (skbs freed since), so the ledger is as settled as it gets.
        for p in 0..<portCount where dp.isInService(p) { _ = io.reclaim(p, pool: &dp.pool, loop: &loop) }
        // Worker 0's final report is the sum of every worker's final one.
        if !peerSlots.isEmpty {
            let deadline = monotonicNanoseconds() + 5_000_000_000
            while peerSlots.contains(where: { $0.latest?.running ?? true }) && monotonicNanoseconds() < deadline { usleep(1_000) }
        }
        var report = snapshot(running: false)
        ownSlot?.store(report)
        if let r = recorder {
            let residence = (0..<portCount).map { p in
                (0..<EgressPort.queueCount).map { q in dp.residenceBuckets(port: p, queue: q).flatMap { [$0.us, $0.count] } }
            }
            let ringWait = io.stampsFrames ? (0..<portCount).map { p in dp.ringWaitBuckets(port: p).flatMap { [$0.us, $0.count] } } : nil
            r.close(trailer: RecordTrailer(final: report, residence: residence, ringWait: ringWait))
            recorder = nil
        }
        let captured = captures.close()
        if !captured.isEmpty { report.captures = captured }
        if options.statsFile != nil { write(report) }
        io.close()
        return report
    }
}

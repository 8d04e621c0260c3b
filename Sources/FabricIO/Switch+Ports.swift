// The switch's ports as devices: interfaces that vanish or are renamed, and carrier/admin state
// (link up and down), checked from the run loop's housekeeping, never per packet.
import FabricCore
import FabricSystem

extension FabricSwitch where IO: ~Copyable {
    /// Takes out of service every port whose interface has disappeared (its ifindex is gone;
    /// replaced means another interface took its name). A renamed interface is the same
    /// device: the port follows it, and its link state is read under the new name.
    mutating func checkPorts() {
        for p in 0..<portCount where dp.isInService(p) {
            if let why = io.interfaceGone(p, name: currentNames[p], ifindex: ifindexes[p]) {
                vanish(p, why: why)
            } else if let now = io.interfaceName(p, name: currentNames[p], ifindex: ifindexes[p]), now != currentNames[p] {
                logLine("fabric: port \(names[p]): interface \(currentNames[p]) renamed to \(now) (ifindex \(ifindexes[p])); the port follows it")
                currentNames[p] = now
                links.rename(p, to: now)
            }
            // An MTU changed while the switch runs: frames longer than the new one are dropped
            // on their way out (`oversize`); above what the port carries, longer frames are
            // dropped at its socket: say so once, and again if it happens after a fix.
            let packet = io.largestPacket(p)
            let limit = Self.largestMTU(packet)
            if let mtu = links.mtu(p) {
                dp.setLargestFrame(port: p, bytes: min(mtu + BufferConfig.ethernetOverhead, packet))
                if mtu > limit && !mtuTooLarge[p] {
                    logLine("fabric: port \(names[p]): interface MTU raised to \(mtu), above \(limit), the largest this switch carries: "
                            + "longer frames are dropped at its socket until the MTU is lowered")
                }
                mtuTooLarge[p] = mtu > limit
            }
        }
    }

    /// Follows each port's link state (one ioctl per port, every 2 ms while the loop runs; an
    /// idle loop asleep in poll() checks when it wakes, within 100 ms): a port whose carrier
    /// or admin state went down leaves its ECMP groups and its queued frames are dropped
    /// (`link_down`); it rejoins when the link is up again. The socket stays bound throughout.
    mutating func checkLinks() {
        for p in 0..<portCount where dp.isInService(p) {
            guard let up = links.isUp(p) else { continue }   // vanished: `checkPorts` handles it
            let queued = dp.queuedFrames
            guard dp.setLink(port: p, up: up) else { continue }
            if let fp = fastPath { fp.linkChanged(port: p, dp, captureMask: captures.mask) }
            if up {
                logLine("fabric: port \(names[p]): link up; back in its ECMP groups")
            } else {
                logLine("fabric: port \(names[p]): link down (carrier lost or administratively down); \(queued - dp.queuedFrames) queued "
                    + "frames dropped (link_down), out of its ECMP groups until it comes back")
            }
        }
    }

    /// Takes port `p` out of service and recovers every frame it held: its egress queue, and
    /// what the kernel held for it.
    mutating func vanish(_ p: Int, why: String) {
        dp.takeOutOfService(port: p)
        let recovered = io.vanish(p, pool: &dp.pool)
        if let fp = fastPath { fp.portGone(p, dp, captureMask: captures.mask) }
        logLine("fabric: port \(names[p]): \(why); taken out of service, \(recovered) frames recovered, "
            + "forwarding continues on \(activePorts.joined(separator: ","))")
    }

    var activePorts: [String] { (0..<portCount).filter { dp.isInService($0) }.map { names[$0] } }
}

extension FabricSwitch where IO: ~Copyable {
    /// `--fastpath on`: writes the fast path's tables from the data path and turns it on (the
    /// run loop, before its first pass, once the captures are known). If that fails the fast
    /// path stays off: every frame goes through userspace, as without it.
    mutating func startFastPath() {
        guard let fp = fastPath else { return }
        do {
            try fp.start(&dp, captureMask: captures.mask, now: monotonicNanoseconds())
            logLine("fabric: fast path on (\(fp.router ? "router" : "bridge")): frames that need no userspace are forwarded in XDP")
        } catch {
            logLine("fabric: fast path: \(error); it stays off (every frame through userspace)")
            try? fp.maps.set(fp.fastPathConfig(on: false))
            fastPath = nil
        }
    }
}

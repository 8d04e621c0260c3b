// RoCEv2 workload: a sender that behaves like an RC queue-pair NIC (messages split into
// MTU-sized FIRST/MIDDLE/LAST packets, per-QP PSN, UDP source port from the QP pair, DSCP 26 +
// ECT(0), honours 802.1Qbb PFC for its priority) and a receiver that measures what fabric users
// care about (goodput, loss as PSN gaps that never fill, reordering, CE marks, ICRC failures,
// one-way latency). Frames are built and parsed by FabricPacket.
import FabricPacket
import FabricSystem
import FabricXDP
import Glibc
import Histogram
import Foundation

/// The first 20 bytes of every packet's payload: send time, message number, magic, and the
/// sender's QPN (so a receiver can address CNPs to it, as an RC responder knows its peer QP).
public enum TrafficPayload {
    public static let length = 20
    public static let magic: UInt32 = 0x5346_5243  // "SFRC"
}

/// How a sender puts frames on the wire.
public enum SendBackend: String, Sendable, CaseIterable {
    /// A transmit-only AF_XDP socket: frames built in the UMEM, one kick per batch.
    case afxdp
    /// A raw AF_PACKET socket: one send() per frame. Works everywhere.
    case afpacket
}

public struct SenderConfig: Sendable {
    public var interface = "eth0"
    public var backend: SendBackend = .afxdp
    public var destinationMAC: MACAddress
    public var source: UInt32
    public var destination: UInt32
    /// IPv6 RoCEv2 instead of IPv4 when set.
    public var source6: IPv6Address?
    public var destination6: IPv6Address?
    public var queuePairs = 1
    /// First local QPN; QP i is localQP + i, talking to remote QPN remoteQP + i.
    public var localQP: UInt32 = 0x100
    public var remoteQP: UInt32 = 0x200
    public var messageBytes = 4096
    /// Payload bytes per packet (the RoCE path MTU).
    public var mtu = 1024
    public var verb: RoCEBuilder.Verb = .rdmaWrite
    /// Stop after this many messages (0: run for `seconds`).
    public var messages = 0
    public var seconds = 1.0
    /// Offered load in Gb/s on the wire (0: as fast as the socket takes frames).
    public var rateGbps = 0.0
    /// Or in packets per second (used when `rateGbps` is 0; DCQCN needs `rateGbps`).
    public var packetsPerSecond = 0.0
    /// With `rateGbps`: send each message's packets back to back at this rate (a NIC's line
    /// rate) and space the messages to keep the average at `rateGbps`, as RDMA traffic comes;
    /// gaps between messages are where flowlets begin (0: pace every packet evenly).
    public var burstGbps = 0.0
    public var dscp: UInt8 = 26
    public var ecn: UInt8 = 2          // ECT(0)
    /// 802.1p priority of this traffic (PFC pauses it); the NVIDIA profile's lossless class.
    public var priority = 3
    /// Link speed for PFC quanta (512 bit times each).
    public var linkGbps = 10.0
    /// CLOCK_MONOTONIC time to start at (0: now): lets several senders start together, the
    /// barrier of a collective round.
    public var startAt: UInt64 = 0
    /// Congestion control: DCQCN cuts the rate on CNPs and recovers it (needs a rate).
    public var dcqcn = false
    /// Test aid: every Nth packet gets one payload byte flipped after its ICRC was computed,
    /// so receivers must count it as an ICRC failure (0: never).
    public var corruptEvery = 0

    public init(destinationMAC: MACAddress, source: UInt32, destination: UInt32) {
        self.destinationMAC = destinationMAC
        self.source = source
        self.destination = destination
    }
}

public struct SenderReport: Codable, Sendable {
    public var packets: UInt64 = 0
    public var bytes: UInt64 = 0
    public var messages: UInt64 = 0
    public var seconds: Double = 0
    public var retries: UInt64 = 0
    /// PFC frames received that paused (time > 0) or resumed (time 0) our priority.
    public var pauseFrames: UInt64 = 0
    public var resumeFrames: UInt64 = 0
    public var pausedMicroseconds: Double = 0
    /// For the last pause: from the moment the PFC frame was read to the first packet of the
    /// paused priority sent after it (the pause as the wire saw it), and the pause time the
    /// frame asked for (quanta x 512 bit times at the link speed).
    public var lastPauseObservedMicroseconds: Double = 0
    public var lastPauseRequestedMicroseconds: Double = 0
    public var corrupted: UInt64 = 0
    /// Paced senders: time the sender fell behind its schedule by more than 10 ms (held off
    /// the CPU on a busy machine) and did not make up, as a NIC's rate limiter would not.
    public var behindScheduleMicroseconds: Double = 0
    public var cnpsReceived: UInt64 = 0
    /// CLOCK_MONOTONIC (shared by all namespaces) at the first and after the last packet.
    public var startedAt: UInt64 = 0
    public var endedAt: UInt64 = 0
    /// DCQCN: rate cuts, the rate at the end, and the time-weighted mean of the rate over the
    /// run (Gb/s). The final rate is one sample of a sawtooth (after a quiet gap DCQCN has
    /// recovered, the next CNP cuts again); the mean is what the flow was held to.
    public var rateCuts: UInt64 = 0
    public var finalRateGbps: Double = 0
    public var meanRateGbps: Double = 0
    public var gbps: Double { seconds > 0 ? Double(bytes) * 8 / seconds / 1e9 : 0 }
}

/// Sends RoCEv2 RC traffic from one host. Single-threaded; call `run` once.
public struct RoCESender {
    public let config: SenderConfig
    /// Control frames (PFC, CNP) always arrive here; data goes out here too with `.afpacket`.
    let socket: PacketSocket
    let xsk: XSKTransmitter?
    /// The backend in use (AF_XDP falls back to AF_PACKET, with `fallbackReason`).
    public let backend: SendBackend
    public let fallbackReason: String?

    public init(config: SenderConfig) throws {
        guard config.mtu >= TrafficPayload.length, config.mtu <= 4096, config.messageBytes >= 1,
              (1...4096).contains(config.queuePairs), (0...7).contains(config.priority) else {
            throw TrafficError("bad sender settings: mtu 16...4096, message >= 1 byte, 1...4096 queue pairs, priority 0...7")
        }
        self.config = config
        socket = try PacketSocket(interface: config.interface)
        if config.backend == .afxdp {
            do {
                xsk = try XSKTransmitter(interface: config.interface)
                backend = .afxdp
                fallbackReason = nil
            } catch {
                xsk = nil
                backend = .afpacket
                fallbackReason = "\(error)"
            }
        } else {
            xsk = nil
            backend = .afpacket
            fallbackReason = nil
        }
    }

    public func run() throws -> SenderReport {
        let c = config
        var report = SenderReport()
        let frame = UnsafeMutableRawPointer.allocate(byteCount: 9216, alignment: 64)
        let rx = UnsafeMutableRawPointer.allocate(byteCount: 2048, alignment: 64)
        let payload = UnsafeMutableRawPointer.allocate(byteCount: c.mtu, alignment: 8)
        payload.initializeMemory(as: UInt8.self, repeating: 0x5A, count: c.mtu)
        let batchAddrs = UnsafeMutablePointer<UInt64>.allocate(capacity: 32)
        let batchLens = UnsafeMutablePointer<UInt32>.allocate(capacity: 32)
        var batched = 0
        defer { frame.deallocate(); rx.deallocate(); payload.deallocate(); batchAddrs.deallocate(); batchLens.deallocate() }
        var addresses = RoCEBuilder.Addresses(sourceMAC: socket.mac, destinationMAC: c.destinationMAC, source: c.source, destination: c.destination)
        if let s6 = c.source6, let d6 = c.destination6 {
            addresses = RoCEBuilder.Addresses(sourceMAC: socket.mac, destinationMAC: c.destinationMAC, source6: s6, destination6: d6)
        }
        var psn = [UInt32](repeating: 0, count: c.queuePairs)
        let ports = (0..<c.queuePairs).map { RoCEBuilder.udpSourcePort(localQP: c.localQP + UInt32($0), remoteQP: c.remoteQP + UInt32($0)) }
        let packetsPerMessage = (c.messageBytes + c.mtu - 1) / c.mtu
        while c.startAt > 0 {
            let now = trafficClock()
            guard now < c.startAt else { break }
            let left = c.startAt - now
            if left > 200_000 { usleep(UInt32(min(left / 2000, 100_000))) }
        }
        let start = trafficClock()
        let end = c.messages > 0 ? UInt64.max : start + UInt64(c.seconds * 1e9)
        var wireBits = 0.0
        var pacedPackets = 0.0   // packets since paceOrigin, for --pps pacing
        var paceOrigin = start   // pacing restarts after a pause or a rate change: no burst to catch up
        var messageStart: UInt64 = 0, messageBits = 0.0   // burst pacing (burstGbps)
        var pausedUntil: UInt64 = 0
        var pauseStartedAt: UInt64 = 0
        var pauseDetectedAt: UInt64 = 0   // set by a pause frame, cleared by the next packet sent
        var lastControlCheck: UInt64 = 0
        let catchUp: UInt64 = 10_000_000   // ns of schedule a paced sender may make up
        var message: UInt64 = 0
        var ipID: UInt16 = 0

        /// Reads any PFC frames waiting on the socket and updates the pause state (a NIC does
        /// this in hardware; we check once per packet, which is a non-blocking recv).
        var dcqcn = DCQCN(lineRateGbps: c.rateGbps > 0 ? c.rateGbps : c.linkGbps, now: start)
        var rate = c.rateGbps
        var rateSince = start, rateIntegral = 0.0   // Gb/s x ns, for the time-weighted mean
        func setRate(_ r: Double, _ now: UInt64) {
            rateIntegral += rate * Double(now &- rateSince)
            rateSince = now
            rate = r
        }
        /// Restarts the pacing schedule at `t`: after a pause, a rate change or a long stall,
        /// nothing owed is made up. `bits`: a packet already placed at `t` (0: none yet).
        func restartPacing(at t: UInt64, counting bits: Double = 0) {
            paceOrigin = t
            wireBits = bits
            pacedPackets = bits > 0 ? 1 : 0
        }
        let firstQP = c.localQP, lastQP = c.localQP + UInt32(c.queuePairs)
        /// Reads control frames waiting on the socket: PFC for our priority (pause state) and
        /// CNPs for our QPs (DCQCN). A NIC does this in hardware; we poll between packets.
        func checkPFC(_ now: UInt64) {
            while true {
                let n = recv(socket.fd, rx, 2048, Int32(MSG_DONTWAIT))
                if n <= 0 { return }
                let info = FrameParser.parse(UnsafeRawPointer(rx), length: n)
                if info.kind == .cnp, info.destinationQP >= firstQP, info.destinationQP < lastQP,
                   ICRC.isValid(ip: UnsafeRawPointer(rx + Int(info.l3Offset)), l3Length: Int(info.l3Length),
                                ipVersion: info.etherType == EtherType.ipv6 ? 6 : 4) {
                    report.cnpsReceived += 1
                    if c.dcqcn {
                        dcqcn.congestionNotified(now: now)
                        setRate(dcqcn.currentGbps, now)
                        restartPacing(at: now)
                    }
                    continue
                }
                guard info.kind == .pfc, let mc = MACControlView(UnsafeRawPointer(rx + Int(info.l3Offset)), available: n - Int(info.l3Offset)),
                      mc.classEnableVector & (1 << UInt8(c.priority)) != 0 else { continue }
                let quanta = mc.pauseTime(priority: c.priority)
                if quanta == 0 {
                    report.resumeFrames += 1
                    if pausedUntil > now {
                        report.pausedMicroseconds += Double(now - pauseStartedAt) / 1000
                        // Resumed early by XON: the schedule restarts now, as after a pause
                        // that runs out (no burst to make up the paused time).
                        restartPacing(at: now)
                    }
                    pausedUntil = 0
                    pauseStartedAt = 0
                } else {
                    report.pauseFrames += 1
                    // One quantum = 512 bit times at the link speed.
                    let until = now + UInt64(Double(quanta) * 512 / c.linkGbps)
                    if pausedUntil <= now { pauseStartedAt = now }
                    pausedUntil = until
                    pauseDetectedAt = now
                    report.lastPauseRequestedMicroseconds = Double(quanta) * 512 / c.linkGbps / 1000
                }
            }
        }

        sending: while c.messages == 0 || message < UInt64(c.messages) {
            let qp = Int(message % UInt64(c.queuePairs))
            for index in 0..<packetsPerMessage {
                let bytes = index == packetsPerMessage - 1 ? c.messageBytes - index * c.mtu : c.mtu
                let size = max(bytes, TrafficPayload.length)
                // 1. Pace to the offered load (on-the-wire bits incl. FCS, preamble and gap),
                //    sleeping while far from the due time and reading PFC all the while.
                let wireLength = RoCEBuilder.frameLength(opcode: c.verb.opcode(index: index, count: packetsPerMessage), payload: size,
                                                         ipv6: addresses.isV6)
                var now = trafficClock()
                if c.dcqcn {
                    let r = dcqcn.advance(now: now, sentBytes: UInt64(wireLength))
                    if r != rate {
                        setRate(r, now)
                        restartPacing(at: now)
                    }
                }
                if rate > 0 || c.packetsPerSecond > 0 {
                    let due: UInt64
                    if rate > 0 && c.burstGbps > 0 {
                        // A message starts when the average rate allows (never earlier than
                        // now: no catching up), its packets follow at the burst rate.
                        if index == 0 {
                            messageStart = max(now, paceOrigin + UInt64(wireBits / rate))
                            messageBits = 0
                        }
                        due = messageStart + UInt64(messageBits / c.burstGbps)
                        messageBits += Double(wireLength + 24) * 8
                        wireBits += Double(wireLength + 24) * 8
                    } else {
                        wireBits += Double(wireLength + 24) * 8
                        pacedPackets += 1
                        var d = rate > 0 ? paceOrigin + UInt64(wireBits / rate)   // Gb/s == bits per ns
                            : paceOrigin + UInt64((pacedPackets - 1) * 1e9 / c.packetsPerSecond)
                        // Behind schedule (descheduled on a busy machine): make up at most
                        // `catchUp` worth, as a NIC's rate limiter holds a bounded burst; beyond
                        // it the schedule restarts now. An unbounded catch-up after a long
                        // stall is a line-rate burst of hundreds of packets that lands in the
                        // switch's rx ring faster than its PFC can answer.
                        if now > d &+ catchUp {
                            report.behindScheduleMicroseconds += Double(now - d) / 1000
                            restartPacing(at: now, counting: Double(wireLength + 24) * 8)
                            d = now
                        }
                        due = d
                    }
                    while now < due {
                        // Far from due: sleep up to 200 us before it (at most 1 ms at a time, to
                        // keep reading PFC); then spin. Many paced senders on 2 cores must not
                        // wake every 50 us each.
                        if due - now > 250_000 { usleep(UInt32(min(1_000, (due - now - 200_000) / 1_000))) }
                        now = trafficClock()
                        checkPFC(now)
                    }
                }
                if now >= end { break sending }
                // Control frames (PFC, CNP) are read every 25 us at most, not per packet: a
                // recv() per packet would halve the send rate, and 25 us is well inside the
                // reaction time a pause needs (one quantum at 100G is 5 ns, but a pause lasts
                // thousands of them).
                if now &- lastControlCheck >= 25_000 {
                    checkPFC(now)
                    lastControlCheck = now
                }
                // 2. Honour a pause of our priority: wait it out, still reading PFC (an XON
                //    ends it early, another XOFF extends it).
                // Sleep only while more than 2 ms remain and spin the rest: a sleeping thread on
                // a busy 2-core machine can wake milliseconds late, a spinning one resumes on time.
                while now < pausedUntil {
                    if pausedUntil - now > 2_000_000 { usleep(200) }
                    now = trafficClock()
                    checkPFC(now)
                    if now >= end { break sending }
                }
                if pauseStartedAt > 0 && pausedUntil > 0 && now >= pausedUntil {
                    report.pausedMicroseconds += Double(pausedUntil - pauseStartedAt) / 1000
                    pausedUntil = 0
                    pauseStartedAt = 0
                    restartPacing(at: now, counting: Double(wireLength + 24) * 8)
                }
                // 3. Build the packet now, so its timestamp is its send time: in a UMEM frame
                //    (AF_XDP) or the local buffer (AF_PACKET).
                var target = frame
                var umemAddr: UInt64 = 0
                if let x = xsk {
                    while x.reserve(1, into: &umemAddr) == 0 {
                        if batched > 0 { _ = x.submit(batchAddrs, batchLens, count: batched); batched = 0 }
                        x.reclaim()
                    }
                    target = x.frame(umemAddr)
                }
                payload.storeBytes(of: now.bigEndian, as: UInt64.self)
                payload.storeBytes(of: UInt32(truncatingIfNeeded: message).bigEndian, toByteOffset: 8, as: UInt32.self)
                payload.storeBytes(of: TrafficPayload.magic.bigEndian, toByteOffset: 12, as: UInt32.self)
                payload.storeBytes(of: (c.localQP + UInt32(qp)).bigEndian, toByteOffset: 16, as: UInt32.self)
                let opcode = c.verb.opcode(index: index, count: packetsPerMessage)
                let len = RoCEBuilder.writePacket(into: target, capacity: 4096, addresses: addresses, dscp: c.dscp, ecn: c.ecn, ipID: ipID,
                                                sourcePort: ports[qp], opcode: opcode, destinationQP: c.remoteQP + UInt32(qp),
                                                psn: psn[qp], ackRequest: index == packetsPerMessage - 1,
                                                payload: payload, payloadBytes: size,
                                                remoteAddress: 0x10_0000, rkey: 0x1234, dmaLength: UInt32(c.messageBytes))
                ipID &+= 1
                psn[qp] = (psn[qp] + 1) & 0xFF_FFFF
                if c.corruptEvery > 0 && (report.packets + 1) % UInt64(c.corruptEvery) == 0 {
                    let b = target.load(fromByteOffset: len - 5, as: UInt8.self)
                    target.storeBytes(of: b ^ 0xFF, toByteOffset: len - 5, as: UInt8.self)
                    report.corrupted += 1
                }
                if let x = xsk {
                    batchAddrs[batched] = umemAddr
                    batchLens[batched] = UInt32(len)
                    batched += 1
                    // Unpaced: hand the kernel 32 at a time. Paced: every packet at its time.
                    if batched == 32 || rate > 0 || c.packetsPerSecond > 0 {
                        report.retries += UInt64(x.submit(batchAddrs, batchLens, count: batched))
                        batched = 0
                    }
                } else {
                    while try !socket.send(frame, length: len) {
                        report.retries += 1
                        usleep(20)
                    }
                }
                report.packets += 1
                report.bytes += UInt64(len)
                if pauseDetectedAt > 0 {
                    report.lastPauseObservedMicroseconds = Double(trafficClock() - pauseDetectedAt) / 1000
                    pauseDetectedAt = 0
                }
            }
            message += 1
            report.messages = message
        }
        if let x = xsk {
            if batched > 0 { _ = x.submit(batchAddrs, batchLens, count: batched) }
            x.flush(timeout: 1_000_000_000)
        }
        report.endedAt = trafficClock()
        report.startedAt = start
        report.seconds = Double(report.endedAt - start) / 1e9
        report.rateCuts = dcqcn.cuts
        report.finalRateGbps = rate
        setRate(rate, report.endedAt)
        report.meanRateGbps = report.endedAt > start ? rateIntegral / Double(report.endedAt - start) : rate
        return report
    }
}

/// Per flow (source address, destination QP) at the receiver.
public struct FlowReport: Codable, Sendable {
    public var source: String
    public var destinationQP: UInt32
    public var packets: UInt64 = 0
    public var bytes: UInt64 = 0
    /// PSNs skipped and never filled afterwards.
    public var lost: UInt64 = 0
    /// Packets that arrived after a higher PSN of the same QP.
    public var reordered: UInt64 = 0
    public var ceMarked: UInt64 = 0
    /// The longest silence between two packets of this flow, and when it ended (seconds after
    /// the flow's first packet): a PFC pause of the flow's priority shows up here.
    public var maxGapMicroseconds: Double = 0
    public var maxGapEndedAt: Double = 0
    /// The same from the senders' timestamps of consecutive packets: the silence as the sender
    /// made it, unaffected by queueing on the way or in this host.
    public var maxSendGapMicroseconds: Double = 0
}

public struct ReceiverReport: Codable, Sendable {
    public var packets: UInt64 = 0
    public var bytes: UInt64 = 0
    public var seconds: Double = 0
    public var lost: UInt64 = 0
    public var reordered: UInt64 = 0
    public var ceMarked: UInt64 = 0
    public var icrcFailures: UInt64 = 0
    public var cnpReceived: UInt64 = 0
    /// CNPs this receiver sent back for CE-marked packets (at most one per flow per 50 us,
    /// the NVIDIA default min_time_between_cnps).
    public var cnpSent: UInt64 = 0
    /// Frames the receiving host's own socket dropped (it fell behind): not fabric loss, and
    /// reported apart so the two are never confused.
    public var hostDrops: UInt64 = 0
    public var latencyMicroseconds: LatencySummary
    public var flows: [FlowReport]
    /// How RoCEv2 data arrived: "afxdp" (steered by bpf/roce_rx) or "afpacket".
    public var backend = "afpacket"
    public var goodputGbps: Double { seconds > 0 ? Double(bytes) * 8 / seconds / 1e9 : 0 }
}

public struct LatencySummary: Codable, Sendable {
    public var samples: UInt64
    public var p50: Double
    public var p99: Double
    public var p999: Double
    public var max: Double
}

/// Receives RoCEv2 traffic on one host and measures it.
public struct RoCEReceiver {
    public let interface: String
    /// Sends CNPs, and receives everything when AF_XDP is not in use.
    let socket: PacketSocket
    /// RoCEv2 data arrives here when available (bpf/roce_rx steers it), else on `socket`.
    let xsk: XSKReceiver?
    public let fallbackReason: String?

    /// `bpfObject`: the compiled bpf/roce_rx; nil to use AF_PACKET only.
    public init(interface: String, bpfObject: String? = nil) throws {
        self.interface = interface
        socket = try PacketSocket(interface: interface)
        socket.claimRoCEPort()
        if let obj = bpfObject {
            do {
                xsk = try XSKReceiver(interface: interface, bpfObject: obj)
                fallbackReason = nil
            } catch {
                xsk = nil
                fallbackReason = "\(error)"
            }
        } else {
            xsk = nil
            fallbackReason = nil
        }
    }

    public var backend: SendBackend { xsk == nil ? .afpacket : .afxdp }

    /// Receives until `seconds` have passed, or `idle` seconds without a RoCE packet once
    /// traffic has started. `ready` runs once the socket is open.
    public func run(seconds: Double, idle: Double = 1.0, ready: () -> Void = {}) -> ReceiverReport {
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 9216, alignment: 64)
        defer { buffer.deallocate() }
        var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
        struct Flow { var report: FlowReport; var expected: UInt32; var started: Bool; var first: UInt64 = 0; var last: UInt64 = 0; var lastCNP: UInt64 = 0; var lastSent: UInt64 = 0 }
        let cnpFrame = UnsafeMutableRawPointer.allocate(byteCount: 128, alignment: 64)
        defer { cnpFrame.deallocate() }
        var flows: [UInt64: Flow] = [:]
        var r = ReceiverReport(latencyMicroseconds: LatencySummary(samples: 0, p50: 0, p99: 0, p999: 0, max: 0), flows: [])
        ready()
        let start = trafficClock()
        let end = start + UInt64(seconds * 1e9)
        var first: UInt64 = 0, last: UInt64 = 0
        /// Measures one received frame (in the AF_PACKET buffer or in place in the UMEM).
        func handle(_ buffer: UnsafeRawPointer, _ n: Int, _ t: UInt64) {
            let info = FrameParser.parse(buffer, length: n)
            guard info.error == nil, info.kind == .rocev2 || info.kind == .cnp else { return }
            let ip = buffer + Int(info.l3Offset)
            let v6 = info.etherType == EtherType.ipv6
            guard ICRC.isValid(ip: ip, l3Length: Int(info.l3Length), ipVersion: v6 ? 6 : 4) else {
                r.icrcFailures += 1
                return
            }
            if info.kind == .cnp {
                r.cnpReceived += 1
                return
            }
            if first == 0 { first = t }
            last = t
            let src = v6 ? 0 : UInt32(bigEndian: ip.loadUnaligned(fromByteOffset: 12, as: UInt32.self))
            let src6 = v6 ? loadIPv6(ip + 8) : IPv6Address(high: 0, low: 0)
            // Flow key: source address (IPv6 folded) and destination QP.
            let srcKey = v6 ? UInt64(truncatingIfNeeded: (src6.high ^ src6.low &* 0x9E37_79B9_7F4A_7C15) >> 24) | 1 << 63 : UInt64(src)
            let key = srcKey << 24 ^ UInt64(info.destinationQP)
            var flow = flows[key] ?? Flow(report: FlowReport(source: v6 ? src6.description : formatIPv4(src), destinationQP: info.destinationQP),
                                          expected: 0, started: false)
            flow.report.packets += 1
            flow.report.bytes += UInt64(n)
            if flow.last > 0, t - flow.last > UInt64(flow.report.maxGapMicroseconds * 1000) {
                flow.report.maxGapMicroseconds = Double(t - flow.last) / 1000
                flow.report.maxGapEndedAt = Double(t - flow.first) / 1e9
            }
            if flow.first == 0 { flow.first = t }
            flow.last = t
            if info.ecn == 3 {
                flow.report.ceMarked += 1
                // Notification point: a CNP to the sender's QP (named in our payload header),
                // back to the L2 source of the marked frame (its gateway when routed).
                let payloadOffset = Int(info.bthOffset) + BTHView.length + (RoCEOpcode.extendedHeaderLength(info.roceOpcode) ?? 0)
                if t &- flow.lastCNP >= 50_000, payloadOffset + TrafficPayload.length <= n,
                   UInt32(bigEndian: buffer.loadUnaligned(fromByteOffset: payloadOffset + 12, as: UInt32.self)) == TrafficPayload.magic {
                    let senderQP = UInt32(bigEndian: buffer.loadUnaligned(fromByteOffset: payloadOffset + 16, as: UInt32.self))
                    let peerMAC = MACAddress(rawValue: EthernetView.loadMAC(UnsafeRawPointer(buffer + 6)))
                    let back = v6
                        ? RoCEBuilder.Addresses(sourceMAC: socket.mac, destinationMAC: peerMAC, source6: loadIPv6(ip + 24), destination6: src6)
                        : RoCEBuilder.Addresses(sourceMAC: socket.mac, destinationMAC: peerMAC,
                                                source: UInt32(bigEndian: ip.loadUnaligned(fromByteOffset: 16, as: UInt32.self)), destination: src)
                    let len = RoCEBuilder.writeCNP(into: cnpFrame, capacity: 128, addresses: back,
                                                   sourcePort: RoCEBuilder.udpSourcePort(localQP: info.destinationQP, remoteQP: senderQP),
                                                   destinationQP: senderQP)
                    if len > 0, (try? socket.send(cnpFrame, length: len)) == true {
                        r.cnpSent += 1
                        flow.lastCNP = t
                    }
                }
            }
            // PSN accounting in 24-bit serial arithmetic: ahead = gap (provisional loss),
            // behind = reordered (and it fills one gap).
            let psn = info.psn
            if !flow.started {
                flow.started = true
                flow.expected = (psn + 1) & 0xFF_FFFF
            } else {
                let delta = (psn &- flow.expected) & 0xFF_FFFF
                if delta == 0 {
                    flow.expected = (psn + 1) & 0xFF_FFFF
                } else if delta < 0x80_0000 {
                    flow.report.lost += UInt64(delta)
                    flow.expected = (psn + 1) & 0xFF_FFFF
                } else {
                    flow.report.reordered += 1
                    if flow.report.lost > 0 { flow.report.lost -= 1 }
                }
            }
            // One-way latency from the payload timestamp.
            let payloadOffset = Int(info.bthOffset) + BTHView.length + (RoCEOpcode.extendedHeaderLength(info.roceOpcode) ?? 0)
            if payloadOffset + TrafficPayload.length <= n,
               UInt32(bigEndian: buffer.loadUnaligned(fromByteOffset: payloadOffset + 12, as: UInt32.self)) == TrafficPayload.magic {
                let sent = UInt64(bigEndian: buffer.loadUnaligned(fromByteOffset: payloadOffset, as: UInt64.self))
                if t > sent { _ = histogram.record(t - sent) }
                if flow.lastSent > 0 && sent > flow.lastSent {
                    flow.report.maxSendGapMicroseconds = max(flow.report.maxSendGapMicroseconds, Double(sent - flow.lastSent) / 1000)
                }
                flow.lastSent = max(flow.lastSent, sent)
            }
            flows[key] = flow
        }

        while !stopRequested.load(ordering: .relaxed) {
            let now = trafficClock()
            if now >= end { break }
            if last > 0 && now - last > UInt64(idle * 1e9) { break }
            if let x = xsk {
                _ = x.receive(timeoutMilliseconds: 50) { frame, n in handle(frame, n, trafficClock()) }
                // CNPs and anything the program passed still come to the AF_PACKET socket.
                while true {
                    let n = recv(socket.fd, buffer, 9216, Int32(MSG_DONTWAIT))
                    if n <= 0 { break }
                    handle(UnsafeRawPointer(buffer), n, trafficClock())
                }
            } else {
                let n = socket.receive(into: buffer, capacity: 9216, timeoutMilliseconds: 50)
                if n > 0 { handle(UnsafeRawPointer(buffer), n, trafficClock()) }
            }
        }
        r.seconds = first > 0 ? Double(last - first) / 1e9 : 0
        r.hostDrops = socket.drops() + (xsk?.drops() ?? 0)
        r.backend = backend.rawValue
        r.flows = flows.values.map(\.report).sorted { ($0.source, $0.destinationQP) < ($1.source, $1.destinationQP) }
        for f in r.flows {
            r.packets += f.packets
            r.bytes += f.bytes
            r.lost += f.lost
            r.reordered += f.reordered
            r.ceMarked += f.ceMarked
        }
        if histogram.totalCount > 0 {
            r.latencyMicroseconds = LatencySummary(samples: histogram.totalCount,
                                                   p50: Double(histogram.valueAtPercentile(50)) / 1000,
                                                   p99: Double(histogram.valueAtPercentile(99)) / 1000,
                                                   p999: Double(histogram.valueAtPercentile(99.9)) / 1000,
                                                   max: Double(histogram.maxRecorded) / 1000)
        }
        return r
    }
}

extension ReceiverReport {
    /// A table a network engineer reads without the docs.
    public var table: String {
        func f(_ v: Double, _ d: Int = 1) -> String { String(format: "%.\(d)f", v) }
        var s = "RoCEv2 receiver: \(packets) packets, \(bytes) bytes in \(f(seconds, 3)) s = \(f(goodputGbps, 2)) Gb/s\n"
        s += "  loss \(lost) packets (PSN gaps never filled), reordered \(reordered), CE-marked \(ceMarked)"
        s += packets > 0 ? " (\(f(100 * Double(ceMarked) / Double(packets), 2))%)" : ""
        s += ", ICRC failures \(icrcFailures), CNPs sent \(cnpSent)\n"
        if hostDrops > 0 { s += "  WARNING: this host's socket dropped \(hostDrops) frames (the receiver fell behind; counted in loss above)\n" }
        let l = latencyMicroseconds
        s += "  one-way latency (us): p50 \(f(l.p50)) p99 \(f(l.p99)) p99.9 \(f(l.p999)) max \(f(l.max)) over \(l.samples) packets\n"
        s += "  FLOW                       PACKETS        BYTES   LOST  REORDERED  CE   MAX_GAP_US\n"
        for fl in flows {
            let name = "\(fl.source) qp 0x\(String(fl.destinationQP, radix: 16))"
            s += "  " + name.padding(toLength: 24, withPad: " ", startingAt: 0)
                + String(format: "%10llu %12llu %6llu %10llu %4llu %12.1f\n", fl.packets, fl.bytes, fl.lost, fl.reordered, fl.ceMarked, fl.maxGapMicroseconds)
        }
        return s
    }
}

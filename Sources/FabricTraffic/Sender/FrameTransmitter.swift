// Where the sender's frames go: a transmit-only AF_XDP socket (frames built in place in UMEM
// frames, queued on the TX ring, one kick per batch) or the AF_PACKET socket (one send() per
// frame, from a buffer of its own). AF_XDP falls back to AF_PACKET when it cannot open.
// Frames longer than one UMEM frame (a 4096-byte RoCE MTU, jumbo frames) are built in that
// buffer and copied into a chain of UMEM frames, sent as one multi-buffer frame.
import FabricXDP
import Glibc

final class FrameTransmitter {
    /// Bytes one frame may take on either backend: a 9500-byte MTU's frame with room to spare
    /// (as the switch carries), a chain of UMEM frames on AF_XDP.
    static let frameBytes = 9600
    /// Unpaced AF_XDP frames are handed to the kernel this many at a time.
    static let batchSize = 32

    let backend: TrafficBackend
    /// Why AF_XDP was asked for and not used.
    let fallbackReason: String?
    private let socket: PacketSocket
    private let xsk: XSKTransmitter?
    /// AF_PACKET: the frame being built. AF_XDP: the batch waiting for the TX ring, and the
    /// UMEM address of the frame being built.
    private let buffer: UnsafeMutableRawPointer
    private let batchAddresses: UnsafeMutablePointer<UInt64>
    private let batchLengths: UnsafeMutablePointer<UInt32>
    private var batched = 0
    private var building: UInt64 = 0
    /// AF_XDP with frames longer than one UMEM frame: every frame is built in `buffer` and
    /// copied into a chain (`chain` holds its frames).
    private let chained: Bool
    private let chainAddresses: UnsafeMutablePointer<UInt64>
    private let chainLengths: UnsafeMutablePointer<UInt32>

    /// Opens AF_XDP on `interface` when `backend` asks for it; `socket` sends otherwise.
    /// `largestFrame`: the longest frame that will be sent.
    init(interface: String, backend requested: TrafficBackend, socket: PacketSocket, largestFrame: Int) {
        self.socket = socket
        var reason: String?
        var xsk: XSKTransmitter?
        if requested == .afxdp {
            do {
                let x = try XSKTransmitter(interface: interface)
                if largestFrame > x.frameSize && !x.multiBuffer {
                    throw TrafficError("\(interface): frames of \(largestFrame) bytes need AF_XDP multi-buffer (XDP_USE_SG), which this socket refused")
                }
                xsk = x
            } catch {
                reason = "\(error)"
            }
        }
        self.xsk = xsk
        fallbackReason = reason
        backend = xsk == nil ? .afpacket : .afxdp
        chained = xsk.map { largestFrame > $0.frameSize } ?? false
        buffer = .allocate(byteCount: Self.frameBytes, alignment: 64)
        batchAddresses = .allocate(capacity: Self.batchSize)
        batchLengths = .allocate(capacity: Self.batchSize)
        let pieces = (Self.frameBytes + 4095) / 4096
        chainAddresses = .allocate(capacity: pieces)
        chainLengths = .allocate(capacity: pieces)
    }

    deinit {
        buffer.deallocate()
        batchAddresses.deallocate()
        batchLengths.deallocate()
        chainAddresses.deallocate()
        chainLengths.deallocate()
    }

    /// Memory of `frameBytes` for the next frame: a free UMEM frame (waiting for the kernel
    /// to complete sends when none is free) or the AF_PACKET buffer.
    func nextFrame() -> UnsafeMutableRawPointer {
        guard let x = xsk, !chained else { return buffer }
        while x.reserve(1, into: &building) == 0 {
            if batched > 0 { x.submit(batchAddresses, batchLengths, count: batched); batched = 0 }
            x.reclaim()
        }
        return x.frame(building)
    }

    /// Sends the frame of `length` bytes built in `nextFrame()`: at once when `paced` (every
    /// packet at its time), else in batches. Returns how often it waited for room (a full TX
    /// ring or socket buffer: nothing is dropped, as a NIC's send queue back-pressures).
    func send(length: Int, paced: Bool) throws -> UInt64 {
        if let x = xsk, chained { return sendChain(x, length: length) }
        guard let x = xsk else {
            var retries: UInt64 = 0
            while try !socket.send(buffer, length: length) {
                retries += 1
                usleep(20)
            }
            return retries
        }
        batchAddresses[batched] = building
        batchLengths[batched] = UInt32(length)
        batched += 1
        guard batched == Self.batchSize || paced else { return 0 }
        defer { batched = 0 }
        return UInt64(x.submit(batchAddresses, batchLengths, count: batched))
    }

    /// Copies the frame built in `buffer` into as many UMEM frames as it takes and queues them
    /// as one multi-buffer frame (after what is batched, to keep the order).
    private func sendChain(_ x: XSKTransmitter, length: Int) -> UInt64 {
        var waits: UInt64 = 0
        if batched > 0 { waits += UInt64(x.submit(batchAddresses, batchLengths, count: batched)); batched = 0 }
        let pieces = (length + x.frameSize - 1) / x.frameSize
        while x.reserve(pieces, into: chainAddresses) < pieces {
            // `reserve` took what it could: give those back and wait for completions.
            x.unreserve(chainAddresses, count: x.lastReserved)
            waits += 1
            x.kick()
            x.reclaim()
        }
        for k in 0..<pieces {
            let n = min(x.frameSize, length - k * x.frameSize)
            x.frame(chainAddresses[k]).copyMemory(from: buffer + k * x.frameSize, byteCount: n)
            chainLengths[k] = UInt32(n)
        }
        waits += UInt64(x.submitChain(chainAddresses, chainLengths, count: pieces))
        return waits
    }

    /// Submits what is batched (the sender is about to wait: for ACKs, they must go out).
    func flush() {
        guard let x = xsk, batched > 0 else { return }
        x.submit(batchAddresses, batchLengths, count: batched)
        batched = 0
    }

    /// Submits what is batched and waits up to 1 s for the kernel to send everything.
    func finish() {
        guard let x = xsk else { return }
        if batched > 0 { x.submit(batchAddresses, batchLengths, count: batched) }
        batched = 0
        x.flush(timeout: 1_000_000_000)
    }
}

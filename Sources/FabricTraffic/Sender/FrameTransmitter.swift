// Where the sender's frames go: a transmit-only AF_XDP socket (frames built in place in UMEM
// frames, queued on the TX ring, one kick per batch) or the AF_PACKET socket (one send() per
// frame, from a buffer of its own). AF_XDP falls back to AF_PACKET when it cannot open.
import FabricXDP
import Glibc

final class FrameTransmitter {
    /// Bytes one frame may take on either backend: one UMEM frame of XSKTransmitter, and the
    /// AF_PACKET buffer is as large, so a fallback sends the same frames.
    static let frameBytes = 4096
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

    /// Opens AF_XDP on `interface` when `backend` asks for it; `socket` sends otherwise.
    init(interface: String, backend requested: TrafficBackend, socket: PacketSocket) {
        self.socket = socket
        var reason: String?
        var xsk: XSKTransmitter?
        if requested == .afxdp {
            do {
                let x = try XSKTransmitter(interface: interface)
                precondition(x.frameSize >= Self.frameBytes, "SenderConfig.validate assumes \(Self.frameBytes)-byte UMEM frames")
                xsk = x
            } catch {
                reason = "\(error)"
            }
        }
        self.xsk = xsk
        fallbackReason = reason
        backend = xsk == nil ? .afpacket : .afxdp
        buffer = .allocate(byteCount: Self.frameBytes, alignment: 64)
        batchAddresses = .allocate(capacity: Self.batchSize)
        batchLengths = .allocate(capacity: Self.batchSize)
    }

    deinit {
        buffer.deallocate()
        batchAddresses.deallocate()
        batchLengths.deallocate()
    }

    /// Memory of `frameBytes` for the next frame: a free UMEM frame (waiting for the kernel
    /// to complete sends when none is free) or the AF_PACKET buffer.
    func nextFrame() -> UnsafeMutableRawPointer {
        guard let x = xsk else { return buffer }
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

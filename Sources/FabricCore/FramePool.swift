/// The free list of UMEM frames: a stack of frame addresses, allocated once.
///
/// Every frame of the UMEM is always in exactly one place: this pool, a kernel ring (fill, rx,
/// tx, completion), or an egress queue. `FrameLedger` checks that the places add up.
///
/// The last `reserve` free frames are kept for the switch's own PFC frames
/// (`allocateReserved`): receive buffers, flood copies and ARP/ND requests stop short of them,
/// so an XOFF always finds a frame. `FrameBudget` sizes the pool so that neither runs out; if
/// one does anyway, `refusals` counts it.
///
/// Jumbo frames (AF_XDP multi-buffer): a packet longer than one frame is a *chain*, its head
/// frame followed by continuation frames, linked here by frame index (`link`). Queues, batches
/// and the pipeline hold only the head and the packet's total length; the headers are always
/// in the head (it is a full frame whenever the packet continues). Releasing the head releases
/// the chain; transmitting a chain unlinks it (`unlink`), because the kernel completes each of
/// its frames on its own. `chained` counts the continuation frames linked now (the ledger's
/// share of frames held behind a head).
public struct FramePool: ~Copyable {
    public let capacity: Int
    public let frameSize: Int
    /// log2(frameSize): frame sizes are powers of two, so an address's frame is a shift away.
    @usableFromInline let frameShift: UInt64
    /// The largest packet the switch carries in a chain of frames: a 9500-byte MTU, its
    /// Ethernet header and one VLAN tag, with room to spare (`BufferConfig.largestMTU`).
    public static let largestPacket = 9600
    /// Value of `nextSegment` for a frame that ends its packet.
    public static let endOfChain = UInt64.max
    /// Per frame index: the address (with its offset) of the frame the packet continues in,
    /// or `endOfChain`; and the bytes this frame holds when it is part of a chain.
    @usableFromInline let nextSegment: UnsafeMutablePointer<UInt64>
    @usableFromInline let segmentBytes: UnsafeMutablePointer<UInt32>
    /// Continuation frames linked into chains now.
    public var chained = 0

    /// The frame size the switch uses (`SwitchOptions.frameSize`; 2048 is the other choice).
    public static let defaultFrameSize = 4096
    /// Bytes the kernel keeps in front of every frame it receives into a UMEM frame
    /// (XDP_PACKET_HEADROOM; the UMEMs here add no headroom of their own): a received frame
    /// holds at most `frameSize - rxHeadroom` bytes, and the kernel drops longer ones.
    public static let rxHeadroom = 256
    /// Frames only `allocateReserved` may take.
    public let reserve: Int
    /// Allocations refused (the pool at its reserve, or empty) and receive-ring refills that
    /// found fewer frames than the ring wanted.
    public var refusals: UInt64 = 0
    @usableFromInline let stack: UnsafeMutablePointer<UInt64>
    @usableFromInline var top: Int

    /// A pool that owns frames `0 ..< frameCount`, each `frameSize` bytes, all free.
    public init(frameCount: Int, frameSize: Int, reserve: Int = 0) {
        precondition(frameCount > 0 && frameSize > 0 && frameSize & (frameSize - 1) == 0 && (0..<frameCount).contains(reserve))
        capacity = frameCount
        self.frameSize = frameSize
        frameShift = UInt64(frameSize.trailingZeroBitCount)
        self.reserve = reserve
        nextSegment = .filled(with: Self.endOfChain, count: frameCount)
        segmentBytes = .filled(with: 0, count: frameCount)
        stack = .allocate(capacity: frameCount)
        // Push in reverse so the lowest addresses come out first (easier to read in a debugger).
        for i in 0..<frameCount {
            stack[i] = UInt64(frameCount - 1 - i) * UInt64(frameSize)
        }
        top = frameCount
    }

    deinit {
        stack.deallocate()
        nextSegment.deallocate()
        segmentBytes.deallocate()
    }

    @inlinable public var freeCount: Int { top }
    /// Free frames outside the reserve.
    @inlinable public var available: Int { max(0, top &- reserve) }

    /// Takes one frame outside the reserve; nil (counted) when there is none.
    @inlinable public mutating func allocate() -> UInt64? {
        guard top > reserve else {
            refusals &+= 1
            return nil
        }
        top &-= 1
        return stack[top]
    }

    /// Takes one frame, from the reserve if need be (the switch's PFC); nil (counted) when the
    /// pool is empty.
    @inlinable public mutating func allocateReserved() -> UInt64? {
        guard top > 0 else {
            refusals &+= 1
            return nil
        }
        top &-= 1
        return stack[top]
    }

    /// Takes one frame from a pool the caller has checked is not empty (`freeCount > 0`).
    @inlinable public mutating func take() -> UInt64 {
        precondition(top > 0, "FramePool: take() from an empty pool")
        top &-= 1
        return stack[top]
    }

    /// Returns a frame, and every frame its packet continues in. The address may carry an
    /// offset inside its frame (the kernel hands back rx addresses past the headroom); it is
    /// aligned down to the frame start. While no chain is linked (`chained == 0`, every frame
    /// of a 1500-byte bed) no frame continues, and the chain is not looked at.
    @inlinable @inline(__always) public mutating func release(_ addr: UInt64) {
        // A double free would push the pool past its capacity; that is a bug, not input.
        precondition(top < capacity, "FramePool: more frames released than exist")
        stack[top] = addr & ~(UInt64(frameSize) &- 1)
        top &+= 1
        if chained != 0 { releaseContinuation(of: addr) }
    }

    /// The frames a released head's packet continues in, and their links.
    @usableFromInline @inline(never) mutating func releaseContinuation(of head: UInt64) {
        var i = Int(truncatingIfNeeded: head >> frameShift)
        while true {
            let next = nextSegment[i]
            guard next != Self.endOfChain else { return }
            nextSegment[i] = Self.endOfChain
            chained &-= 1
            precondition(top < capacity, "FramePool: more frames released than exist")
            stack[top] = next & ~(UInt64(frameSize) &- 1)
            top &+= 1
            i = Int(truncatingIfNeeded: next >> frameShift)
        }
    }

    // MARK: - Chains (multi-buffer packets)

    /// The frame `addr`'s packet continues in, or nil when it ends there.
    @inlinable public func next(after addr: UInt64) -> UInt64? {
        let n = nextSegment[Int(truncatingIfNeeded: addr >> frameShift)]
        return n == Self.endOfChain ? nil : n
    }

    /// True when the packet at `addr` continues in another frame.
    @inlinable public func isChained(_ addr: UInt64) -> Bool {
        nextSegment[Int(truncatingIfNeeded: addr >> frameShift)] != Self.endOfChain
    }

    /// Bytes of its packet that frame `addr` holds, when the packet is a chain (`isChained`
    /// on its head; a packet in one frame holds its whole length and records none here).
    @inlinable public func segmentLength(_ addr: UInt64) -> UInt32 {
        segmentBytes[Int(truncatingIfNeeded: addr >> frameShift)]
    }

    /// Frames the packet at `addr` occupies (1 unless it is a chain).
    @inlinable public func segmentCount(_ addr: UInt64) -> Int {
        var n = 1
        var a = addr
        while let next = next(after: a) {
            n &+= 1
            a = next
        }
        return n
    }

    /// Copies the packet of `length` bytes whose chain starts at `head` (frame memory at
    /// `frames`) to `dst`; returns the bytes copied (less than `length` only for a chain that
    /// is shorter, never expected).
    @discardableResult
    public func gather(_ head: UInt64, length: Int, from frames: UnsafeRawPointer, into dst: UnsafeMutableRawPointer) -> Int {
        var segment: UInt64? = head
        var at = 0
        while let a = segment, at < length {
            let n = min(Int(segmentLength(a)), length - at)
            (dst + at).copyMemory(from: frames + Int(a), byteCount: n)
            at += n
            segment = next(after: a)
        }
        return at
    }

    /// Records that frame `addr` holds `length` bytes of its packet and the packet goes on in
    /// frame `next`. The last frame of a chain gets its length with `next` nil.
    @inlinable public mutating func link(_ addr: UInt64, length: UInt32, to next: UInt64?) {
        let i = Int(truncatingIfNeeded: addr >> frameShift)
        segmentBytes[i] = length
        if let next {
            if nextSegment[i] == Self.endOfChain { chained &+= 1 }
            nextSegment[i] = next
        }
    }

    /// Takes frame `addr` out of its chain: returns the frame its packet continued in (nil at
    /// the end), so each frame is released on its own.
    @inlinable public mutating func unlink(_ addr: UInt64) -> UInt64? {
        let i = Int(truncatingIfNeeded: addr >> frameShift)
        let next = nextSegment[i]
        guard next != Self.endOfChain else { return nil }
        nextSegment[i] = Self.endOfChain
        chained &-= 1
        return next
    }
}

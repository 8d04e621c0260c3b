/// The free list of UMEM frames: a stack of frame addresses, allocated once.
///
/// Every frame of the UMEM is always in exactly one place: this pool, a kernel ring (fill, rx,
/// tx, completion), or an egress queue. `FrameLedger` checks that the places add up.
///
/// The last `reserve` free frames are kept for the switch's own PFC frames
/// (`allocateReserved`): receive buffers, flood copies and ARP/ND requests stop short of them,
/// so an XOFF always finds a frame. `FrameBudget` sizes the pool so that neither runs out; if
/// one does anyway, `refusals` counts it.
public struct FramePool: ~Copyable {
    public let capacity: Int
    public let frameSize: Int

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
        precondition(frameCount > 0 && frameSize > 0 && (0..<frameCount).contains(reserve))
        capacity = frameCount
        self.frameSize = frameSize
        self.reserve = reserve
        stack = .allocate(capacity: frameCount)
        // Push in reverse so the lowest addresses come out first (easier to read in a debugger).
        for i in 0..<frameCount {
            stack[i] = UInt64(frameCount - 1 - i) * UInt64(frameSize)
        }
        top = frameCount
    }

    deinit { stack.deallocate() }

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

    /// Returns a frame. The address may carry an offset inside its frame (the kernel hands back
    /// rx addresses past the headroom); it is aligned down to the frame start.
    @inlinable public mutating func release(_ addr: UInt64) {
        // A double free would push the pool past its capacity; that is a bug, not input.
        precondition(top < capacity, "FramePool: more frames released than exist")
        stack[top] = addr - addr % UInt64(frameSize)
        top &+= 1
    }
}

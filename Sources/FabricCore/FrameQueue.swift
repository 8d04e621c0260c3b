/// A fixed power-of-two ring of frames (UMEM address + length) with packet and byte depth.
/// Single owner: the worker thread that enqueues is the one that dequeues.
public struct FrameQueue: ~Copyable {
    public let capacity: Int
    @usableFromInline let mask: Int
    @usableFromInline let addrs: UnsafeMutablePointer<UInt64>
    @usableFromInline let lens: UnsafeMutablePointer<UInt32>
    /// Per frame: who to credit when it leaves (ingress port << 3 | priority group), or
    /// `FrameQueue.untagged` for frames the switch made itself.
    @usableFromInline let tags: UnsafeMutablePointer<UInt16>
    public static let untagged: UInt16 = 0xFFFF
    /// Per frame: when it was received (monotonic ns; 0 for frames the switch made).
    @usableFromInline let stamps: UnsafeMutablePointer<UInt64>
    /// The stamp of the frame the last dequeue returned.
    public var lastStamp: UInt64 = 0
    @usableFromInline var head = 0   // next to dequeue (monotonic)
    @usableFromInline var tail = 0   // next to enqueue (monotonic)
    /// Bytes currently queued.
    public var byteDepth = 0

    public init(capacity: Int) {
        precondition(capacity > 0 && capacity & (capacity - 1) == 0, "FrameQueue capacity must be a power of two")
        self.capacity = capacity
        mask = capacity - 1
        addrs = .allocate(capacity: capacity)
        lens = .allocate(capacity: capacity)
        tags = .allocate(capacity: capacity)
        stamps = .allocate(capacity: capacity)
    }

    deinit {
        addrs.deallocate()
        lens.deallocate()
        tags.deallocate()
        stamps.deallocate()
    }

    /// Frames currently queued.
    @inlinable public var count: Int { tail &- head }
    @inlinable public var isEmpty: Bool { tail == head }
    @inlinable public var isFull: Bool { tail &- head == capacity }

    /// Appends a frame; false (and nothing changes) when the queue is full.
    @inlinable public mutating func enqueue(addr: UInt64, len: UInt32, tag: UInt16 = FrameQueue.untagged, stamp: UInt64 = 0) -> Bool {
        guard tail &- head < capacity else { return false }
        addrs[tail & mask] = addr
        lens[tail & mask] = len
        tags[tail & mask] = tag
        stamps[tail & mask] = stamp
        tail &+= 1
        byteDepth &+= Int(len)
        return true
    }

    /// The oldest frame without removing it.
    @inlinable public func peek() -> (addr: UInt64, len: UInt32)? {
        guard head != tail else { return nil }
        return (addrs[head & mask], lens[head & mask])
    }

    /// Removes and returns the oldest frame.
    @inlinable public mutating func dequeue() -> (addr: UInt64, len: UInt32)? {
        guard let f = dequeueTagged() else { return nil }
        return (f.addr, f.len)
    }

    /// Removes and returns the oldest frame with its tag.
    @inlinable public mutating func dequeueTagged() -> (addr: UInt64, len: UInt32, tag: UInt16)? {
        guard head != tail else { return nil }
        let i = head & mask
        head &+= 1
        byteDepth &-= Int(lens[i])
        lastStamp = stamps[i]
        return (addrs[i], lens[i], tags[i])
    }
}

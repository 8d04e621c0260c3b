/// A fixed power-of-two ring of frames (UMEM address + length) with packet and byte depth.
/// Single owner: the worker thread that enqueues is the one that dequeues.
///
/// One 24-byte entry per frame (address, receive stamp, length, tag) rather than an array per
/// field: enqueue and dequeue touch one cache line instead of four.
public struct FrameQueue: ~Copyable {
    public let capacity: Int
    @usableFromInline let mask: Int
    @usableFromInline struct Entry {
        @usableFromInline var addr: UInt64
        /// When the frame was received (monotonic ns; 0 for frames the switch made).
        @usableFromInline var stamp: UInt64
        @usableFromInline var len: UInt32
        /// Who to credit when it leaves (ingress port << 3 | priority group), or
        /// `FrameQueue.untagged` for frames the switch made itself.
        @usableFromInline var tag: UInt16
        @inlinable init(addr: UInt64, stamp: UInt64, len: UInt32, tag: UInt16) {
            self.addr = addr
            self.stamp = stamp
            self.len = len
            self.tag = tag
        }
    }
    @usableFromInline let entries: UnsafeMutablePointer<Entry>
    public static let untagged: UInt16 = 0xFFFF
    @usableFromInline var head = 0   // next to dequeue (monotonic)
    @usableFromInline var tail = 0   // next to enqueue (monotonic)
    /// Bytes currently queued.
    public var byteDepth = 0

    public init(capacity: Int) {
        precondition(capacity > 0 && capacity & (capacity - 1) == 0, "FrameQueue capacity must be a power of two")
        self.capacity = capacity
        mask = capacity - 1
        entries = .allocate(capacity: capacity)
    }

    deinit {
        entries.deallocate()
    }

    /// Frames currently queued.
    @inlinable public var count: Int { tail &- head }
    @inlinable public var isEmpty: Bool { tail == head }
    @inlinable public var isFull: Bool { tail &- head == capacity }

    /// Appends a frame; false (and nothing changes) when the queue is full.
    @inlinable public mutating func enqueue(addr: UInt64, len: UInt32, tag: UInt16 = FrameQueue.untagged, stamp: UInt64 = 0) -> Bool {
        guard tail &- head < capacity else { return false }
        entries[tail & mask] = Entry(addr: addr, stamp: stamp, len: len, tag: tag)
        tail &+= 1
        byteDepth &+= Int(len)
        return true
    }

    /// The oldest frame without removing it.
    @inlinable public func peek() -> (addr: UInt64, len: UInt32)? {
        guard head != tail else { return nil }
        let e = entries[head & mask]
        return (e.addr, e.len)
    }

    /// Removes and returns the oldest frame.
    @inlinable public mutating func dequeue() -> (addr: UInt64, len: UInt32)? {
        guard let f = dequeueTagged() else { return nil }
        return (f.addr, f.len)
    }

    /// Removes and returns the oldest frame with its tag.
    @inlinable public mutating func dequeueTagged() -> (addr: UInt64, len: UInt32, tag: UInt16)? {
        guard let f = dequeueStamped() else { return nil }
        return (f.addr, f.len, f.tag)
    }

    /// Removes and returns the oldest frame with its tag and receive stamp.
    @inlinable public mutating func dequeueStamped() -> (addr: UInt64, len: UInt32, tag: UInt16, stamp: UInt64)? {
        guard head != tail else { return nil }
        let e = entries[head & mask]
        head &+= 1
        byteDepth &-= Int(e.len)
        return (e.addr, e.len, e.tag, e.stamp)
    }
}

/// A fixed power-of-two ring of frames (UMEM address + length) with packet and byte depth.
/// Single owner: the worker thread that enqueues is the one that dequeues.
///
/// One 32-byte entry per frame (address, receive stamp, length, rx-ring wait, tag) rather than
/// an array per field: enqueue and dequeue touch one cache line instead of five.
public struct FrameQueue: ~Copyable {
    public let capacity: Int
    @usableFromInline let mask: Int
    @usableFromInline struct Entry {
        @usableFromInline var addr: UInt64
        /// When the frame was received (monotonic ns; 0 for frames the switch made).
        @usableFromInline var stamp: UInt64
        @usableFromInline var len: UInt32
        /// Nanoseconds it waited in its socket's rx ring before `stamp` (from the XDP stamp;
        /// 0 if it has none).
        @usableFromInline var wait: UInt32
        /// Whom to credit when it leaves.
        @usableFromInline var tag: ChargeTag
        @inlinable init(addr: UInt64, stamp: UInt64, len: UInt32, wait: UInt32, tag: ChargeTag) {
            self.addr = addr
            self.stamp = stamp
            self.len = len
            self.wait = wait
            self.tag = tag
        }
    }
    @usableFromInline let entries: UnsafeMutablePointer<Entry>
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
    @inlinable @inline(__always) public mutating func enqueue(addr: UInt64, len: UInt32, tag: ChargeTag = .uncharged, stamp: UInt64 = 0, wait: UInt32 = 0) -> Bool {
        guard tail &- head < capacity else { return false }
        entries[tail & mask] = Entry(addr: addr, stamp: stamp, len: len, wait: wait, tag: tag)
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
    @inlinable @inline(__always) public mutating func dequeueTagged() -> QueuedFrame? {
        guard let f = dequeueStamped() else { return nil }
        return QueuedFrame(addr: f.addr, len: f.len, tag: f.tag)
    }

    /// Removes and returns the oldest frame with its tag, receive stamp and rx-ring wait.
    @inlinable @inline(__always) public mutating func dequeueStamped() -> (addr: UInt64, len: UInt32, tag: ChargeTag, stamp: UInt64, wait: UInt32)? {
        guard head != tail else { return nil }
        let e = entries[head & mask]
        head &+= 1
        byteDepth &-= Int(e.len)
        return (e.addr, e.len, e.tag, e.stamp, e.wait)
    }
}

/// A frame taken out of a queue: where it is, how long, and whom it was charged to.
public struct QueuedFrame {
    public var addr: UInt64
    public var len: UInt32
    public var tag: ChargeTag
    @inlinable public init(addr: UInt64, len: UInt32, tag: ChargeTag) {
        self.addr = addr
        self.len = len
        self.tag = tag
    }
}

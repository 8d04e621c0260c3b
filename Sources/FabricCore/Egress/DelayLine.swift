/// The emulated wire's propagation delay: the frames a port's shaper released, in the order they
/// left, each held until its departure + `delayNanoseconds` (netem's delay, inside the switch:
/// this kernel has none). The delay is the same for every frame and departures only move
/// forward, so the frames become due in the order they entered: a ring, never a heap, and
/// nothing overtakes anything.
///
/// A frame on the line has left the switch: its buffer charge was credited and its switch
/// residence recorded when the shaper released it. Its UMEM frame is still ours until the line
/// hands it to the kernel, so the line counts as queued in the frame ledger
/// (`EgressPort.count`), and a port that goes down or out of service empties it (a wire that
/// breaks loses what was on it).
///
/// Capacity: one entry per frame that can be on the wire, `PortConfig.delayLineFrames` (delay x
/// line rate in minimum-size frames). The caller asks the shaper for a frame only while the
/// line has room, so a line that is too short slows the link (frames wait in their egress
/// queue) and never loses or reorders a frame.
public struct DelayLine: ~Copyable {
    public private(set) var delayNanoseconds: UInt64
    public private(set) var capacity: Int
    @usableFromInline private(set) var mask: Int
    @usableFromInline struct Entry {
        @usableFromInline var addr: UInt64
        /// When the frame reaches the far end of the wire (monotonic ns).
        @usableFromInline var due: UInt64
        @usableFromInline var len: UInt32
        @inlinable init(addr: UInt64, due: UInt64, len: UInt32) {
            self.addr = addr
            self.due = due
            self.len = len
        }
    }
    @usableFromInline private(set) var entries: UnsafeMutablePointer<Entry>
    @usableFromInline var head = 0   // next to leave (monotonic)
    @usableFromInline var tail = 0   // next to enter (monotonic)

    /// `delayNanoseconds` 0: no line (frames go straight to the kernel; `capacity` is ignored).
    public init(delayNanoseconds: UInt64, capacity: Int) {
        self.delayNanoseconds = delayNanoseconds
        let n = delayNanoseconds == 0 ? 1 : capacity
        precondition(n > 0 && n & (n - 1) == 0, "DelayLine capacity must be a power of two")
        self.capacity = n
        mask = n - 1
        entries = .allocate(capacity: n)
    }

    deinit { entries.deallocate() }

    /// A line with a delay, or one whose delay was set to 0 while frames were on it (they still
    /// arrive when they are due).
    @inlinable public var isEnabled: Bool { delayNanoseconds != 0 || tail != head }

    /// A new delay from now on (`fabric ctl config apply`), and room for `capacity` frames: the
    /// frames on the wire arrive when they were due, the ones sent from now on take the new
    /// delay, and none overtakes another (a shorter delay holds new frames behind the old until
    /// those arrive). A larger capacity allocates a new ring and moves the frames over in order
    /// (once per change, not per frame); the ring never shrinks.
    public mutating func retune(delayNanoseconds delay: UInt64, capacity wanted: Int) {
        delayNanoseconds = delay
        let n = delay == 0 ? 1 : wanted
        precondition(n > 0 && n & (n - 1) == 0, "DelayLine capacity must be a power of two")
        guard n > capacity else { return }
        let bigger = UnsafeMutablePointer<Entry>.allocate(capacity: n)
        var k = 0
        while head != tail {
            bigger[k] = entries[head & mask]
            head &+= 1
            k += 1
        }
        entries.deallocate()
        entries = bigger
        capacity = n
        mask = n - 1
        head = 0
        tail = k
    }
    /// Frames on the wire now.
    @inlinable public var count: Int { tail &- head }
    @inlinable public var isEmpty: Bool { tail == head }
    @inlinable public var isFull: Bool { tail &- head == capacity }

    /// A frame left the shaper at `departure`; it arrives at `departure + delayNanoseconds`.
    /// The caller checks `isFull` first (a full line is a caller's bug, not input).
    @inlinable public mutating func push(addr: UInt64, len: UInt32, departure: UInt64) {
        precondition(tail &- head < capacity, "DelayLine: push onto a full line")
        entries[tail & mask] = Entry(addr: addr, due: departure &+ delayNanoseconds, len: len)
        tail &+= 1
    }

    /// The oldest frame if it has crossed the wire by `now`.
    @inlinable public mutating func popDue(now: UInt64) -> (addr: UInt64, len: UInt32)? {
        guard head != tail else { return nil }
        let e = entries[head & mask]
        guard e.due <= now else { return nil }
        head &+= 1
        return (e.addr, e.len)
    }

    /// When the oldest frame arrives (nil: the line is empty).
    @inlinable public var nextDue: UInt64? { head == tail ? nil : entries[head & mask].due }

    /// Takes the oldest frame whether due or not (a port going down, out of service).
    @inlinable public mutating func removeOldest() -> (addr: UInt64, len: UInt32)? {
        guard head != tail else { return nil }
        let e = entries[head & mask]
        head &+= 1
        return (e.addr, e.len)
    }
}

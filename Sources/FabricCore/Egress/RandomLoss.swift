/// Random loss on the emulated wire (netem's `loss random`): each frame is lost independently
/// with probability `rate`. The draw is SplitMix64 (Steele, Lea & Flood, "Fast splittable
/// pseudorandom number generators", OOPSLA 2014): one add and two multiplies, no syscall, good
/// from any seed including 0, so a `loss_seed` replays the same losses frame for frame.
public struct RandomLoss {
    /// Probability of losing a frame, 0...1.
    public let rate: Double
    /// A frame is lost when a uniform 64-bit draw is below this (0: never, the draw is skipped).
    @usableFromInline let threshold: UInt64
    @usableFromInline let always: Bool
    @usableFromInline var state: UInt64

    public init(rate: Double, seed: UInt64) {
        precondition(rate >= 0 && rate <= 1, "loss rate must be 0...1")
        self.rate = rate
        always = rate >= 1
        // 2^64 x rate, exactly representable steps of 2^-64; rate < 1 keeps it below 2^64.
        threshold = always ? .max : UInt64(rate * 18_446_744_073_709_551_616.0)
        state = seed
    }

    @inlinable public var isEnabled: Bool { threshold != 0 }

    /// Whether the next frame is lost.
    @inlinable public mutating func drops() -> Bool {
        guard threshold != 0 else { return false }
        if always { return true }
        return next() < threshold
    }

    @inlinable @inline(__always) mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

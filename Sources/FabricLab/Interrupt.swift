import FabricSystem
import Foundation
import Synchronization

/// Ctrl-C in the lab. The command installs FabricSystem's stop handlers, which only set
/// `stopRequested` (all a signal handler may safely do); the lab's waiting loops call `check()`,
/// which throws `Interrupted`, and every `defer` on the way out stops the children and removes
/// the test bed on the main path.
public enum Interrupt {
    public struct Interrupted: Error, CustomStringConvertible {
        public var description: String { "interrupted" }
    }

    public static var requested: Bool { stopRequested.load(ordering: .relaxed) }

    /// Throws `Interrupted` once SIGINT or SIGTERM arrived.
    public static func check() throws {
        if requested { throw Interrupted() }
    }

    /// Sleeps `seconds`, in short steps that notice an interrupt.
    public static func sleep(_ seconds: Double) throws {
        var left = seconds
        while left > 0 {
            try check()
            usleep(UInt32(min(left, 0.05) * 1e6))
            left -= 0.05
        }
        try check()
    }
}

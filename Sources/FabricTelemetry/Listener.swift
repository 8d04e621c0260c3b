import FabricSystem
import Foundation
import Glibc

/// How long one client may hold a telemetry endpoint's thread (which serves one connection at
/// a time): a silent client is dropped once `request` seconds pass without a full request
/// line, and a client that stops reading (or reads a trickle) once `answer` seconds pass
/// before it took the whole answer. Both are deadlines for the whole exchange, not per call.
public struct ClientLimits: Sendable {
    /// Seconds from accept until the request line must have arrived.
    public var request: Double
    /// Seconds, from the end of the request, for the client to take the whole answer.
    public var answer: Double

    public init(request: Double = 0.5, answer: Double = 5) {
        self.request = request
        self.answer = answer
    }

    /// `seconds` from now, in monotonic nanoseconds.
    static func deadline(_ seconds: Double) -> UInt64 { monotonicNanoseconds() &+ UInt64(max(0, seconds) * 1e9) }
}

/// The accept loop of the telemetry endpoints (control socket, /metrics): a thread of its own,
/// off the worker's CPUs, that handles one connection at a time and closes it. It ends when
/// `stopping` says so after an accept, or when the listening socket is shut down or closed;
/// a failure that passes (EINTR, an aborted connection, no descriptors or memory left for a
/// moment) does not end it.
enum Listener {
    static func start(fd: Int32, name: String, limits: ClientLimits, stopping: @escaping @Sendable () -> Bool,
                      handle: @escaping @Sendable (Int32) -> Void) -> Thread {
        let t = Thread {
            Affinity.leaveWorkerCPUs()
            while true {
                let c = accept(fd, nil, nil)
                if stopping() {
                    if c >= 0 { close(c) }
                    return
                }
                guard c >= 0 else {
                    switch errno {
                    case EINTR, ECONNABORTED, EPROTO: continue
                    case EMFILE, ENFILE, ENOBUFS, ENOMEM:
                        usleep(10_000)
                        continue
                    default: return   // EBADF, EINVAL: the socket was shut down or closed
                    }
                }
                // The per-call timeouts back up the deadlines the handlers keep (FD.readRequest,
                // FD.sendAll): no single blocking call on this socket outlasts the whole answer.
                FD.setTimeouts(c, seconds: limits.request + limits.answer)
                handle(c)
                close(c)
            }
        }
        t.name = name
        t.start()
        return t
    }
}

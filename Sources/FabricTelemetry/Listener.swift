import FabricSystem
import Foundation
import Glibc

/// The accept loop of the telemetry endpoints (control socket, /metrics): a thread of its own,
/// off the worker's CPUs, that handles one connection at a time and closes it. It ends when
/// `stopping` says so after an accept, or when the listening socket is shut down.
enum Listener {
    static func start(fd: Int32, name: String, stopping: @escaping @Sendable () -> Bool,
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
                    if errno == EINTR || errno == ECONNABORTED { continue }
                    return
                }
                handle(c)
                close(c)
            }
        }
        t.name = name
        t.start()
        return t
    }
}

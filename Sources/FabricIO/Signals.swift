import CXDP
import Glibc
import Synchronization

/// Set by SIGINT/SIGTERM; the run loop polls it once per iteration (not per packet).
public let stopRequested = Atomic<Bool>(false)

/// Installs SIGINT/SIGTERM handlers that ask the run loop to stop, and ignores SIGPIPE.
public func installStopHandlers() {
    let handler: @convention(c) (Int32) -> Void = { _ in
        stopRequested.store(true, ordering: .relaxed)
    }
    var action = sigaction()
    action.__sigaction_handler.sa_handler = handler
    sigemptyset(&action.sa_mask)
    action.sa_flags = 0  // no SA_RESTART: poll() returns EINTR so the loop notices at once
    sigaction(SIGINT, &action, nil)
    sigaction(SIGTERM, &action, nil)
    signal(SIGPIPE, SIG_IGN)
}

/// Moves the calling thread into the named network namespace (`ip netns add NAME`).
/// Must run before any socket is opened and before other threads start.
public func enterNetworkNamespace(_ name: String) throws {
    let path = "/var/run/netns/\(name)"
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw FabricIOError("cannot open network namespace \(path)", errno: errno) }
    defer { close(fd) }
    guard fabric_setns_net(fd) == 0 else {
        throw FabricIOError("cannot enter network namespace \(name)", errno: errno)
    }
}

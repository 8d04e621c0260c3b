import Glibc
import Synchronization

/// Set by SIGINT/SIGTERM. The switch's run loop polls it once per iteration (never per packet);
/// the traffic generator and the lab's waiting loops poll it too. The handler does nothing
/// else (setting an atomic is async-signal-safe): teardown runs on the main path.
public let stopRequested = Atomic<Bool>(false)

/// Installs SIGINT/SIGTERM handlers that only set `stopRequested`, and ignores SIGPIPE.
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

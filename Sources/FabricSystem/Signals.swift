import Glibc
import Synchronization

/// Set by SIGINT, SIGTERM and SIGQUIT. The switch's run loop polls it once per iteration (never
/// per packet); the traffic generator and the lab's waiting loops poll it too. The handler does
/// nothing else (setting an atomic is async-signal-safe): teardown runs on the main path.
///
/// A second stop signal while the first is being handled exits at once (`_exit`, status
/// 128 + signal), for a shutdown that is stuck (a write to a full pipe or a hung disk): an
/// operator's second Ctrl-C always works. AF_XDP sockets and XDP links die with the process,
/// so the kernel takes the switch's programs off its ports even then.
public let stopRequested = Atomic<Bool>(false)

/// Set by SIGHUP; cleared by whoever reloads (`fabric switch --config` applies its file again,
/// as `fabric ctl config apply` does). Processes that have nothing to reload ignore it: a
/// closed terminal does not kill them half-way.
public let reloadRequested = Atomic<Bool>(false)

/// Installs the handlers: SIGINT/SIGTERM/SIGQUIT ask for an orderly stop (the second one exits
/// at once), SIGHUP asks for a reload; SIGPIPE is ignored.
public func installStopHandlers() {
    // Initialise the globals here, not on first use inside a handler (swift_once may lock).
    _ = stopRequested.load(ordering: .relaxed)
    _ = reloadRequested.load(ordering: .relaxed)
    let stop: @convention(c) (Int32) -> Void = { sig in
        if stopRequested.exchange(true, ordering: .relaxed) {
            let m: StaticString = "fabric: second stop signal: exiting now, without an orderly shutdown\n"
            _ = write(2, m.utf8Start, m.utf8CodeUnitCount)
            _exit(128 + sig)
        }
    }
    let reload: @convention(c) (Int32) -> Void = { _ in
        reloadRequested.store(true, ordering: .relaxed)
    }
    var action = sigaction()
    action.__sigaction_handler.sa_handler = stop
    sigemptyset(&action.sa_mask)
    action.sa_flags = 0  // no SA_RESTART: poll() returns EINTR so the loop notices at once
    sigaction(SIGINT, &action, nil)
    sigaction(SIGTERM, &action, nil)
    sigaction(SIGQUIT, &action, nil)
    action.__sigaction_handler.sa_handler = reload
    sigaction(SIGHUP, &action, nil)
    signal(SIGPIPE, SIG_IGN)
}

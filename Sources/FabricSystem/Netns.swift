import CFabricShims
import Glibc

/// Moves the calling thread into the named network namespace (`ip netns add NAME`).
/// Must run before any socket is opened and before other threads start.
public func enterNetworkNamespace(_ name: String) throws {
    let path = "/var/run/netns/\(name)"
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw SystemError("cannot open network namespace \(path)", errno: errno) }
    defer { close(fd) }
    guard sf_setns_net(fd) == 0 else {
        throw SystemError("cannot enter network namespace \(name)", errno: errno)
    }
}

import FabricSystem
import Glibc

/// An exclusive claim on one interface by one running switch: flock(2) on
/// /run/swiftfabric/locks/<netns inode>-<ifindex>.lock, holding the owner's PID.
///
/// It tells "our program is attached because an earlier switch was SIGKILLed" (the lock is
/// free: the kernel dropped it with the dead process, so the stale program may be replaced)
/// from "another switch is running on this port" (the lock is held: refuse).
public final class PortLock {
    static let directory = "/run/swiftfabric/locks"
    let fd: Int32
    let path: String

    public init(interface: String, ifindex: Int32) throws {
        var st = stat()
        let netns = stat("/proc/self/ns/net", &st) == 0 ? UInt64(st.st_ino) : 0
        mkdir("/run/swiftfabric", 0o755)
        mkdir(Self.directory, 0o755)
        let path = "\(Self.directory)/\(netns)-\(ifindex).lock"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw SystemError("port \(interface): cannot open lock \(path)", errno: errno) }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let e = errno
            var buf = [UInt8](repeating: 0, count: 32)
            let n = pread(fd, &buf, 31, 0)
            close(fd)
            let owner = n > 0 ? String(decoding: buf[0..<n], as: UTF8.self).trimmingCharacters() : "?"
            if e == EWOULDBLOCK {
                throw SystemError("port \(interface) is in use by another running switch (pid \(owner))")
            }
            throw SystemError("port \(interface): cannot lock \(path)", errno: e)
        }
        ftruncate(fd, 0)
        let pid = "\(getpid())\n"
        _ = pid.withCString { pwrite(fd, $0, strlen($0), 0) }
        self.fd = fd
        self.path = path
    }

    deinit {
        // Remove the file while still holding the lock, so nothing is left behind. (A process
        // that opened it just before could then lock the removed file; it would still fail to
        // bind the busy AF_XDP queue, with a clear error, so the race costs nothing worse.)
        unlink(path)
        close(fd)  // releases the flock
    }
}

private extension String {
    func trimmingCharacters() -> String {
        String(self.filter { !$0.isWhitespace && $0 != "\0" })
    }
}

import Glibc

/// An error from setting up or running the I/O layer, with the operation, the interface and
/// the errno text, so the message alone tells an operator what to fix.
public struct FabricIOError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public let errno: Int32?

    public init(_ message: String, errno: Int32? = nil) {
        self.message = message
        self.errno = errno
    }

    /// From a negative-errno return (libbpf/libxdp style).
    public static func negative(_ rc: Int32, _ what: String) -> FabricIOError {
        FabricIOError(what, errno: -rc)
    }

    public var description: String {
        guard let e = errno else { return message }
        return "\(message): \(String(cString: strerror(e))) (errno \(e))"
    }
}

/// Writes one line to standard error (unbuffered, safe from any thread).
public func logLine(_ message: String) {
    let line = message + "\n"
    line.withCString { p in _ = write(2, p, strlen(p)) }
}

import Glibc

/// An error from the operating system or a kernel library (libxdp/libbpf), with the operation,
/// the interface and the errno text, so the message alone tells an operator what to fix.
public struct SystemError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public let errno: Int32?

    public init(_ message: String, errno: Int32? = nil) {
        self.message = message
        self.errno = errno
    }

    /// From a negative-errno return (libbpf/libxdp style).
    public static func negative(_ rc: Int32, _ what: String) -> SystemError {
        SystemError(what, errno: -rc)
    }

    public var description: String {
        guard let e = errno else { return message }
        return "\(message): \(String(cString: strerror(e))) (errno \(e))"
    }
}

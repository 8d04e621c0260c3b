import Glibc

/// The running kernel's release (uname -r), for behaviour that changed between versions.
public struct KernelRelease: Sendable, Comparable {
    public var major: Int
    public var minor: Int

    public init(major: Int, minor: Int) {
        self.major = major
        self.minor = minor
    }

    /// Parses "6.18.44-fc-v1045" and the like; nil if it does not start with two numbers.
    public init?(_ release: String) {
        let parts = release.split(whereSeparator: { !$0.isNumber }).prefix(2).compactMap { Int($0) }
        guard parts.count == 2, release.first?.isNumber == true else { return nil }
        self.init(major: parts[0], minor: parts[1])
    }

    /// The running kernel's, or nil if uname fails or reads oddly.
    public static var running: KernelRelease? {
        var u = utsname()
        guard uname(&u) == 0 else { return nil }
        let release = withUnsafeBytes(of: &u.release) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
        return KernelRelease(release)
    }

    /// From this release an AF_XDP socket gets the NAPI a busy poll drives at bind, and only
    /// in zero-copy mode ("xsk: Bring back busy polling support").
    public static let busyPollNeedsZeroCopy = KernelRelease(major: 6, minor: 13)

    public static func < (a: KernelRelease, b: KernelRelease) -> Bool { (a.major, a.minor) < (b.major, b.minor) }
}

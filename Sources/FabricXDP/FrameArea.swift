import FabricSystem
import Glibc

/// Frame memory: one anonymous mapping of `frameCount` frames of `frameSize` bytes, unmapped
/// when its owner goes. An AF_XDP UMEM is registered over one; the AF_PACKET backend copies
/// frames into one. Owners hold it as their last stored property, so it outlives the sockets
/// and the UMEM that use it.
public final class FrameArea {
    public let base: UnsafeMutableRawPointer
    public let size: Int
    public let frameSize: Int
    public var frameCount: Int { size / frameSize }

    public init(frameCount: Int, frameSize: Int, what: String) throws {
        size = frameCount * frameSize
        self.frameSize = frameSize
        guard let area = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0),
              area != MAP_FAILED else {
            throw SystemError("cannot map \(size) bytes of \(what)", errno: errno)
        }
        base = area
    }

    deinit { munmap(base, size) }
}

// What the switch tells one port's program instance through the maps it owns (not the shared
// fast-path maps): its port index, the stamp flag without the fast path, its punt counters.
import CXDP
import FabricSystem
import Glibc

extension FastPathMaps {
    /// Tells `program` (loaded) the index of the port it serves: its own `fabric_port` map,
    /// which holds the index + 1 (0: not told, and then the instance forwards nothing).
    public static func setPortIndex(_ port: Int, of program: XDPProgram) throws {
        let fd = bpf_object__find_map_fd_by_name(xdp_program__bpf_obj(program.program), "fabric_port")
        guard fd >= 0 else { throw SystemError("\(program.interface): the XDP program is not loaded, or has no fabric_port map") }
        var key: UInt32 = 0, value = UInt32(port) + 1
        try update(fd, &key, &value, "fabric_port")
    }

    /// Without the fast path (no shared maps): turns on FP_STAMP, and nothing else, in
    /// `program`'s own `fp_config` (loaded), so it stamps every frame it steers to a socket.
    public static func setStampOnly(of program: XDPProgram) throws {
        let fd = bpf_object__find_map_fd_by_name(xdp_program__bpf_obj(program.program), "fp_config")
        guard fd >= 0 else { throw SystemError("\(program.interface): the XDP program is not loaded, or has no fp_config map (rebuild: scripts/build-bpf.sh)") }
        var v = fp_config()
        v.flags = UInt32(FP_STAMP.rawValue)
        var key: UInt32 = 0
        try update(fd, &key, &v, "fp_config")
    }

    /// Frames `program`'s port sent to userspace, per reason (index: `fp_punt` raw value),
    /// summed over CPUs.
    public static func punts(of program: XDPProgram) -> [UInt64] {
        let fd = bpf_object__find_map_fd_by_name(xdp_program__bpf_obj(program.program), "fabric_punts")
        var out = [UInt64](repeating: 0, count: Int(FP_PUNT_SLOTS))
        guard fd >= 0 else { return out }
        for r in 0..<out.count {
            out[r] = perCPU(fd, key: UInt32(r), as: UInt64.self).reduce(0, &+)
        }
        return out
    }
}

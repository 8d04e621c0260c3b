import CFabricShims
import Glibc

/// The hardware address of `interface` in the calling thread's network namespace, as the 48
/// low bits of the result (SIOCGIFHWADDR: /sys would show the namespace /sys was mounted in).
public func interfaceMAC(_ interface: String) throws -> UInt64 {
    var raw = [UInt8](repeating: 0, count: 6)
    let rc = sf_interface_mac(interface, &raw)
    guard rc == 0 else { throw SystemError.negative(rc, "interface \(interface): cannot read its MAC address") }
    return raw.reduce(0) { $0 << 8 | UInt64($1) }
}

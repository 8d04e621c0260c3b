import FabricSystem
import Foundation
import Glibc

/// The client side (`fabric stats`, tests).
public enum ControlClient {
    /// Sends `request` and returns everything the switch answered.
    public static func request(path: String, _ request: String, timeout: Double = 5) throws -> Data {
        let s = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard s >= 0 else { throw SystemError("socket: \(String(cString: strerror(errno)))") }
        defer { close(s) }
        FD.setTimeouts(s, seconds: timeout)
        guard let addr = FD.unixAddress(path) else { throw SystemError("path too long: \(path)") }
        var ok: Int32
        repeat { ok = FD.withSockaddr(addr) { connect(s, $0, $1) } } while ok != 0 && errno == EINTR
        guard ok == 0 else { throw SystemError("no switch answers at \(path): \(String(cString: strerror(errno)))") }
        let line = Array((request + "\n").utf8)
        guard FD.writeAll(s, line, line.count) else { throw SystemError("\(path): write failed", errno: errno) }
        var out = Data()
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(s, &buf, buf.count)
            if n > 0 { out.append(contentsOf: buf[0..<n]) } else if n == 0 { break }
            else if errno == EINTR { continue }
            else if errno == EAGAIN || errno == EWOULDBLOCK { throw SystemError("\(path): no answer within \(timeout) s") }
            else { throw SystemError("\(path): reading the answer failed", errno: errno) }
        }
        return out
    }

    /// The switch's counters now.
    public static func snapshot(name: String, timeout: Double = 5) throws -> SwitchReport {
        let data = try request(path: ControlServer.directory(name: name) + "/control.sock", "snapshot", timeout: timeout)
        do {
            return try JSONDecoder().decode(SwitchReport.self, from: data)
        } catch {
            throw SystemError("switch '\(name)': \(String(decoding: data.prefix(300), as: UTF8.self))")
        }
    }

    /// Sends a change request (`fabric ctl`) and returns the switch's answer line.
    public static func change(name: String, _ request: String, timeout: Double = 10) throws -> String {
        let data = try self.request(path: ControlServer.directory(name: name) + "/control.sock", request, timeout: timeout)
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Names of the switches with a control socket on this machine.
    public static func switches() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: ControlServer.root)) ?? []
        return names.filter { $0.hasPrefix("switch-") && FileManager.default.fileExists(atPath: "\(ControlServer.root)/\($0)/control.sock") }
            .map { String($0.dropFirst("switch-".count)) }.sorted()
    }
}

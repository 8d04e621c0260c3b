import Foundation

/// A failed external command, with what it said.
public struct CommandError: Error, CustomStringConvertible {
    public let command: [String]
    public let status: Int32
    public let output: String
    public var description: String {
        "`\(command.joined(separator: " "))` failed (exit \(status)): \(output.trimmingCharacters(in: .whitespacesAndNewlines))"
    }
}

/// A lab step that could not be done, said for a person.
public struct TestbedError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}

/// Runs external commands (ip, ethtool, ping, iperf3) for the lab. Never on a data path.
public enum Shell {
    /// Runs a command to completion, returning stdout+stderr. Throws on a non-zero exit
    /// unless `check` is false.
    @discardableResult
    public static func run(_ args: [String], check: Bool = true) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = args
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let out = String(decoding: data, as: UTF8.self)
        if check && p.terminationStatus != 0 {
            throw CommandError(command: args, status: p.terminationStatus, output: out)
        }
        return out
    }

    /// Runs a command inside a network namespace (`ip netns exec`).
    @discardableResult
    public static func inNamespace(_ ns: String, _ args: [String], check: Bool = true) throws -> String {
        try run(["ip", "netns", "exec", ns] + args, check: check)
    }

    public static func exists(_ tool: String) -> Bool {
        (try? run(["sh", "-c", "command -v \(tool)"], check: true)) != nil
    }

    /// Network namespaces that exist now.
    public static func namespaces() -> Set<String> {
        let out = (try? run(["ip", "netns", "list"])) ?? ""
        return Set(out.split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) })
    }
}

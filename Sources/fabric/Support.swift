import ArgumentParser
import FabricConfig
import FabricLab
import FabricSystem
import Foundation

/// Where the compiled XDP objects are: $FABRIC_BPF_DIR; else, for an installed fabric
/// (scripts/install.sh PREFIX), `PREFIX/lib/swiftfabric/bpf/` beside the executable's `bin/`;
/// else the nearest `.build-bpf/` above the executable or the current directory (a checkout:
/// scripts/build-bpf.sh writes it at the repo root).
func bpfObjectPath(_ name: String) -> String {
    if let dir = ProcessInfo.processInfo.environment["FABRIC_BPF_DIR"] { return "\(dir)/\(name)" }
    let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    let installed = exe.deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("lib/swiftfabric/bpf/\(name)").path
    if FileManager.default.fileExists(atPath: installed) { return installed }
    for start in [exe.deletingLastPathComponent(), URL(fileURLWithPath: FileManager.default.currentDirectoryPath)] {
        var dir = start
        while dir.path != "/" {
            let candidate = dir.appendingPathComponent(".build-bpf/\(name)").path
            if FileManager.default.fileExists(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
    }
    // Nothing found: name the place the error should point at (an installed fabric's own).
    return exe.deletingLastPathComponent().lastPathComponent == "bin" ? installed : ".build-bpf/\(name)"
}

/// Path of the running `fabric` executable, so children run the same build.
func selfExecutable() -> String {
    URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
}

/// The lab commands build namespaces, veths and XDP programs: root only, said plainly.
func requireRoot(_ command: String) throws {
    guard getuid() == 0 else {
        logLine("\(command): needs root (namespaces, veths, XDP)")
        throw ExitCode(2)
    }
}

/// Starts this build's `fabric switch` with the compiled XDP object, plus `arguments`.
func switchLauncher(_ arguments: [String] = []) -> SwitchLauncher {
    SwitchLauncher(fabric: selfExecutable(), arguments: ["--bpf-object", bpfObjectPath("fabric_xsk.o")] + arguments)
}

/// Runs a lab command's `body` with Ctrl-C asking it to stop: SIGINT/SIGTERM only set a flag
/// (FabricSystem's stop handlers), the lab's waits notice it and throw, and the `defer`s of `body`
/// remove its test bed on the way out. Exits 130 when interrupted.
func interruptible(_ command: String, _ body: () throws -> Void) throws {
    installStopHandlers()
    do {
        try body()
    } catch is Interrupt.Interrupted {
        logLine("\(command): interrupted")
        throw ExitCode(130)
    }
}

/// `h1,h3` -> [1, 3]: host names of the test bed (`TopologyTestbed.hostNumber`), by number.
func parseHosts(_ list: String, on tb: TopologyTestbed) throws -> [Int] {
    try list.split(separator: ",").map { name in
        do { return try tb.hostNumber(String(name)) } catch { throw ValidationError("\(error)") }
    }
}

/// An option in one of the units of `Units`, checked before anything starts.
func unit<T>(_ option: String, _ parse: () throws(UnitError) -> T) throws -> T {
    do { return try parse() } catch { throw ValidationError("\(option): \(error)") }
}

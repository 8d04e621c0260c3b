import Foundation

/// Writes switch snapshots as JSON, atomically (temp file + rename), so a reader never sees
/// half a file. Runs on the worker thread between batches, never per packet.
public enum StatsFile {
    public static func write(_ report: SwitchReport, to path: String) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        guard let data = try? encoder.encode(report) else { return }
        let tmp = path + ".tmp"
        guard FileManager.default.createFile(atPath: tmp, contents: data) else { return }
        _ = rename(tmp, path)
    }

    public static func read(_ path: String) throws -> SwitchReport {
        try JSONDecoder().decode(SwitchReport.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }
}

import ArgumentParser
import FabricLab
import Foundation

/// `fabric report FILE`: draw a `fabric switch --record` file.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Draw a record file (fabric switch --record): queue depth and pauses, port load, residence-time CDF (SVG) and a one-page summary (HTML, Markdown).")

    @Argument(help: "The record file.") var file: String
    @Option(help: "Directory for the plots and the summary (default: FILE.report).") var out: String?

    func run() throws {
        let dir = out ?? file + ".report"
        let o = try ReportRenderer.render(record: file, into: dir)
        print("report: \(o.directory)/index.html (\(o.files.joined(separator: ", ")))")
    }
}

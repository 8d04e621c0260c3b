/// Block-style YAML, written line by line, for the files the project generates (switch
/// configurations, recorded topologies). Scalars are written plain where a YAML reader takes
/// them back as the same text, double-quoted otherwise.
public struct YAMLWriter {
    public private(set) var text = ""
    var indent = 0

    public init() {}

    /// A scalar as YAML: plain (`h1`, `10.77.1.254/24`, `02:5f:00:00:01:fe`) or quoted.
    public static func scalar(_ s: String) -> String {
        let plain = s.first.map { $0.isASCII && ($0.isLetter || $0.isNumber) } == true && s.last != ":"
            && s.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "_./:+-".contains($0)) }
        if plain { return s }
        return "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    /// A flow list of scalars: `[a, b]`.
    public static func list(_ items: [String]) -> String { "[" + items.map(scalar).joined(separator: ", ") + "]" }

    /// `# text`, one comment line per line of `text`.
    public mutating func comment(_ text: String) {
        for l in text.split(separator: "\n", omittingEmptySubsequences: false) { line("# \(l)") }
    }

    /// `key: value`, the value written as it is (use `scalar` or `list` for it).
    public mutating func field(_ key: String, _ value: String) { line("\(key): \(value)") }

    /// `key:` and a nested block.
    public mutating func section(_ key: String, _ body: (inout YAMLWriter) -> Void) {
        line("\(key):")
        indent += 2
        body(&self)
        indent -= 2
    }

    /// One list item (`- `) whose block is `body`; the first line shares the dash's line.
    public mutating func item(_ body: (inout YAMLWriter) -> Void) {
        var inner = YAMLWriter()
        body(&inner)
        for (i, l) in inner.text.split(separator: "\n").enumerated() { line((i == 0 ? "- " : "  ") + l) }
    }

    mutating func line(_ s: String) { text += String(repeating: " ", count: indent) + s + "\n" }
}

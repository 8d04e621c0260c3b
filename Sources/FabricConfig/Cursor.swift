// A YAML node with the key path that led to it: the reader every file format of the project
// uses (the switch configuration, topology files), after Click's `Args`. Keys not allowed and
// keys given twice are rejected, and every error names the file, the line, the key path and
// what was expected: `t.yaml:3: ports[0].speed: expected a line rate like 10G or 800M, got 'x'`.
import FabricCore
import FabricPacket
import Foundation
import Yams

/// A rejected file: where and why.
public struct ConfigError: Error, CustomStringConvertible, Equatable {
    public var file: String
    public var line: Int?
    public var path: String
    public var message: String

    public init(file: String, line: Int?, path: String, message: String) {
        self.file = file
        self.line = line
        self.path = path
        self.message = message
    }

    public var description: String {
        "\(file)\(line.map { ":\($0)" } ?? ""): \(path.isEmpty ? "" : path + ": ")\(message)"
    }
}

public struct Cursor {
    public let node: Node
    public let path: String
    public let file: String

    /// The document's root; an empty document or one that is not YAML is an error.
    public static func root(yaml text: String, file: String) throws -> Cursor {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch YamlError.duplicatedKeysInMapping(let keys, let context) {
            throw ConfigError(file: file, line: context.mark.line, path: "", message: "key \(keys.map { "'\($0)'" }.joined(separator: ", ")) given twice")
        } catch YamlError.scanner(_, let problem, let mark, _), YamlError.parser(_, let problem, let mark, _), YamlError.composer(_, let problem, let mark, _) {
            throw ConfigError(file: file, line: mark.line, path: "", message: "not valid YAML: \(problem)")
        } catch {
            throw ConfigError(file: file, line: nil, path: "", message: "not valid YAML: \(error)")
        }
        guard let node = root else { throw ConfigError(file: file, line: nil, path: "", message: "the file is empty") }
        return Cursor(node: node, path: "", file: file)
    }

    /// Reads `file` and returns its root.
    public static func root(file: String) throws -> Cursor {
        let text: String
        do {
            text = try String(contentsOfFile: file, encoding: .utf8)
        } catch {
            throw ConfigError(file: file, line: nil, path: "", message: "cannot read the file: \(error.localizedDescription)")
        }
        return try root(yaml: text, file: file)
    }

    public var line: Int? { node.mark?.line }

    /// An error at this node.
    public func fail(_ message: String) -> ConfigError {
        ConfigError(file: file, line: line, path: path, message: message)
    }

    func child(_ node: Node, _ key: String) -> Cursor {
        Cursor(node: node, path: path.isEmpty ? key : "\(path).\(key)", file: file)
    }

    var kindName: String {
        switch node {
        case .scalar(let s): "'\(s.string)'"
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .alias: "an alias"
        }
    }

    // MARK: - Structure

    /// The mapping's entries in the file's order (keys given twice never get here: `root`
    /// rejects them). `expected` describes the mapping for the message when the node is
    /// something else.
    public func entries(expected: String) throws -> [(key: String, value: Cursor)] {
        guard case .mapping(let m) = node else { throw fail("expected \(expected), got \(kindName)") }
        return try m.map { k, v in
            guard let key = k.string else { throw fail("keys must be plain strings") }
            return (key, child(v, key))
        }
    }

    /// The mapping's entries by key; rejects keys not in `allowed`.
    public func mapping(allowed: [String]) throws -> [String: Cursor] {
        let list = try entries(expected: "a mapping with keys \(allowed.joined(separator: ", "))")
        guard case .mapping(let m) = node else { return [:] }
        for ((k, _), (key, c)) in zip(m, list) where !allowed.contains(key) {
            throw Cursor(node: k, path: c.path, file: file).fail("unknown key '\(key)' (expected one of: \(allowed.joined(separator: ", ")))")
        }
        return Dictionary(uniqueKeysWithValues: list.map { ($0.key, $0.value) })
    }

    /// A mapping from integers in `keys` (`{26: 3}`), in the file's order.
    public func intEntries(_ keys: ClosedRange<Int>, expected: String) throws -> [(key: Int, value: Cursor)] {
        try entries(expected: expected).map { key, value in
            guard let k = Int(key) else { throw value.fail("expected an integer key in \(keys.lowerBound)...\(keys.upperBound), got '\(key)'") }
            guard keys.contains(k) else { throw value.fail("\(k) is out of range \(keys.lowerBound)...\(keys.upperBound)") }
            return (k, value)
        }
    }

    public func sequence() throws -> [Cursor] {
        guard case .sequence(let s) = node else { throw fail("expected a list, got \(kindName)") }
        return s.enumerated().map { Cursor(node: $0.element, path: "\(path)[\($0.offset)]", file: file) }
    }

    /// A list, or one value standing for a list of one (`via: 10.0.0.1`).
    public func sequenceOrOne() throws -> [Cursor] {
        if case .sequence = node { return try sequence() }
        return [self]
    }

    // MARK: - Scalars

    public func string() throws -> String {
        guard case .scalar(let s) = node else { throw fail("expected a string, got \(kindName)") }
        return s.string
    }

    public func int(_ range: ClosedRange<Int>) throws -> Int {
        guard case .scalar(let s) = node, let v = Int(s.string) else { throw fail("expected an integer in \(range.lowerBound)...\(range.upperBound), got \(kindName)") }
        guard range.contains(v) else { throw fail("\(v) is out of range \(range.lowerBound)...\(range.upperBound)") }
        return v
    }

    public func bool() throws -> Bool { try oneOf(["true", "false"]) == "true" }

    public func oneOf(_ choices: [String]) throws -> String {
        let v = try string()
        guard choices.contains(v) else { throw fail("expected one of \(choices.joined(separator: ", ")), got '\(v)'") }
        return v
    }

    /// One of an enumeration's raw values.
    public func oneOf<E: RawRepresentable & CaseIterable>(_: E.Type) throws -> E where E.RawValue == String {
        E(rawValue: try oneOf(E.allCases.map(\.rawValue)))!
    }

    public func ip() throws -> IPAddress {
        let v = try string()
        guard let a = IPAddress(v) else { throw fail("expected an IPv4 or IPv6 address, got '\(v)'") }
        return a
    }

    /// An address with its prefix length; `strict`: a network (no host bits set).
    public func prefix(strict: Bool) throws -> IPPrefix {
        let v = try string()
        guard let p = IPPrefix(v, strict: false) else {
            throw fail("expected an address with prefix length like \(strict ? "10.0.0.0/16 or fd77::/64" : "10.77.1.254/24 or fd77:1::fe/64"), got '\(v)'")
        }
        if strict && p.network != p {
            throw fail("'\(v)' has host bits set; the network is \(p.network)")
        }
        return p
    }

    public func mac() throws -> MACAddress {
        let v = try string()
        guard let m = MACAddress(v), !m.isGroup, !m.isZero else { throw fail("expected a unicast MAC address like 02:5f:00:00:01:fe, got '\(v)'") }
        return m
    }

    // MARK: - Units (rules in Units.swift)

    /// A size in bytes within `range`.
    public func bytes(_ range: ClosedRange<Int> = 0...(1 << 40)) throws -> Int {
        let v = try string()
        let n: Int
        do { n = try Units.bytes(v) } catch { throw fail(error.description) }
        guard range.contains(n) else {
            throw fail("'\(v)' is out of range \(Units.text(bytes: range.lowerBound))...\(Units.text(bytes: range.upperBound))")
        }
        return n
    }

    /// A duration in nanoseconds within `range`; `bare` is the unit of a number without one.
    public func nanoseconds(_ range: ClosedRange<UInt64>, bare: Units.TimeUnit? = nil, example: String) throws -> UInt64 {
        let v = try string()
        let expected = "expected a duration of \(Units.text(nanoseconds: range.lowerBound))...\(Units.text(nanoseconds: range.upperBound)) like \(example), got '\(v)'"
        guard let ns = try? Units.nanoseconds(v, bare: bare), range.contains(ns) else { throw fail(expected) }
        return ns
    }

    /// A percentage, 0...100 ("0.1%").
    public func percent() throws -> Double {
        let v = try string()
        do { return try Units.percent(v) } catch { throw fail(error.description) }
    }

    /// A line rate in Gb/s ("10G", "800M").
    public func gbps() throws -> Double {
        let v = try string()
        do { return try Units.gbps(v) } catch { throw fail(error.description) }
    }
}

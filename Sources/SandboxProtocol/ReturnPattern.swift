/// A `returnFiles` glob (PROTOCOL.md, returnFiles): `*`, `?` and `[…]`
/// match within one name, `**` any number of directories, and wildcards do
/// not match a leading `.` (a name pattern that starts with `.` names it).
///
/// The sandbox's bootstrap walks the working directory with the same rules;
/// the service and the CLI check every returned path against the run's
/// patterns again, because the program can forge the list it is sent in.
public struct ReturnPattern: Sendable, Hashable {
    private enum Segment: Hashable {
        /// `**`: any number of names, none of them starting with `.`.
        case anyDirectories
        case name([NameToken], namesDot: Bool)
    }

    private enum NameToken: Hashable {
        case literal(Unicode.Scalar)
        case anyRun
        case anyOne
        case set(ScalarSet)
    }

    private struct ScalarSet: Hashable {
        var negated: Bool
        var ranges: [ClosedRange<UInt32>]

        func contains(_ scalar: Unicode.Scalar) -> Bool {
            ranges.contains { $0.contains(scalar.value) } != negated
        }
    }

    public let text: String
    private let segments: [Segment]

    public init(_ text: String) {
        self.text = text
        segments = text.split(separator: "/", omittingEmptySubsequences: false).map { segment in
            segment == "**" ? .anyDirectories : .name(Self.tokens(segment), namesDot: segment.hasPrefix("."))
        }
    }

    /// Whether the relative path (names joined by `/`) matches.
    public func matches(_ path: String) -> Bool {
        let names = path.split(separator: "/", omittingEmptySubsequences: false).map { Array($0.unicodeScalars) }
        return Self.match(segments[...], names[...])
    }

    /// Whether any of `patterns` matches `path`.
    public static func anyMatches(_ patterns: [ReturnPattern], _ path: String) -> Bool {
        patterns.contains { $0.matches(path) }
    }

    private static func match(_ segments: ArraySlice<Segment>, _ names: ArraySlice<[Unicode.Scalar]>) -> Bool {
        guard let segment = segments.first else { return names.isEmpty }
        switch segment {
        case .anyDirectories:
            // As the bootstrap's regex: names that do not start with `.`, zero
            // or more, but at least one when `**` is last (a path never ends in `/`).
            var rest = names
            while true {
                if rest.count < names.count || segments.count > 1, match(segments.dropFirst(), rest) { return true }
                guard let name = rest.first, name.first != "." else { return false }
                rest = rest.dropFirst()
            }
        case .name(let tokens, let namesDot):
            guard let name = names.first else { return false }
            if name.first == ".", !namesDot { return false }
            return matchName(tokens[...], name[...]) && match(segments.dropFirst(), names.dropFirst())
        }
    }

    private static func matchName(_ tokens: ArraySlice<NameToken>, _ name: ArraySlice<Unicode.Scalar>) -> Bool {
        guard let token = tokens.first else { return name.isEmpty }
        switch token {
        case .anyRun:
            var rest = name
            while true {
                if matchName(tokens.dropFirst(), rest) { return true }
                guard !rest.isEmpty else { return false }
                rest = rest.dropFirst()
            }
        case .anyOne:
            return !name.isEmpty && matchName(tokens.dropFirst(), name.dropFirst())
        case .literal(let scalar):
            return name.first == scalar && matchName(tokens.dropFirst(), name.dropFirst())
        case .set(let set):
            guard let first = name.first, set.contains(first) else { return false }
            return matchName(tokens.dropFirst(), name.dropFirst())
        }
    }

    /// A name pattern's tokens; `[` without a closing `]` (at least one
    /// character on) is a literal, as in the bootstrap.
    private static func tokens(_ segment: Substring) -> [NameToken] {
        let scalars = Array(segment.unicodeScalars)
        var tokens: [NameToken] = []
        var index = 0
        while index < scalars.count {
            let scalar = scalars[index]
            if scalar == "*" {
                if tokens.last != .anyRun { tokens.append(.anyRun) }
            } else if scalar == "?" {
                tokens.append(.anyOne)
            } else if scalar == "[", index + 2 < scalars.count,
                      let close = scalars[(index + 2)...].firstIndex(of: "]") {
                tokens.append(.set(scalarSet(scalars[(index + 1)..<close])))
                index = close
            } else {
                tokens.append(.literal(scalar))
            }
            index += 1
        }
        return tokens
    }

    /// `[…]`'s body: `!` or `^` first negates; `a-z` is a range (a reversed
    /// one matches nothing); `-` first or last is itself.
    private static func scalarSet(_ body: ArraySlice<Unicode.Scalar>) -> ScalarSet {
        var body = body
        var negated = false
        if let first = body.first, first == "!" || first == "^" {
            negated = true
            body = body.dropFirst()
        }
        var ranges: [ClosedRange<UInt32>] = []
        let members = Array(body)
        var index = 0
        while index < members.count {
            let low = members[index].value
            if index + 2 < members.count, members[index + 1] == "-" {
                let high = members[index + 2].value
                if low <= high { ranges.append(low...high) }
                index += 3
            } else {
                ranges.append(low...low)
                index += 1
            }
        }
        return ScalarSet(negated: negated, ranges: ranges)
    }
}

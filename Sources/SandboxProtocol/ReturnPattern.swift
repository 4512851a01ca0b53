/// One `returnFiles` glob pattern, matched as the sandbox matches it
/// (PROTOCOL.md, returnFiles; the bootstrap's `pattern_regex`): `*`, `?`
/// and `[…]` (`[!…]` negated, `a-z` ranges) within one name, a `**` segment
/// for any number of directories, and no wildcard matches a leading `.`:
/// a name starting with a dot matches only a segment that starts with one.
///
/// A client checks a verdict's `files` against its own patterns with it, so
/// that a verdict listing other paths (a program can forge its files frame)
/// is not believed. Paths are compared code point by code point, as Python
/// compares `str`; a path matches when the pattern matches all of it.
public struct ReturnPattern: Sendable, Hashable, CustomStringConvertible {
    public let description: String
    private let segments: [Segment]

    private enum Segment: Sendable, Hashable {
        /// `**`: any number of names (one or more when it is the last segment), none starting with a dot.
        case anyDirectories
        /// One name; a wildcard never matches its leading dot unless the segment starts with `.`.
        case name([Element], leadingDot: Bool)
    }

    private enum Element: Sendable, Hashable {
        case scalar(Unicode.Scalar)
        case anyRun
        case anyOne
        case set([ClosedRange<Unicode.Scalar>], negated: Bool)
    }

    public init(_ pattern: String) {
        description = pattern
        segments = pattern.split(separator: "/", omittingEmptySubsequences: false).map { segment in
            segment == "**" ? .anyDirectories : .name(Self.elements(of: segment), leadingDot: segment.hasPrefix("."))
        }
    }

    /// Whether `path` (relative, `/`-separated, as in a verdict) matches.
    public func matches(_ path: String) -> Bool {
        let names = path.split(separator: "/", omittingEmptySubsequences: false).map { Array($0.unicodeScalars) }
        // reachable[j]: the segments so far can match exactly names[..<j]. One pass over
        // the names per segment, so a pattern of many `**` costs segments × names, never more.
        var reachable = [Bool](repeating: false, count: names.count + 1)
        reachable[0] = true
        for (index, segment) in segments.enumerated() {
            var next = [Bool](repeating: false, count: names.count + 1)
            switch segment {
            case .name(let elements, let leadingDot):
                for j in names.indices where reachable[j] && Self.matches(names[j], elements, leadingDot: leadingDot) {
                    next[j + 1] = true
                }
            case .anyDirectories:
                // Not last: zero or more names; last: one or more (a file is a name).
                // open: some reachable j <= k has no dot name in names[j..<k].
                let last = index == segments.count - 1
                var open = false
                for k in 0...names.count {
                    let extended = k > 0 && open && names[k - 1].first != "."
                    next[k] = last ? extended : extended || reachable[k]
                    open = extended || reachable[k]
                }
            }
            reachable = next
        }
        return reachable[names.count]
    }

    /// Whether `name` matches one segment: `*` backtracks to the latest star only, which
    /// is enough for globs (each star's run can only grow), so this is linear per star.
    private static func matches(_ name: [Unicode.Scalar], _ elements: [Element], leadingDot: Bool) -> Bool {
        if !leadingDot && name.first == "." { return false }
        var n = 0, e = 0
        var star: (element: Int, name: Int)?
        while n < name.count {
            if e < elements.count {
                switch elements[e] {
                case .anyRun:
                    star = (e, n)
                    e += 1
                    continue
                case .anyOne:
                    n += 1; e += 1
                    continue
                case .scalar(let scalar) where scalar == name[n]:
                    n += 1; e += 1
                    continue
                case .set(let ranges, let negated) where ranges.contains { $0.contains(name[n]) } != negated:
                    n += 1; e += 1
                    continue
                default:
                    break
                }
            }
            guard let last = star else { return false }
            star = (last.element, last.name + 1)
            e = last.element + 1
            n = last.name + 1
        }
        return elements[e...].allSatisfy { $0 == .anyRun }
    }

    /// The bootstrap's reading of one segment: `[` opens a set only when a `]`
    /// comes at least two places later (so `[]]` is the set of `]`); else it is a `[`.
    private static func elements(of segment: Substring) -> [Element] {
        let scalars = Array(segment.unicodeScalars)
        var elements: [Element] = []
        var i = 0
        while i < scalars.count {
            switch scalars[i] {
            case "*": elements.append(.anyRun)
            case "?": elements.append(.anyOne)
            case "[":
                if i + 2 < scalars.count, let end = scalars[(i + 2)...].firstIndex(of: "]") {
                    elements.append(set(scalars[(i + 1)..<end]))
                    i = end
                } else {
                    elements.append(.scalar("["))
                }
            case let scalar: elements.append(.scalar(scalar))
            }
            i += 1
        }
        return elements
    }

    /// A set's body as Python's `re` reads `[…]`: `!` (or `^`) first negates; `a-z` is a
    /// range; `-` first or last, and a backslash, are themselves.
    private static func set(_ body: ArraySlice<Unicode.Scalar>) -> Element {
        var body = body
        let negated = body.first == "!" || body.first == "^"
        if negated { body = body.dropFirst() }
        let scalars = Array(body)
        var ranges: [ClosedRange<Unicode.Scalar>] = []
        var i = 0
        while i < scalars.count {
            if i + 2 < scalars.count, scalars[i + 1] == "-" {
                // A reversed range is an error to `re`, so the sandbox returns nothing for it: match nothing.
                if scalars[i] <= scalars[i + 2] { ranges.append(scalars[i]...scalars[i + 2]) }
                i += 3
            } else {
                ranges.append(scalars[i]...scalars[i])
                i += 1
            }
        }
        return .set(ranges, negated: negated)
    }
}

extension ReturnPattern {
    /// The pattern as the run gave it.
    public var text: String { description }

    /// Whether any of `patterns` matches `path`.
    public static func anyMatches(_ patterns: [ReturnPattern], _ path: String) -> Bool {
        patterns.contains { $0.matches(path) }
    }
}

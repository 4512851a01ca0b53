/// One requirement of a package set, PEP 508 restricted to what names a
/// release and nothing else: a name, optional extras, an optional version
/// specifier (`requests`, `requests[socks]>=2.31,<3`). No URL (`@`), path,
/// option (`-e`, `--index-url`), environment marker (`;`), parenthesised
/// specifier or character outside printable ASCII: each of those selects
/// files or changes how the installer behaves, and a run may do neither.
public struct PackageRequirement: Sendable, Hashable, CustomStringConvertible {
    /// As written (leading and trailing spaces removed).
    public let name: String
    /// PEP 503: lower case, each run of `-`, `_`, `.` one `-`. Names compare by this.
    public let normalizedName: String
    /// Normalized like names, sorted, without repeats.
    public let extras: [String]
    /// In the order written.
    public let specifiers: [VersionSpecifier]

    /// What the installer is given and what keys a set: the normalized
    /// name, the extras and the specifiers, without spaces. It never looks
    /// like a path or an option, whatever was written.
    public var canonical: String {
        var text = normalizedName
        if !extras.isEmpty { text += "[" + extras.joined(separator: ",") + "]" }
        text += specifiers.map(\.description).joined(separator: ",")
        return text
    }

    public var description: String { canonical }

    /// Two requirements are the same when they mean the same: written
    /// `Requests >= 2` or `requests>=2`, one set, one layer.
    public static func == (lhs: PackageRequirement, rhs: PackageRequirement) -> Bool { lhs.canonical == rhs.canonical }
    public func hash(into hasher: inout Hasher) { hasher.combine(canonical) }

    /// Refuses anything but `NAME[EXTRA,...]OP VERSION,...`, naming what is wrong.
    public init(parsing text: String, maxLength: Int = PackageRequirementLimits.standard.maxLength) throws(PackageRequirementError) {
        let shown = PackageRequirementError.shown(text)
        func refuse(_ reason: PackageRequirementError.Reason) -> PackageRequirementError {
            PackageRequirementError(requirement: shown, reason: reason)
        }
        guard text.utf8.count <= maxLength else { throw refuse(.tooLong(limit: maxLength)) }
        // Printable ASCII and the plain space only: no tabs, newlines, NUL,
        // look-alike letters or invisible Unicode for an installer to read otherwise.
        if let bad = text.unicodeScalars.first(where: { !(0x20...0x7E).contains($0.value) }) {
            throw refuse(.character(bad.value))
        }
        let trimmed = Substring(text).trimmingSpaces()
        guard !trimmed.isEmpty else { throw refuse(.empty) }
        if trimmed.first == "-" { throw refuse(.option) }
        if trimmed.contains(";") { throw refuse(.marker) }
        if trimmed.contains("@") || trimmed.contains("://") { throw refuse(.url) }
        if trimmed.contains("/") || trimmed.contains("\\") || trimmed.first == "." || trimmed.first == "~" { throw refuse(.path) }
        if trimmed.contains("(") || trimmed.contains(")") { throw refuse(.parentheses) }

        var rest = trimmed
        let nameText = rest.prefix { $0.isASCIILetterOrDigit || "-_.".contains($0) }
        rest = rest.dropFirst(nameText.count)
        guard Self.isValidName(nameText) else {
            throw refuse(nameText.isEmpty ? .missingName : .name(String(nameText)))
        }
        let lowered = nameText.lowercased()
        if Self.archiveSuffixes.contains(where: { lowered.hasSuffix($0) }) { throw refuse(.fileName) }

        rest = rest.trimmingLeadingSpaces()
        var extras: [String] = []
        if rest.first == "[" {
            guard let close = rest.firstIndex(of: "]") else { throw refuse(.extras("no closing ']'")) }
            let inside = rest[rest.index(after: rest.startIndex)..<close]
            rest = rest[rest.index(after: close)...].trimmingLeadingSpaces()
            for item in inside.split(separator: ",", omittingEmptySubsequences: false) {
                let extra = item.trimmingSpaces()
                guard Self.isValidName(extra) else {
                    throw refuse(.extras(extra.isEmpty ? "an empty extra" : "'\(extra)' is not a valid extra name"))
                }
                extras.append(Self.normalize(extra))
            }
        }

        var specifiers: [VersionSpecifier] = []
        if !rest.isEmpty {
            for clause in rest.split(separator: ",", omittingEmptySubsequences: false) {
                specifiers.append(try VersionSpecifier(parsing: clause.trimmingSpaces(), requirement: shown))
            }
        }
        name = String(nameText)
        normalizedName = Self.normalize(nameText)
        self.extras = Array(Set(extras)).sorted()
        self.specifiers = specifiers
    }

    /// PEP 503's normalization.
    public static func normalize<S: StringProtocol>(_ name: S) -> String {
        var result = ""
        var lastWasSeparator = false
        for character in name.lowercased() {
            if "-_.".contains(character) {
                if !lastWasSeparator { result.append("-") }
                lastWasSeparator = true
            } else {
                result.append(character)
                lastWasSeparator = false
            }
        }
        return result
    }

    /// PEP 508: ASCII letters and digits, with `-`, `_`, `.` inside.
    public static func isValidName<S: StringProtocol>(_ name: S) -> Bool {
        guard let first = name.first, let last = name.last, first.isASCIILetterOrDigit, last.isASCIILetterOrDigit else {
            return false
        }
        return name.allSatisfy { $0.isASCIILetterOrDigit || "-_.".contains($0) }
    }

    /// pip reads a requirement whose name ends like an archive as a file to
    /// install when such a file exists; no package is named so.
    static let archiveSuffixes = [".whl", ".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz", ".tar.xz", ".txz", ".tar.lz", ".tlz", ".tar.lzma", ".egg"]
}

/// One clause of a version specifier: `>=2.31`, `==1.*`, `~=1.4.2`, `===foo`.
public struct VersionSpecifier: Sendable, Hashable, CustomStringConvertible {
    public enum Operator: String, Sendable, CaseIterable {
        // Longest first: the parser takes the first that matches.
        case arbitrary = "===", compatible = "~=", equal = "==", notEqual = "!=", lessOrEqual = "<=", greaterOrEqual = ">="
        case less = "<", greater = ">"
    }

    public let op: Operator
    /// As written, without spaces.
    public let version: String

    public var description: String { op.rawValue + version }

    init(parsing clause: Substring, requirement: String) throws(PackageRequirementError) {
        func refuse(_ detail: String) -> PackageRequirementError {
            PackageRequirementError(requirement: requirement, reason: .specifier(detail))
        }
        guard !clause.isEmpty else { throw refuse("an empty clause (a stray ',')") }
        guard let op = Operator.allCases.first(where: { clause.hasPrefix($0.rawValue) }) else {
            throw refuse("'\(clause)' does not start with ==, !=, <=, >=, <, >, ~= or ===")
        }
        let version = clause.dropFirst(op.rawValue.count).trimmingLeadingSpaces()
        guard !version.isEmpty else { throw refuse("'\(op.rawValue)' has no version after it") }
        switch op {
        case .arbitrary:
            // Compared as a string by the installer; still nothing but a version's characters.
            guard version.allSatisfy({ $0.isASCIILetterOrDigit || "._+!-".contains($0) }) else {
                throw refuse("'\(version)' is not a version")
            }
        case .equal, .notEqual:
            let wildcard = version.hasSuffix(".*")
            let release = wildcard ? version.dropLast(2) : version
            guard PEP440.isVersion(release, allowLocal: !wildcard) else { throw refuse("'\(version)' is not a PEP 440 version") }
        case .compatible:
            guard PEP440.isVersion(version, allowLocal: false) else { throw refuse("'\(version)' is not a PEP 440 version") }
            guard PEP440.releaseSegments(version) >= 2 else { throw refuse("'~=\(version)' needs at least two release numbers (~=1.4)") }
        case .lessOrEqual, .greaterOrEqual, .less, .greater:
            guard PEP440.isVersion(version, allowLocal: false) else { throw refuse("'\(version)' is not a PEP 440 version") }
        }
        self.op = op
        self.version = String(version)
    }
}

/// Why a requirement was refused, with the requirement it was.
public struct PackageRequirementError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Reason: Sendable, Equatable {
        case empty
        case tooLong(limit: Int)
        /// A control, non-ASCII or otherwise unprintable character (its code point).
        case character(UInt32)
        case option
        case marker
        case url
        case path
        case fileName
        case parentheses
        case missingName
        case name(String)
        case extras(String)
        case specifier(String)
        case duplicate(String)
        case tooMany(limit: Int)
    }

    /// The requirement as given, cut and with unprintable characters escaped.
    public let requirement: String
    public let reason: Reason

    public init(requirement: String, reason: Reason) {
        self.requirement = requirement
        self.reason = reason
    }

    public var description: String {
        let what: String
        switch reason {
        case .empty: what = "it is empty"
        case .tooLong(let limit): what = "it is longer than \(limit) characters"
        case .character(let value):
            what = "it contains the character U+\(String(value, radix: 16, uppercase: true).leftPadded(to: 4)); only printable ASCII and spaces are allowed"
        case .option: what = "installer options (-e, --index-url, ...) are not accepted; give a package name"
        case .marker: what = "environment markers (';') are not accepted"
        case .url: what = "URLs and direct references ('@') are not accepted; give a name and a version"
        case .path: what = "paths are not accepted; give a package name"
        case .fileName: what = "it names a file; give the package's name"
        case .parentheses: what = "parenthesised specifiers are not accepted; write name>=1.0"
        case .missingName: what = "it does not start with a package name"
        case .name(let name): what = "'\(name)' is not a valid package name (letters, digits, and - _ . inside)"
        case .extras(let detail): what = "bad extras: \(detail)"
        case .specifier(let detail): what = "bad version specifier: \(detail)"
        case .duplicate(let name): what = "\(name) is named more than once; give it once"
        case .tooMany(let limit): what = "a package set holds at most \(limit) requirements"
        }
        return "requirement '\(requirement)' refused: \(what)"
    }

    /// At most 80 characters of it, anything unprintable as \u{...}, so the message itself is safe to show.
    static func shown(_ text: String) -> String {
        var result = ""
        for scalar in text.unicodeScalars.prefix(80) {
            if (0x20...0x7E).contains(scalar.value) && scalar != "\\" { result.unicodeScalars.append(scalar) }
            else { result += "\\u{\(String(scalar.value, radix: 16))}" }
        }
        return text.unicodeScalars.count > 80 ? result + "..." : result
    }
}

/// The protocol's limits on requirements; the service may lower them.
public struct PackageRequirementLimits: Sendable, Equatable {
    /// Characters of one requirement.
    public var maxLength: Int
    /// Requirements in one set.
    public var maxCount: Int

    public init(maxLength: Int, maxCount: Int) {
        self.maxLength = maxLength
        self.maxCount = maxCount
    }

    public static let standard = PackageRequirementLimits(maxLength: 200, maxCount: 32)
}

/// The requirements of one run or session: each valid, each name once,
/// in a canonical order so that the same set written twice is the same value.
public struct PackageRequirementSet: Sendable, Hashable {
    /// Sorted by normalized name.
    public let requirements: [PackageRequirement]

    public init(parsing texts: [String], limits: PackageRequirementLimits = .standard) throws(PackageRequirementError) {
        guard texts.count <= limits.maxCount else {
            throw PackageRequirementError(
                requirement: PackageRequirementError.shown(texts[limits.maxCount]), reason: .tooMany(limit: limits.maxCount))
        }
        var byName: [String: PackageRequirement] = [:]
        for text in texts {
            let requirement = try PackageRequirement(parsing: text, maxLength: limits.maxLength)
            guard byName[requirement.normalizedName] == nil else {
                throw PackageRequirementError(
                    requirement: PackageRequirementError.shown(text), reason: .duplicate(requirement.normalizedName))
            }
            byName[requirement.normalizedName] = requirement
        }
        requirements = byName.values.sorted { $0.normalizedName < $1.normalizedName }
    }

    public var isEmpty: Bool { requirements.isEmpty }

    /// One canonical requirement a line: what keys the set.
    public var canonicalLines: [String] { requirements.map(\.canonical) }
}

/// PEP 440's version grammar (public version, optional local part), without a regex engine.
enum PEP440 {
    static func isVersion<S: StringProtocol>(_ text: S, allowLocal: Bool) -> Bool {
        var scanner = Scanner(Array(text.lowercased().utf8))
        scanner.skip("v")
        // Epoch.
        let mark = scanner.position
        if scanner.digits() > 0, !scanner.skip("!") { scanner.position = mark }
        // Release: N(.N)*
        guard scanner.digits() > 0 else { return false }
        while scanner.peek(".") && scanner.isDigit(at: scanner.position + 1) {
            scanner.position += 1
            _ = scanner.digits()
        }
        // Pre-release.
        let preMark = scanner.position
        _ = scanner.skipSeparator()
        if scanner.skipAny(["alpha", "beta", "preview", "pre", "rc", "a", "b", "c"]) {
            _ = scanner.skipSeparator()
            _ = scanner.digits()
        } else {
            scanner.position = preMark
        }
        // Post-release: -N, or [sep]post|rev|r[sep]N.
        let postMark = scanner.position
        if scanner.skip("-"), scanner.digits() > 0 {
        } else {
            scanner.position = postMark
            _ = scanner.skipSeparator()
            if scanner.skipAny(["post", "rev", "r"]) {
                _ = scanner.skipSeparator()
                _ = scanner.digits()
            } else {
                scanner.position = postMark
            }
        }
        // Development release.
        let devMark = scanner.position
        _ = scanner.skipSeparator()
        if scanner.skipAny(["dev"]) {
            _ = scanner.skipSeparator()
            _ = scanner.digits()
        } else {
            scanner.position = devMark
        }
        // Local version: +alnum([-_.]alnum)*
        if scanner.skip("+") {
            guard allowLocal else { return false }
            guard scanner.alphanumerics() > 0 else { return false }
            while scanner.skipSeparator() {
                guard scanner.alphanumerics() > 0 else { return false }
            }
        }
        return scanner.atEnd
    }

    /// How many numbers the release part has (`1.4.2` has 3).
    static func releaseSegments<S: StringProtocol>(_ text: S) -> Int {
        var body = Substring(text.lowercased())
        if body.first == "v" { body = body.dropFirst() }
        if let bang = body.firstIndex(of: "!") { body = body[body.index(after: bang)...] }
        var count = 0
        for part in body.split(separator: ".", omittingEmptySubsequences: false) {
            guard !part.isEmpty, part.allSatisfy(\.isASCIIDigit) else {
                // The last numeric segment may carry a suffix (1.4rc1).
                if let first = part.first, first.isASCIIDigit { count += 1 }
                break
            }
            count += 1
        }
        return count
    }

    struct Scanner {
        let bytes: [UInt8]
        var position = 0
        init(_ bytes: [UInt8]) { self.bytes = bytes }
        var atEnd: Bool { position == bytes.count }
        func peek(_ character: Character) -> Bool { position < bytes.count && bytes[position] == character.asciiValue }
        func isDigit(at index: Int) -> Bool { index < bytes.count && (48...57).contains(bytes[index]) }
        @discardableResult mutating func skip(_ character: Character) -> Bool {
            guard peek(character) else { return false }
            position += 1
            return true
        }
        mutating func skipSeparator() -> Bool { skip(".") || skip("-") || skip("_") }
        mutating func skipAny(_ words: [String]) -> Bool {
            for word in words {
                let utf8 = Array(word.utf8)
                if position + utf8.count <= bytes.count && Array(bytes[position..<position + utf8.count]) == utf8 {
                    position += utf8.count
                    return true
                }
            }
            return false
        }
        mutating func digits() -> Int {
            let start = position
            while isDigit(at: position) { position += 1 }
            return position - start
        }
        mutating func alphanumerics() -> Int {
            let start = position
            while position < bytes.count, (48...57).contains(bytes[position]) || (97...122).contains(bytes[position]) { position += 1 }
            return position - start
        }
    }
}

extension Character {
    var isASCIILetterOrDigit: Bool { isASCII && (isLetter || isNumber) }
    var isASCIIDigit: Bool { isASCII && isNumber }
}

extension Substring {
    func trimmingLeadingSpaces() -> Substring { drop { $0 == " " } }
    func trimmingSpaces() -> Substring {
        var result = trimmingLeadingSpaces()
        while result.last == " " { result = result.dropLast() }
        return result
    }
}

extension String {
    func leftPadded(to width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}

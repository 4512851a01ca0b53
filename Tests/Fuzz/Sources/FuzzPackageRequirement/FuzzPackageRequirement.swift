import Foundation
import SandboxProtocol
import SandboxRuntime

/// A run's or session's `packages` and the operator's `--allow-packages`:
/// the whole input as one `PackageRequirement`, its lines (split at each
/// `\n` byte) as a `PackageRequirementSet`, and the whole input as a
/// `PackageAllowList`. What is accepted is canonical (its canonical text,
/// what the installer is given, parses again to the same requirement, and
/// holds only a name's, extras' and specifiers' characters: never a space,
/// `;`, `@`, `/`, `\`, `:`, `#` or anything unprintable); what is longer than
/// the limit is refused; a set holds at most `maxCount`, each name once;
/// every refusal names the requirement, escaped and cut, in a printable
/// message.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPackageRequirement(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: start, count: count)
    let text = String(decoding: bytes, as: UTF8.self)
    _ = checkedRequirement(text)
    checkSet(bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map {
        String(decoding: $0, as: UTF8.self)
    })
    checkAllowList(text)
    return 0
}

private let limits = PackageRequirementLimits.standard

/// Parses `text` and checks what comes out, accepted or refused.
private func checkedRequirement(_ text: String, maxLength: Int = limits.maxLength) -> PackageRequirement? {
    let length = text.utf8.count
    let requirement: PackageRequirement
    do throws(PackageRequirementError) {
        requirement = try PackageRequirement(parsing: text, maxLength: maxLength)
    } catch {
        checkError(error, naming: [text])
        if length > maxLength {
            guard case .tooLong(let limit) = error.reason, limit == maxLength else {
                fail("\(length) bytes over a limit of \(maxLength) refused as something else: \(error)")
            }
        }
        return nil
    }
    guard length <= maxLength else { fail("\(length) bytes accepted over a limit of \(maxLength): \(requirement)") }
    checkAccepted(requirement, from: text)
    // The limit is the text's length in bytes: one byte less refuses it.
    if maxLength == limits.maxLength, length > 0 {
        do throws(PackageRequirementError) {
            let again = try PackageRequirement(parsing: text, maxLength: length - 1)
            fail("\(length) bytes accepted over a limit of \(length - 1): \(again)")
        } catch {
            guard case .tooLong(length - 1) = error.reason else { fail("over the limit, refused as something else: \(error)") }
        }
    }
    return requirement
}

private func checkAccepted(_ requirement: PackageRequirement, from text: String) {
    let canonical = requirement.canonical
    checkNormalized(requirement.normalizedName, what: "normalized name")
    guard PackageRequirement.normalize(requirement.name) == requirement.normalizedName else {
        fail("name '\(requirement.name)' does not normalize to '\(requirement.normalizedName)'")
    }
    guard !requirement.name.isEmpty, requirement.name.first != " ", requirement.name.last != " ", text.contains(requirement.name) else {
        fail("name '\(requirement.name)' is not as written in '\(text)'")
    }
    for extra in requirement.extras { checkNormalized(extra, what: "extra") }
    guard zip(requirement.extras, requirement.extras.dropFirst()).allSatisfy({ $0 < $1 }) else {
        fail("extras not sorted or repeated: \(requirement.extras)")
    }
    for specifier in requirement.specifiers {
        guard !specifier.version.isEmpty, !specifier.version.contains(" ") else {
            fail("version '\(specifier.version)' of \(canonical) is empty or has a space")
        }
    }
    // The canonical text is those parts and nothing else.
    var expected = requirement.normalizedName
    if !requirement.extras.isEmpty { expected += "[" + requirement.extras.joined(separator: ",") + "]" }
    expected += requirement.specifiers.map { $0.op.rawValue + $0.version }.joined(separator: ",")
    guard canonical == expected, requirement.description == canonical else {
        fail("canonical '\(canonical)' is not its parts '\(expected)'")
    }
    guard canonical.utf8.count <= text.utf8.count else { fail("canonical '\(canonical)' longer than '\(text)'") }
    // Only what a name, extras and specifiers are made of: nothing an
    // installer reads as a path, URL, option, marker, comment or variable.
    guard let first = canonical.utf8.first, isAlphanumeric(first) else { fail("canonical '\(canonical)' starts oddly") }
    if let bad = canonical.utf8.first(where: { !isAlphanumeric($0) && !canonicalPunctuation.contains($0) }) {
        fail("canonical '\(canonical)' holds the byte \(bad)")
    }
    // Canonical is a fixed point: it parses to the same requirement, whose canonical text is the same.
    let reparsed: PackageRequirement
    do throws(PackageRequirementError) {
        reparsed = try PackageRequirement(parsing: canonical)
    } catch {
        fail("canonical '\(canonical)' of '\(text)' is refused: \(error)")
    }
    guard reparsed == requirement, reparsed.canonical == canonical, reparsed.hashValue == requirement.hashValue,
          reparsed.name == requirement.normalizedName, reparsed.normalizedName == requirement.normalizedName,
          reparsed.extras == requirement.extras, reparsed.specifiers == requirement.specifiers
    else { fail("canonical '\(canonical)' parses to another requirement, '\(reparsed.canonical)'") }
}

/// PEP 503: lower case letters and digits, single `-` inside.
private func checkNormalized(_ name: String, what: String) {
    let bytes = Array(name.utf8)
    guard let first = bytes.first, let last = bytes.last, first != UInt8(ascii: "-"), last != UInt8(ascii: "-"),
          bytes.allSatisfy({ isLowerAlphanumeric($0) || $0 == UInt8(ascii: "-") }), !name.contains("--")
    else { fail("\(what) '\(name)' is not normalized") }
}

/// A set of the lines: accepted exactly when each line is and no name comes twice, within the count.
private func checkSet(_ lines: [String]) {
    let set: PackageRequirementSet
    do throws(PackageRequirementError) {
        set = try PackageRequirementSet(parsing: lines)
    } catch {
        checkError(error, naming: lines)
        if lines.count > limits.maxCount {
            guard case .tooMany(limits.maxCount) = error.reason, error.requirement == shown(lines[limits.maxCount]) else {
                fail("\(lines.count) requirements refused as something else: \(error)")
            }
            return
        }
        // Some line is refused alone, or two name the same package.
        let each = lines.map { checkedRequirement($0) }
        if !each.contains(where: { $0 == nil }) {
            guard case .duplicate(let name) = error.reason,
                  each.filter({ $0?.normalizedName == name }).count > 1
            else { fail("a set of valid requirements with different names refused: \(error)") }
        }
        return
    }
    guard lines.count <= limits.maxCount, set.requirements.count == lines.count else {
        fail("\(lines.count) lines accepted as \(set.requirements.count) requirements (at most \(limits.maxCount))")
    }
    let names = set.requirements.map(\.normalizedName)
    guard zip(names, names.dropFirst()).allSatisfy({ $0 < $1 }) else { fail("set not sorted or a name twice: \(names)") }
    for line in lines {
        guard let requirement = checkedRequirement(line), set.requirements.contains(requirement) else {
            fail("a set accepted '\(shown(line))', which alone is refused or not in it")
        }
    }
    guard set.canonicalLines == set.requirements.map(\.canonical),
          (try? PackageRequirementSet(parsing: set.canonicalLines.reversed())) == set
    else { fail("a set's canonical lines are not the same set: \(set.canonicalLines)") }
}

/// `--allow-packages`: `*`, or names separated by commas, each normalized.
private func checkAllowList(_ text: String) {
    let items = text.split(separator: ",").map(String.init)
    let list: PackageAllowList
    do throws(PackageRequirementError) {
        list = try PackageAllowList(parsing: text)
    } catch {
        // Its own refusal (extras or a specifier) gives the item uncut.
        checkError(error, naming: items, orAsGiven: true)
        guard items.contains(where: { item in
            checkedRequirement(item).map { !$0.extras.isEmpty || !$0.specifiers.isEmpty } ?? true
        }) else { fail("an allow list of plain names refused: \(error)") }
        return
    }
    let star = text.trimmingCharacters(in: .whitespaces) == "*"
    switch list {
    case .any:
        guard star else { fail("'\(shown(text))' allows any package") }
    case .only(let names):
        guard !star else { fail("'*' allows only \(names)") }
        var expected = Set<String>()
        for item in items {
            guard let requirement = checkedRequirement(item), requirement.extras.isEmpty, requirement.specifiers.isEmpty else {
                fail("an allow list accepted '\(shown(item))', which is not a plain name")
            }
            expected.insert(requirement.normalizedName)
        }
        guard names == expected else { fail("allow list \(names.sorted()), written \(expected.sorted())") }
        for name in names {
            checkNormalized(name, what: "allowed name")
            guard list.allows(name) else { fail("allow list refuses its own '\(name)'") }
        }
        guard !list.allows("\u{0}") else { fail("allow list allows what it does not hold") }
    }
}

/// A refusal's message: `requirement '...' refused: why`, all printable,
/// naming one of the texts as `shown` does (or, with `orAsGiven`, as given).
private func checkError(_ error: PackageRequirementError, naming texts: [String], orAsGiven: Bool = false) {
    let description = error.description
    let prefix = "requirement '\(error.requirement)' refused: "
    guard description.hasPrefix(prefix), description.utf8.count > prefix.utf8.count + 4 else {
        fail("a refusal that does not say what and why: \(description)")
    }
    guard description.utf8.allSatisfy({ (0x20...0x7E).contains($0) }) else {
        fail("a refusal with unprintable characters: \(description.debugDescription)")
    }
    guard texts.contains(where: { shown($0) == error.requirement || (orAsGiven && $0 == error.requirement) }) else {
        fail("a refusal naming '\(error.requirement)', none of \(texts.map(shown))")
    }
}

/// What a refusal names: the first 80 scalars, each outside printable
/// ASCII and each `\` as `\u{hex}`, and `...` when there were more.
private func shown(_ text: String) -> String {
    var result = ""
    for scalar in text.unicodeScalars.prefix(80) {
        if scalar.value >= 0x20, scalar.value <= 0x7E, scalar != "\\" {
            result.unicodeScalars.append(scalar)
        } else {
            result += "\\u{" + String(scalar.value, radix: 16) + "}"
        }
    }
    return text.unicodeScalars.count > 80 ? result + "..." : result
}

private let canonicalPunctuation = Set("-_.+!*[],=<>~".utf8)

private func isAlphanumeric(_ byte: UInt8) -> Bool {
    isLowerAlphanumeric(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
}

private func isLowerAlphanumeric(_ byte: UInt8) -> Bool {
    (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
}

private func fail(_ message: String) -> Never {
    fatalError(message)
}

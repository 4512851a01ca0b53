import ArgumentParser
import Foundation
import SandboxClient
import SandboxProtocol

/// `--package` and `--requirements`: the PyPI packages a program imports
/// (PROTOCOL.md, "Packages"), sent as `packages` with each run, or with
/// `session/open` when the programs run in a session. Each requirement is
/// checked here as the service checks it (a name, extras, a version
/// specifier; nothing else) before anything is sent, so that a bad line of
/// a requirements file is refused naming its file and line.
struct PackageOptions: ParsableArguments {
    @Option(name: .customLong("package"), help: ArgumentHelp(
        "A PyPI package the program imports, as a requirement: 'requests', 'pandas>=2,<3', 'rich[jupyter]' "
            + "(repeatable). The service installs it (once; later runs reuse it) before the run starts.",
        valueName: "spec"))
    var packages: [String] = []

    @Option(name: .customLong("requirements"), help: ArgumentHelp(
        "Read requirements from FILE, one per line, as in a requirements.txt: '#' starts a comment, blank lines "
            + "are skipped; options (-r, -e, --index-url), URLs, paths and markers (';') are refused (repeatable).",
        valueName: "file"))
    var requirementFiles: [String] = []

    /// Every requirement given, checked against the protocol's limits; nil
    /// when none was. Throws `UnreadableFile` or `RequirementRefusal`.
    func requirements() throws -> [Requirement]? {
        var all: [Requirement] = packages.map { Requirement(text: $0, origin: "--package '\($0)'") }
        for path in requirementFiles { all += try RequirementsFile.read(path) }
        guard !all.isEmpty else { return nil }
        try Self.check(all, limits: .standard)
        return all
    }

    /// `requirements()`, or the exit that says why not: an unreadable file
    /// (66) or a refused requirement (65), said on stderr.
    func requirementsOrExit() throws -> [Requirement]? {
        do {
            return try requirements()
        } catch let failure as UnreadableFile {
            Console.note(failure.description)
            throw ExitCode(ExitStatus.noInput)
        } catch let refusal as RequirementRefusal {
            Console.note(refusal.description)
            throw ExitCode(ExitStatus.rejected)
        }
    }

    /// Refuses a malformed requirement, a name given twice, or more or
    /// longer requirements than `limits` allow, naming where it was given.
    static func check(_ requirements: [Requirement], limits: PackageRequirementLimits) throws(RequirementRefusal) {
        if requirements.count > limits.maxCount {
            let extra = requirements[limits.maxCount]
            throw RequirementRefusal(
                origin: extra.origin, reason: "a run may name at most \(limits.maxCount) requirements; this is one more")
        }
        var seen: [String: Requirement] = [:]
        for requirement in requirements {
            let parsed: PackageRequirement
            do {
                parsed = try PackageRequirement(parsing: requirement.text, maxLength: limits.maxLength)
            } catch {
                throw RequirementRefusal(origin: requirement.origin, reason: error.description)
            }
            if let earlier = seen[parsed.normalizedName] {
                throw RequirementRefusal(
                    origin: requirement.origin, reason: "\(parsed.normalizedName) is named already (\(earlier.origin)); give it once")
            }
            seen[parsed.normalizedName] = requirement
        }
    }

    /// Checks the requirements against what the service said in `initialize`:
    /// that it installs packages at all, and its own limits.
    static func check(_ requirements: [Requirement]?, against info: InitializeResult, url: String) throws {
        guard let requirements else { return }
        guard info.capabilities.packages == true else {
            throw PackagesNotOffered(url: url, version: info.serverInfo.version)
        }
        guard let limits = info.limits.packages else { return }
        try check(requirements, limits: PackageRequirementLimits(
            maxLength: limits.maxRequirementLength, maxCount: limits.maxRequirements))
    }

    /// The names, for a status line: "tinytop, pandas>=2".
    static func listed(_ requirements: [String]) -> String {
        requirements.map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: ", ")
    }
}

/// One requirement, and where it was given (for messages).
struct Requirement: Sendable, Equatable {
    /// As written, spaces around it removed.
    var text: String
    /// `--package 'x'`, or `FILE:LINE`.
    var origin: String

    init(text: String, origin: String) {
        self.text = text.trimmingCharacters(in: .whitespaces)
        self.origin = origin
    }
}

/// A requirements.txt, read as pip reads the lines this CLI accepts.
enum RequirementsFile {
    static func read(_ path: String) throws -> [Requirement] {
        guard let data = FileManager.default.contents(atPath: path) else { throw UnreadableFile(path: path) }
        guard let text = String(data: data, encoding: .utf8) else {
            throw RequirementRefusal(origin: path, reason: "the file is not UTF-8 text")
        }
        return try parse(text, path: path)
    }

    /// One requirement a line; `#` at a line's start or after a space starts
    /// a comment; blank lines are skipped. A line pip would read as an
    /// option, a continuation or a reference to a file or URL is refused:
    /// the service installs packages by name only.
    static func parse(_ text: String, path: String) throws(RequirementRefusal) -> [Requirement] {
        var requirements: [Requirement] = []
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        for (index, rawLine) in lines.enumerated() {
            let origin = "\(path):\(index + 1)"
            var line = Substring(rawLine)
            if line.last == "\r" { line = line.dropLast() }
            line = stripComment(line)
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            if trimmed.hasPrefix("-") {
                let option = trimmed.prefix { !$0.isWhitespace && $0 != "=" }
                throw RequirementRefusal(origin: origin, reason: """
                    the option '\(option)' is not accepted: the service installs packages by name from its own \
                    source, so -r, -c, -e, --index-url and other installer options have no place here
                    """)
            }
            if trimmed.hasSuffix("\\") {
                throw RequirementRefusal(origin: origin, reason: "line continuations ('\\') are not accepted; give each requirement on one line")
            }
            requirements.append(Requirement(text: trimmed, origin: origin))
        }
        return requirements
    }

    /// pip's rule: `#` at the start, or after whitespace, starts a comment.
    static func stripComment(_ line: Substring) -> Substring {
        var previous: Character = " "
        for index in line.indices {
            if line[index] == "#" && previous.isWhitespace { return line[..<index] }
            previous = line[index]
        }
        return line
    }
}

/// A requirement refused before anything was sent; exit status 65.
struct RequirementRefusal: Error, CustomStringConvertible {
    var origin: String
    var reason: String
    var description: String { "\(origin): \(reason)" }
}

/// The service installs no packages (`capabilities.packages` false or absent); exit status 69.
struct PackagesNotOffered: Error, CustomStringConvertible {
    var url: String
    var version: String
    var description: String {
        "the service at \(url) (sandboxd \(version)) installs no packages: --package and --requirements cannot be used with it"
    }
}

extension ProtocolConnection {
    /// `session/open`; with packages and `showingStatus`, at a terminal, a
    /// status line while it takes longer than a moment (the service installs
    /// the set first, and the protocol sends no `run/status` for a session).
    /// A refusal is thrown as `ClientError.rejected`.
    func openSession(_ params: SessionOpenParams, showingStatus: Bool) async throws -> SessionOpenResult {
        guard let packages = params.packages, !packages.isEmpty, showingStatus else {
            return try await openSession(params)
        }
        let status = Task {
            try await Task.sleep(for: .milliseconds(300))
            Console.status("installing packages for the session: \(PackageOptions.listed(packages))…")
        }
        func statusGone() async {
            status.cancel()
            _ = await status.result
            Console.status(nil)
        }
        do {
            let opened = try await openSession(params)
            await statusGone()
            return opened
        } catch {
            await statusGone()
            throw error
        }
    }
}

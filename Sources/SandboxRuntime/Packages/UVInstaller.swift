import Foundation
import SandboxProtocol

/// Resolves and installs with uv, wheels only (`--no-build`: no package's
/// build or install code runs on the host), for one interpreter.
///
/// uv does not see Debian's `dist-packages` (it reads only the
/// environment's own site-packages), so resolution runs against a
/// *resolver view*: a virtual environment of the interpreter whose
/// site-packages holds links to the system distributions' metadata and
/// nothing else. `uv pip install --dry-run` there keeps what the system has
/// when it fits and names the rest: `+ name==version` to install, and
/// `- name==version` for a system package it would replace (a shadow).
/// The install then puts exactly those pins, `--no-deps`, into the layer.
///
/// uv rather than pip (Debian's 23.0.1, `--dry-run --report` then
/// `--no-deps --target`): `requests` from PyPI resolves and installs in
/// about 1 s with uv against 5 s with pip, cold or warm cache, and a set the
/// system already has is checked in 0.07 s against 1.1 s (three runs each).
struct UVInstaller: Sendable {
    var executable: String
    /// The interpreter's real binary.
    var interpreter: String
    var source: PackageSource
    /// The installer's own folder: HOME, cache, the resolver view; the service's alone.
    var home: String
    var outputBudget: Int

    var cache: String { home + "/cache" }
    var resolverView: String { home + "/resolver" }

    /// A clean environment: nothing of the service's (no tokens, no HOME),
    /// no uv configuration file, no Python downloads; only a proxy the
    /// operator set, which the index may need.
    var environment: [String: String] {
        var environment = [
            "PATH": "/usr/bin:/bin", "HOME": home + "/home", "TMPDIR": home + "/tmp", "LANG": "C.UTF-8",
            "UV_CACHE_DIR": cache, "UV_NO_CONFIG": "1", "UV_PYTHON_DOWNLOADS": "never", "NO_COLOR": "1",
        ]
        let inherited = ProcessInfo.processInfo.environment
        for name in ["http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "SSL_CERT_FILE", "SSL_CERT_DIR"] {
            if let value = inherited[name] { environment[name] = value }
        }
        return environment
    }

    /// Where packages come from, the same for resolving and installing.
    /// `--system-certs`: the host's trust store, as Debian's pip uses.
    var sourceArguments: [String] {
        switch source {
        case .defaultIndex: ["--system-certs"]
        case .index(let url): ["--system-certs", "--default-index", url]
        case .wheels(let directory): ["--no-index", "--find-links", directory]
        }
    }

    private var common: [String] { ["--directory", home + "/home", "--no-progress", "--color", "never", "--quiet"] }

    /// Makes the resolver view anew: the system's packages may have changed since.
    func prepare(system: SystemPackages, deadline: ContinuousClock.Instant) async throws(PackageError) {
        for directory in [home + "/home", home + "/tmp", cache] {
            try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        LayerFiles.removeTree(resolverView)
        let outcome = try await run(
            ["venv", "--python", interpreter, "--no-project"] + common.filter { $0 != "--quiet" } + [resolverView], deadline: deadline)
        guard outcome.status == 0 else {
            throw .unavailable(detail: "uv could not make its resolver environment: \(Self.lastWords(outcome.output))")
        }
        guard let sitePackages = Self.sitePackages(of: resolverView) else {
            throw .unavailable(detail: "uv's resolver environment has no site-packages")
        }
        for distribution in system.distributions.values {
            let link = sitePackages + "/" + URL(fileURLWithPath: distribution.metadata).lastPathComponent
            try? FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: distribution.metadata)
        }
    }

    func resolve(_ requirements: PackageRequirementSet, deadline: ContinuousClock.Instant) async throws(PackageError) -> ResolvedSet {
        guard !requirements.isEmpty else { return ResolvedSet(packages: [], shadows: []) }
        let arguments = ["pip", "install", "--dry-run", "--python", resolverView + "/bin/python", "--no-build"]
            + sourceArguments + common.filter { $0 != "--quiet" } + ["--"] + requirements.canonicalLines
        let outcome = try await run(arguments, deadline: deadline)
        guard outcome.status == 0 else { throw Self.failure(Self.said(outcome), requirements: requirements) }
        return try Self.parseDryRun(outcome.output, truncated: outcome.truncated)
    }

    func install(_ packages: [PinnedPackage], into sitePackages: String, deadline: ContinuousClock.Instant) async throws(PackageError) {
        // Copies, not links into uv's cache: a layer owns its files. Bytecode
        // compiled here (compileall parses, it runs nothing), since a run
        // cannot write __pycache__ into a read-only layer.
        let arguments = ["pip", "install", "--python", interpreter, "--target", sitePackages, "--no-deps", "--no-build",
                         "--link-mode", "copy", "--compile-bytecode"]
            + sourceArguments + common + ["--"] + packages.map(\.description)
        let outcome = try await run(arguments, deadline: deadline)
        guard outcome.status == 0 else { throw Self.failure(Self.said(outcome), requirements: nil) }
    }

    private func run(_ arguments: [String], deadline: ContinuousClock.Instant) async throws(PackageError) -> InstallerProcess.Outcome {
        let outcome = try await InstallerProcess(
            executable: executable, arguments: arguments, environment: environment, deadline: deadline, outputBudget: outputBudget
        ).run()
        if outcome.timedOut { throw .timedOut(seconds: 0) }  // the store knows the limit and says it
        return outcome
    }

    /// Its output, and how it ended when a signal ended it (killed from outside, out of memory).
    static func said(_ outcome: InstallerProcess.Outcome) -> String {
        outcome.status > 128 ? outcome.output + "\nuv was killed by signal \(outcome.status - 128)" : outcome.output
    }

    /// `lib/pythonX.Y/site-packages` of a virtual environment.
    static func sitePackages(of environment: String) -> String? {
        let lib = environment + "/lib"
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: lib)) ?? []
        return versions.first { $0.hasPrefix("python") }.map { lib + "/" + $0 + "/site-packages" }
    }

    /// uv's dry run: `+ name==version` lines to install, `- name==version`
    /// for a system package replaced. Anything else it says is left alone;
    /// an answer cut short is refused rather than half-read.
    static func parseDryRun(_ output: String, truncated: Bool) throws(PackageError) -> ResolvedSet {
        guard !truncated else { throw .installerFailed(detail: "uv's answer was longer than the output budget") }
        var added: [String: String] = [:]
        var removed: [String: String] = [:]
        var sawVerdict = false
        for line in output.split(separator: "\n") {
            if line.hasPrefix("Would ") { sawVerdict = true }
            guard line.hasPrefix(" + ") || line.hasPrefix(" - ") else { continue }
            let pin = line.dropFirst(3).trimmingCharacters(in: .whitespaces)
            let parts = pin.components(separatedBy: "==")
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty, !parts[1].contains(" ") else {
                throw .installerFailed(detail: "uv named a package as '\(pin)', which is not name==version")
            }
            let name = PackageRequirement.normalize(parts[0])
            if line.hasPrefix(" + ") { added[name] = parts[1] } else { removed[name] = parts[1] }
        }
        guard sawVerdict else { throw .installerFailed(detail: "uv's dry run did not say what it would do: \(lastWords(output))") }
        let shadows = removed.compactMap { name, systemVersion in
            added[name].map { ShadowedPackage(name: name, systemVersion: systemVersion, layerVersion: $0) }
        }
        return ResolvedSet(packages: added.map { PinnedPackage(name: $0.key, version: $0.value) }, shadows: shadows)
    }

    /// Turns uv's reasons into the store's typed errors, naming the package
    /// from uv's own sentence when it gives one.
    static func failure(_ output: String, requirements: PackageRequirementSet?) -> PackageError {
        let detail = lastWords(output)
        let text = output.replacingOccurrences(of: "\n", with: " ")
        func name(after prefix: String, before suffix: String) -> String? {
            guard let start = text.range(of: prefix) else { return nil }
            let rest = text[start.upperBound...]
            guard let end = rest.range(of: suffix) else { return nil }
            let found = rest[..<end.lowerBound].trimmingCharacters(in: .whitespaces)
            return found.isEmpty || found.count > 250 ? nil : found
        }
        if text.contains("Failed to fetch") || text.contains("error sending request") || text.contains("dns error")
            || text.contains("Request failed after") || text.contains("Could not connect") || text.contains("invalid peer certificate")
        {
            return .indexUnreachable(detail: detail)
        }
        if let found = name(after: "Because ", before: " was not found in the package registry")
            ?? name(after: "Because ", before: " was not found in the provided package locations")
            ?? name(after: "and ", before: " was not found in the package registry")
        {
            return .unknownPackage(name: found, detail: detail)
        }
        if text.contains("no usable wheels") || text.contains("has no wheels") || text.contains("no wheels with a matching")
            || text.contains("building from source is disabled") || text.contains("Building source distributions is disabled")
        {
            let found = name(after: "Wheels are required for `", before: "`")
                ?? name(after: "Because all versions of ", before: " have no usable wheels")
                ?? name(after: "Because ", before: " has no usable wheels")
                ?? name(after: "Because ", before: " has no wheels")
                ?? requirements?.requirements.first?.normalizedName ?? "?"
            return .noWheel(name: found, detail: detail)
        }
        // uv names what was asked ("you require X,") and what there is ("only X<=2.0 is available").
        if let found = name(after: "Because there is no version of ", before: " and ")
            ?? name(after: "Because only ", before: " is available and") ?? name(after: "Because only ", before: " are available and")
        {
            return .noSuchVersion(requirement: name(after: "and you require ", before: ",") ?? found, detail: detail)
        }
        if text.contains("No solution found") {
            return .unsatisfiable(detail: detail)
        }
        return .installerFailed(detail: detail)
    }

    /// The lines that say why, without uv's preamble: at most 600 characters.
    static func lastWords(_ output: String) -> String {
        let lines = output.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("Using Python") && !$0.hasPrefix("Using CPython") }
        let reasons = lines.filter { $0.hasPrefix("error:") || $0.hasPrefix("cause:") || $0.hasPrefix("hint:") || $0.hasPrefix("╰─▶") }
        var text = (reasons.isEmpty ? Array(lines.suffix(3)) : reasons).joined(separator: " ")
        if text.count > 600 { text = String(text.prefix(600)) + "..." }
        return text.isEmpty ? "no output" : text
    }
}

import Foundation
import SandboxProtocol
import SandboxRuntime
import TestSupport
import Testing

/// One attack from Tests/Fixtures/malicious: its code and what its header expects.
struct MaliciousFixture: CustomTestStringConvertible, Sendable {
    var name: String
    var code: String
    var expected: Set<RunStatus>
    var required: [String]
    /// The run's cpuMs must reach this (`# cpu-at-least: MS`): CPU time the program tried to hide.
    var cpuAtLeastMs: Int?
    /// The run's `returnFiles` (`# return: PATTERN`, one line each).
    var returnFiles: [String] = []
    /// The run's output limit when not the fixtures' usual one (`# max-output: BYTES`).
    var maxOutputBytes: Int?
    /// The run's wall-clock limit when not the fixtures' usual one (`# timeout-ms: MS`): an
    /// attack that only the wall clock ends shows that as well in a second as in three.
    var timeoutMs: Int?
    /// Exactly the paths that must come back (`# returned: PATH`, one line each), when given.
    var returned: [String]?
    /// `omittedFiles` entries that must be listed (`# omitted: REASON PATH`).
    var omitted: [OmittedFile] = []

    var testDescription: String { name }

    static let directory = Checkout.url("Tests/Fixtures/malicious")

    /// Helpers the fixtures import (`from attempt import attempt`), placed beside main.py.
    static let supportFiles: [String: String] = {
        let support = directory.appendingPathComponent("support")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: support.path)) ?? []
        return Dictionary(uniqueKeysWithValues: names.filter { $0.hasSuffix(".py") }.map { name in
            (name, (try? String(contentsOf: support.appendingPathComponent(name), encoding: .utf8)) ?? "")
        })
    }()

    static func loadAll() -> [MaliciousFixture] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasSuffix(".py") }.sorted().map { name in
            let code = (try? String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)) ?? ""
            var expected: Set<RunStatus> = []
            var required: [String] = []
            var cpuAtLeastMs: Int?
            var returnFiles: [String] = []
            var maxOutputBytes: Int?
            var timeoutMs: Int?
            var returned: [String]?
            var omitted: [OmittedFile] = []
            func value(_ line: Substring, _ key: String) -> String? {
                line.hasPrefix(key) ? line.dropFirst(key.count).trimmingCharacters(in: .whitespaces) : nil
            }
            for line in code.split(separator: "\n").prefix(while: { $0.hasPrefix("#") }) {
                if let pattern = value(line, "# return:") { returnFiles.append(pattern) }
                if let bytes = value(line, "# max-output:") { maxOutputBytes = Int(bytes) }
                if let ms = value(line, "# timeout-ms:") { timeoutMs = Int(ms) }
                if let path = value(line, "# returned:") { returned = (returned ?? []) + (path.isEmpty ? [] : [path]) }
                if let entry = value(line, "# omitted:"), let space = entry.firstIndex(of: " "),
                   let reason = OmittedFile.Reason(rawValue: String(entry[..<space])) {
                    omitted.append(OmittedFile(path: String(entry[space...].dropFirst()), reason: reason))
                }
                if line.hasPrefix("# expect:") {
                    for word in line.dropFirst("# expect:".count).split(separator: "|") {
                        if let status = RunStatus(rawValue: word.trimmingCharacters(in: .whitespaces)) {
                            expected.insert(status)
                        }
                    }
                } else if line.hasPrefix("# require:") {
                    required.append(line.dropFirst("# require:".count).trimmingCharacters(in: .whitespaces))
                } else if line.hasPrefix("# cpu-at-least:") {
                    cpuAtLeastMs = Int(line.dropFirst("# cpu-at-least:".count).trimmingCharacters(in: .whitespaces))
                }
            }
            return MaliciousFixture(
                name: name, code: code, expected: expected, required: required, cpuAtLeastMs: cpuAtLeastMs,
                returnFiles: returnFiles, maxOutputBytes: maxOutputBytes, timeoutMs: timeoutMs, returned: returned, omitted: omitted)
        }
    }
}

/// How the service runs for a fixture: README's modes. As root, and as an
/// ordinary user without a cgroup, in this process (the launcher started
/// through setpriv); as an ordinary user with a delegated cgroup, a whole
/// sandboxd as that user (`DelegatedCgroupTests`). All with the default
/// isolation (a fork server), and once more as root with a new interpreter
/// per run (`--isolation exec`).
enum ServiceMode: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case root
    /// Root, every run forked from a fork server that preloaded the scientific stack.
    case rootPreloaded
    /// Also forked from a preloading fork server.
    case ordinaryUser
    case rootExec
    /// As a cell of a fresh session (SandboxSession), as root and as an ordinary user.
    case rootSession
    case ordinaryUserSession
    /// Forked (plainly) with a package set bound (`SharedPackageLayer`), as root and as an ordinary user.
    case rootPackages
    case ordinaryUserPackages

    var testDescription: String { rawValue }

    func sandbox() async throws -> Sandbox {
        switch self {
        case .root, .rootPreloaded, .rootSession, .rootPackages: try await SharedSandbox.get()
        case .ordinaryUser, .ordinaryUserSession, .ordinaryUserPackages: try await SharedSandbox.ordinaryUser()
        case .rootExec: try await SharedSandbox.execIsolation()
        }
    }

    /// Whether runs are forked from a fork server with the preloaded modules, whatever they import.
    var preloaded: Bool { self == .rootPreloaded || self == .ordinaryUser }

    var inSession: Bool { self == .rootSession || self == .ordinaryUserSession }

    var withPackages: Bool { self == .rootPackages || self == .ordinaryUserPackages }

    /// The modes that differ in how a run is sandboxed, not in what it has mounted.
    static let standard = allCases.filter { !$0.withPackages }
}

/// What a fixture's run came to, however it was run.
struct FixtureOutcome {
    var status: String
    var output: String
    var cpuMs: Int
    var message: String?
    /// The verdict's `files` paths and `omittedFiles`, with `returnFiles`.
    var returnedPaths: [String]?
    var omittedFiles: [OmittedFile]?
}

extension MaliciousFixture {
    static func limits(preloaded: Bool) -> RunLimits {
        var limits = RunLimits()
        limits.usesPreload = preloaded
        limits.timeout = .seconds(3)
        limits.memoryBytes = 128 << 20
        limits.maxOutputBytes = 64 << 10
        return limits
    }

    func request(files: [String: String], preloaded: Bool) -> RunRequest {
        RunRequest(
            code: code, files: files.mapValues { Array($0.utf8) }, returnFiles: returnFiles,
            limits: limits(preloaded: preloaded))
    }

    /// The fixtures' limits with this fixture's own output and wall-clock limits.
    func limits(preloaded: Bool) -> RunLimits {
        var limits = Self.limits(preloaded: preloaded)
        if let maxOutputBytes { limits.maxOutputBytes = maxOutputBytes }
        if let timeoutMs { limits.timeout = .milliseconds(timeoutMs) }
        return limits
    }

    /// Every check of a contained attack; `service` is the pid of a sandboxd
    /// running as the sandbox's user, which is no leftover.
    func check(_ outcome: FixtureOutcome, mode: String, host: HostTargets, service: pid_t? = nil) async {
        let label = "\(name) (\(mode))"
        let output = outcome.output
        #expect(expected.map(\.rawValue).contains(outcome.status),
                "\(label): verdict \(outcome.status) not in \(expected.map(\.rawValue).sorted()); output: \(output.prefix(600))")
        #expect(!output.contains("ESCAPED"), "\(label): \(output.prefix(2000))")
        #expect(!output.contains(host.fileSecret), "\(label) read the host file secret")
        #expect(!output.contains(host.environmentSecret), "\(label) read the host environment secret")
        for text in required {
            #expect(output.contains(text), "\(label) should print '\(text)'; output: \(output.prefix(600))")
        }
        if let cpuAtLeastMs {
            #expect(outcome.cpuMs >= cpuAtLeastMs, "\(label): cpuMs \(outcome.cpuMs) hides CPU time (at least \(cpuAtLeastMs))")
        }
        #expect(outcome.status != "internalError", "\(label): \(outcome.message ?? "")")
        checkReturnedFiles(outcome, label: label)
        #expect(await HostProcesses.leftovers(excluding: service.map { [$0] } ?? []) == [], "\(label) left processes behind")
        #expect(host.drainContacts() == [], "\(label) reached a host listener")
        #expect(host.tampering() == [], "\(label) changed the host")
    }
}

extension MaliciousFixture {
    /// Whatever the program sent, only files the run's patterns match come
    /// back, once, and neither list passes its cap.
    func checkReturnedFiles(_ outcome: FixtureOutcome, label: String) {
        guard !returnFiles.isEmpty else { return }
        let paths = outcome.returnedPaths ?? []
        let patterns = returnFiles.map(ReturnPattern.init)
        for path in paths {
            #expect(ReturnPattern.anyMatches(patterns, path), "\(label): '\(path)' came back, which \(returnFiles) does not match")
        }
        #expect(Set(paths).count == paths.count, "\(label): a file came back twice: \(paths.sorted())")
        #expect(paths.count <= RunRequest.maxReturnedFiles && (outcome.omittedFiles?.count ?? 0) <= RunRequest.maxReturnedFiles,
                "\(label): \(paths.count) files and \(outcome.omittedFiles?.count ?? 0) omitted passed the cap")
        if let returned {
            #expect(paths.sorted() == returned.sorted(), "\(label): returned \(paths.sorted()), expected \(returned.sorted())")
        }
        for entry in omitted {
            #expect(outcome.omittedFiles?.contains(entry) == true,
                    "\(label): \(entry) not in omittedFiles \(outcome.omittedFiles?.prefix(20).map { "\($0)" } ?? [])")
        }
    }
}

extension SandboxSuite {
    @Suite("Malicious code is contained")
    struct MaliciousCode {
        static let fixtures = MaliciousFixture.loadAll()

        @Test func theSuiteIsComplete() {
            #expect(Self.fixtures.count >= 40)
            for fixture in Self.fixtures {
                #expect(!fixture.expected.isEmpty, "\(fixture.name) has no '# expect:' header")
            }
        }

        /// Every fixture in every mode, except that the modes with a package
        /// set mounted leave out the fixtures that only exhaust a resource
        /// (whose verdict is a limit or a signal, never ok or error): a
        /// read-only bind changes what a run can reach, not what it is
        /// charged, and those fixtures are a third of the suite's time.
        static let cases: [(MaliciousFixture, ServiceMode)] = fixtures.flatMap { fixture in
            ServiceMode.allCases
                .filter { !$0.withPackages || !fixture.expected.isDisjoint(with: [.ok, .error]) }
                .map { (fixture, $0) }
        }

        @Test(arguments: cases)
        func attackIsContained(_ fixture: MaliciousFixture, _ mode: ServiceMode) async throws {
            let host = HostTargets.shared
            _ = host.drainContacts()
            let files = MaliciousFixture.supportFiles.merging(["host.json": host.descriptionFile]) { $1 }
            var request = fixture.request(files: files, preloaded: mode.inSession || mode.preloaded)
            if mode.withPackages { request.limits.packageLayer = try await SharedPackageLayer.get() }
            let result = mode.inSession
                ? try await Self.collectInSession(request, sandbox: mode.sandbox())
                : try await mode.sandbox().collect(request)
            let outcome = FixtureOutcome(
                status: result.verdict.status.rawValue, output: result.combined, cpuMs: result.verdict.cpuMs,
                message: result.verdict.message, returnedPaths: result.verdict.files?.map(\.path),
                omittedFiles: result.verdict.omittedFiles)
            await fixture.check(outcome, mode: mode.rawValue, host: host)
        }

        /// The code as the first cell of a session with the fixtures' limits.
        static func collectInSession(_ code: String, files: [String: String], sandbox: Sandbox) async throws -> CollectedRun {
            try await collectInSession(
                RunRequest(code: code, files: files.mapValues { Array($0.utf8) }, limits: MaliciousFixture.limits(preloaded: true)),
                sandbox: sandbox)
        }

        /// The request as the first cell of a session with its limits; the
        /// session is closed (and gone) before the checks for leftovers.
        static func collectInSession(_ request: RunRequest, sandbox: Sandbox) async throws -> CollectedRun {
            let runLimits = request.limits
            var limits = SessionLimits()
            limits.memoryBytes = runLimits.memoryBytes
            limits.interruptGrace = .seconds(1)
            let session = try sandbox.openSession(limits: limits)
            let result = try await session.collect(request)
            session.close()
            _ = await session.ended()
            return result
        }
    }
}

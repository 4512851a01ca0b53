import Foundation
import SandboxRuntime
import Testing

/// One attack from Tests/Fixtures/malicious: its code and what its header expects.
struct MaliciousFixture: CustomTestStringConvertible, Sendable {
    var name: String
    var code: String
    var expected: Set<Verdict.Status>
    var required: [String]

    var testDescription: String { name }

    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/malicious")

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
            var expected: Set<Verdict.Status> = []
            var required: [String] = []
            for line in code.split(separator: "\n").prefix(while: { $0.hasPrefix("#") }) {
                if line.hasPrefix("# expect:") {
                    for word in line.dropFirst("# expect:".count).split(separator: "|") {
                        if let status = Verdict.Status(rawValue: word.trimmingCharacters(in: .whitespaces)) {
                            expected.insert(status)
                        }
                    }
                } else if line.hasPrefix("# require:") {
                    required.append(line.dropFirst("# require:".count).trimmingCharacters(in: .whitespaces))
                }
            }
            return MaliciousFixture(name: name, code: code, expected: expected, required: required)
        }
    }
}

extension SandboxSuite {
    @Suite("Malicious code is contained")
    struct MaliciousCode {
        static let fixtures = MaliciousFixture.loadAll()

        static var limits: RunLimits {
            var limits = RunLimits()
            limits.wallTimeout = .seconds(3)
            limits.memoryBytes = 128 << 20
            limits.maxOutputBytes = 64 << 10
            return limits
        }

        @Test func theSuiteIsComplete() {
            #expect(Self.fixtures.count >= 40)
            for fixture in Self.fixtures {
                #expect(!fixture.expected.isEmpty, "\(fixture.name) has no '# expect:' header")
            }
        }

        @Test(arguments: fixtures)
        func attackIsContained(_ fixture: MaliciousFixture) async throws {
            let host = HostTargets.shared
            _ = host.drainContacts()
            let result = try await SharedSandbox.get().collect(
                fixture.code, files: MaliciousFixture.supportFiles.merging(["host.json": host.descriptionFile]) { $1 },
                limits: Self.limits)
            let output = result.combined
            #expect(fixture.expected.contains(result.verdict.status),
                    "\(fixture.name): verdict \(result.verdict.status) not in \(fixture.expected); output: \(output.prefix(600))")
            #expect(!output.contains("ESCAPED"), "\(fixture.name): \(output.prefix(2000))")
            #expect(!output.contains(host.fileSecret), "\(fixture.name) read the host file secret")
            #expect(!output.contains(host.environmentSecret), "\(fixture.name) read the host environment secret")
            for text in fixture.required {
                #expect(output.contains(text), "\(fixture.name) should print '\(text)'; output: \(output.prefix(600))")
            }
            #expect(result.verdict.status != .internalError, "\(result.verdict.message ?? "")")
            #expect(await HostProcesses.leftovers() == [], "\(fixture.name) left processes behind")
            #expect(host.drainContacts() == [], "\(fixture.name) reached a host listener")
            #expect(host.tampering() == [], "\(fixture.name) changed the host")
        }
    }
}

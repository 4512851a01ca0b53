import Foundation
import TestSupport
import Testing

extension SandboxSuite {
    /// The fuzz targets (`scripts/fuzz`, Tests/Fuzz/README.md) keep building,
    /// every seed and every crash input kept under Tests/Fuzz/TARGET/ runs
    /// clean (each crash is a regression test of its fix), and a few seconds
    /// of fuzzing each find nothing. Serialized with the sandbox suites: the
    /// fuzzer takes a core while it runs. `./scripts/setup --tests` builds the
    /// targets beforehand; here a build only checks they are up to date.
    @Suite("Fuzz targets", .serialized) struct FuzzTargetTests {
        static let packageRoot = Checkout.root
        static let script = packageRoot.appendingPathComponent("scripts/fuzz").path
        /// A smoke test in CI (under a minute for the eleven targets, with their
        /// replays); campaigns are `scripts/fuzz TARGET SECONDS` by hand.
        static let secondsEach = 2
        static let targets = [
            "options", "run_message", "session_words", "census",
            "envelope", "stdout_frames", "frame_decoding", "trusted_proxies", "run_body",
            "package_requirement", "tenants_file",
        ]

        private static func fuzz(_ arguments: [String], timeout: Duration = .seconds(60)) async throws -> ChildProcess.Finished {
            try await ChildProcess.run(script, arguments, environment: ["FUZZ_BUILT": "1"], timeout: timeout)
        }

        /// Every target built once, up to date after scripts/setup --tests (a
        /// first build of the Swift targets takes a minute or two); each
        /// replay and fuzzing after it takes the binaries as they are.
        private static let built = Task {
            try await ChildProcess.run(script, ["--build"], timeout: .seconds(900))
        }

        private static func inputCount(_ target: String) -> Int {
            ["corpus", "crashes"].reduce(0) { count, folder in
                let path = packageRoot.appendingPathComponent("Tests/Fuzz/\(target)/\(folder)").path
                return count + ((try? FileManager.default.contentsOfDirectory(atPath: path))?.count ?? 0)
            }
        }

        @Test func listsEveryTarget() async throws {
            let listed = try await Self.fuzz(["--list"])
            #expect(listed.status == 0)
            #expect(listed.stdout.split(separator: "\n").map(String.init) == Self.targets)
        }

        @Test(arguments: targets)
        func buildsReplaysItsInputsAndFuzzes(target: String) async throws {
            let built = try await Self.built.value
            try #require(built.status == 0, "the fuzz targets did not build:\n\(built.stderr.suffix(4000))")

            let replayed = try await Self.fuzz(["--replay", target])
            #expect(replayed.status == 0, "\(target) fails on a seed or a kept crash:\n\(replayed.stderr.suffix(4000))")
            // "Done N runs": every input ran (libFuzzer adds a run or two of its own).
            let done = replayed.stderr.split(separator: "\n").first { $0.hasPrefix("Done ") }
            let runs = done.flatMap { Int($0.split(separator: " ")[1]) } ?? 0
            let inputs = Self.inputCount(target)
            #expect(inputs > 0, "\(target) has no seeds")
            #expect(runs >= inputs, "\(target) ran \(runs) of its \(inputs) inputs")

            let fuzzed = try await Self.fuzz([target, "\(Self.secondsEach)"])
            #expect(fuzzed.status == 0, "\(target) crashed within \(Self.secondsEach) s:\n\(fuzzed.stderr.suffix(4000))")
            #expect(fuzzed.stderr.contains("stat::number_of_executed_units"), "\(target) did not fuzz")
            // Coverage counters, without which libFuzzer fuzzes blind ("cov: N" in its status lines).
            #expect(fuzzed.stderr.contains(" cov: "), "\(target) is not instrumented for coverage")
        }
    }
}

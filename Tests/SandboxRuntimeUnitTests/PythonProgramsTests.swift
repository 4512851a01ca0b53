import Foundation
import TestSupport
import Testing

@testable import SandboxRuntime

/// The programs the sandbox runs are Python files (`Sources/SandboxRuntime/Python/`),
/// embedded at build time: each compiles, as does the bootstrap they are
/// joined into, and their own `unittest` tests pass (`Python/tests/`, which
/// also run the bootstrap whole, without a sandbox). The host's
/// /usr/bin/python3 runs them; Python's output is the failure's message.
@Suite("The sandbox's Python programs, as Python")
struct PythonProgramsTests {
    static let python = "/usr/bin/python3"
    static let folder = Checkout.url("Sources/SandboxRuntime/Python")

    @Test func everyFileAndTheJoinedBootstrapCompile() throws {
        let scratch = try Self.scratchFolder()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let programs = [("bootstrap.py", Bootstrap.source), ("fork_server_bootstrap.py", Bootstrap.forkServerSource)]
        var files = try Self.pythonFiles()
        for (name, source) in programs {
            let url = scratch.appendingPathComponent(name)
            try Data(source.utf8).write(to: url)
            files.append(url.path)
        }
        // py_compile writes the bytecode it makes: into the scratch folder, not the checkout.
        let (status, output) = try Self.run(["-I", "-X", "pycache_prefix=" + scratch.path, "-m", "py_compile"] + files)
        #expect(status == 0, "python3 -m py_compile:\n\(output)")
    }

    @Test func theirUnitTestsPass() throws {
        let scratch = try Self.scratchFolder()
        defer { try? FileManager.default.removeItem(at: scratch) }
        // The end-to-end tests run the bootstrap as Bootstrap.swift joins it.
        let program = scratch.appendingPathComponent("bootstrap.py")
        try Data(Bootstrap.source.utf8).write(to: program)
        let tests = Self.folder.appendingPathComponent("tests").path
        let (status, output) = try Self.run(
            ["-I", "-B", "-m", "unittest", "discover", "-s", tests, "-t", tests], environment: ["PYSANDBOX_BOOTSTRAP": program.path])
        #expect(status == 0, "python3 -m unittest discover:\n\(output)")
        #expect(output.contains("\nOK"), "python3 -m unittest discover:\n\(output)")
    }

    /// The service's settings reach the bootstrap as arguments after its source, in pairs.
    @Test func settingsArePairsOfArgumentsAfterTheSource() {
        let arguments = Bootstrap.arguments(sitePackages: ["/usr/lib/python3/dist-packages"], fontCache: "/opt/fonts")
        #expect(arguments == [
            Bootstrap.source, "package-layer", PipShim.inside, "package-layer", PackageLayer.inside,
            "site-packages", "/usr/lib/python3/dist-packages", "font-cache", "/opt/fonts",
        ])
        let forkServer = Bootstrap.forkServerArguments(sitePackages: [], fontCache: nil, preload: ["numpy"], setModules: ["a", "b"])
        #expect(forkServer == [
            Bootstrap.forkServerSource, "package-layer", PipShim.inside, "package-layer", PackageLayer.inside,
            "preload", "numpy", "set-module", "a", "set-module", "b",
        ])
        #expect(Bootstrap.forkServerSource.contains("def serve_runs(") && !Bootstrap.source.contains("def serve_runs("))
    }

    /// Every .py file under Sources/ (this folder's, tests included, and the bench's).
    static func pythonFiles() throws -> [String] {
        let enumerator = try #require(FileManager.default.enumerator(at: Checkout.url("Sources"), includingPropertiesForKeys: nil))
        let files = enumerator.compactMap { ($0 as? URL)?.path }.filter { $0.hasSuffix(".py") && !$0.contains("__pycache__") }.sorted()
        #expect(files.count >= 12, "Sources/ holds the Python files")
        return files
    }

    static func scratchFolder() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("pysandbox-python-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// /usr/bin/python3 with `arguments`; its status and its stdout and stderr together.
    static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}

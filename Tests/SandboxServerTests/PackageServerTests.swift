import Foundation
import SandboxProtocol
import SandboxRuntime
import SandboxServer
import Testing

/// Package sets through a real sandboxd (PROTOCOL.md, "Packages"): runs and
/// sessions that name a set import it, installed once from the wheels the
/// tests build; every refusal is an error response that names the
/// requirement; a run cancelled while its set installs ends at once.
extension SandboxSuite {
    @Suite("Packages over WebSocket and HTTP")
    struct PackageServerTests {
        static func configuration(
            _ folder: PackageTestFolder, _ adjust: (inout ServerConfiguration) -> Void = { _ in }
        ) throws -> ServerConfiguration {
            let uv = try #require(PackageTestFolder.uv, "uv is not installed: run ./scripts/setup --tests")
            return TestServer.configuration { configuration in
                configuration.packages.enabled = true
                configuration.packages.source = .wheels(PackageTestFolder.wheels)
                configuration.packages.directory = folder.root + "/store"
                configuration.packages.installer = uv
                adjust(&configuration)
            }
        }

        @Test func aSetIsInstalledOnceAndImportedByTheRunsThatNameIt() async throws {
            let folder = try PackageTestFolder()
            try await TestServer.with(try Self.configuration(folder)) { (port) async throws in
                try await ProtocolClient.connect(port: port) { (client) async throws in
                    try await client.request("i", Method.initialize)
                    let info = try await client.response("i")
                    #expect(info["result"]?["capabilities"]?["packages"] == .bool(true))
                    #expect(info["result"]?["limits"]?["packages"]?["source"] == .string("wheels"))
                    #expect(info["result"]?["limits"]?["packages"]?["maxRequirements"] == .integer(32))

                    let code = "import tinytop\nprint(tinytop.DESCRIPTION)"
                    let first = try await client.run(1, ["code": .string(code), "packages": ["TinyTop"]])
                    #expect(first.status == "ok", "\(first.response) \(first.stderr)")
                    #expect(first.stdout == "top on leaf 2.0\n")
                    #expect(first.states.first == "installing", "\(first.states)")
                    #expect(first.states.last == "running")

                    // Installed: no `installing`, and the same answer.
                    let second = try await client.run(2, ["code": .string(code), "packages": ["tinytop>=1"]])
                    let third = try await client.run(3, ["code": .string(code), "packages": ["tinytop"]])
                    #expect(second.stdout == "top on leaf 2.0\n" && third.stdout == "top on leaf 2.0\n")
                    #expect(!third.states.contains("installing"), "\(third.states)")

                    // A run that names nothing sees nothing.
                    let without = try await client.run(4, ["code": .string(code)])
                    #expect(without.status == "error")
                    #expect(without.stderr.contains("No module named 'tinytop'"))
                }
            }
        }

        /// `--preload-packages`: installed at start, and imported by its fork
        /// servers before any run; another set's are not.
        @Test func aPreloadedSetIsImportedBeforeTheRun() async throws {
            let folder = try PackageTestFolder()
            let configuration = try Self.configuration(folder) { $0.packages.preloadSets = [["tinytop"]] }
            try await TestServer.with(configuration) { (port) async throws in
                try await ProtocolClient.connect(port: port) { (client) async throws in
                    let code = "import sys\nprint('tinytop' in sys.modules, 'tinyleaf' in sys.modules)\nimport tinytop\nprint(tinytop.DESCRIPTION)"
                    let hot = try await client.run(1, ["code": .string(code), "packages": ["tinytop"]])
                    #expect(hot.stdout == "True True\ntop on leaf 2.0\n", "\(hot.response) \(hot.stderr)")
                    #expect(!hot.states.contains("installing"), "\(hot.states)")
                    let other = try await client.run(2, ["code": "import sys\nprint('tinyleaf' in sys.modules)", "packages": ["tinyleaf<2"]])
                    #expect(other.stdout == "False\n", "\(other.response) \(other.stderr)")
                }
            }
        }

        @Test func everyRefusalNamesTheRequirementAndTheConnectionGoesOn() async throws {
            let folder = try PackageTestFolder()
            try await TestServer.with(try Self.configuration(folder)) { (port) async throws in
                try await ProtocolClient.connect(port: port) { (client) async throws in
                    let cases: [(JSONValue, Int64, String, String)] = [
                        (["tinytop @ https://example.com/x.whl"], -32602, "badRequirement", "tinytop @ https://example.com/x.whl"),
                        (["-e ."], -32602, "badRequirement", "-e ."),
                        (["tinytop", "TINYTOP"], -32602, "badRequirement", "TINYTOP"),
                        (["nosuchpackage"], -32008, "unknownPackage", "nosuchpackage"),
                        (["tinytop==9.9"], -32008, "noSuchVersion", "tinytop==9.9"),
                        (["sdistonly"], -32008, "noWheel", "sdistonly"),
                    ]
                    for (index, (packages, code, reason, requirement)) in cases.enumerated() {
                        let id = JSONValue.integer(Int64(index))
                        try await client.request(id, Method.run, ["code": "print('ran')", "packages": packages])
                        let transcript = try await client.transcript(of: id)
                        let error = transcript.response["error"]
                        #expect(error?["code"] == .integer(code), "\(packages): \(transcript.response)")
                        #expect(error?["data"]?["reason"] == .string(reason), "\(packages): \(transcript.response)")
                        #expect(error?["data"]?["requirement"]?.stringValue?.hasPrefix(requirement) == true, "\(packages): \(transcript.response)")
                        #expect(!transcript.outputs.contains { _ in true })
                    }
                    #expect(!FileManager.default.fileExists(atPath: PackageTestFolder.sdistMarker), "an sdist was built on the host")
                    let after = try await client.run("after", ["code": "print('still here')"])
                    #expect(after.stdout == "still here\n")
                }
            }
        }

        @Test func onlyTheAllowedNamesMayBeAskedFor() async throws {
            let folder = try PackageTestFolder()
            let configuration = try Self.configuration(folder) { $0.packages.allowed = .only(["tinyleaf"]) }
            try await TestServer.with(configuration) { (port) async throws in
                try await ProtocolClient.connect(port: port) { (client) async throws in
                    try await client.request("i", Method.initialize)
                    #expect(try await client.response("i")["result"]?["limits"]?["packages"]?["allowed"] == ["tinyleaf"])
                    try await client.request(1, Method.run, ["code": "import tinytop", "packages": ["tinytop"]])
                    let refused = try await client.response(1)
                    #expect(refused["error"]?["data"]?["reason"] == .string("notAllowed"))
                    #expect(refused["error"]?["data"]?["requirement"] == .string("tinytop"))
                    // Its dependency may be asked for by name.
                    let leaf = try await client.run(2, ["code": "import tinyleaf; print(tinyleaf.VERSION)", "packages": ["tinyleaf<2"]])
                    #expect(leaf.stdout == "1.0\n", "\(leaf.response)")
                }
            }
        }

        @Test func aSessionsCellsImportItsSet() async throws {
            let folder = try PackageTestFolder()
            try await TestServer.with(try Self.configuration(folder)) { (port) async throws in
                try await ProtocolClient.connect(port: port) { (client) async throws in
                    let session = try await SessionServerTests.open(client, "o", ["packages": ["tinytop"]])
                    let first = try await client.run(1, ["code": "import tinytop", "session": .string(session)])
                    #expect(first.status == "ok", "\(first.response) \(first.stderr)")
                    let second = try await client.run(2, ["code": "print(tinytop.DESCRIPTION)", "session": .string(session)])
                    #expect(second.stdout == "top on leaf 2.0\n")
                    try await client.request(3, Method.run, ["code": "1", "session": .string(session), "packages": ["tinyleaf"]])
                    #expect(try await client.response(3)["error"]?["code"] == .integer(-32602))
                    try await client.request("bad", Method.sessionOpen, ["packages": ["nosuchpackage"]])
                    #expect(try await client.response("bad")["error"]?["data"]?["reason"] == .string("unknownPackage"))
                }
            }
        }

        /// `pip install` inside a run or a session goes through the service:
        /// the same rules and refusals as `packages`, the package importable
        /// from the next statement on, and a session's set grows with each.
        @Test func pipInsideARunOrASessionAsksTheService() async throws {
            let folder = try PackageTestFolder()
            let configuration = try Self.configuration(folder) { $0.packages.allowed = .only(["tinytop", "tinyleaf"]) }
            try await TestServer.with(configuration) { (port) async throws in
                try await ProtocolClient.connect(port: port) { (client) async throws in
                    let code = """
                        import subprocess, sys
                        done = subprocess.run([sys.executable, "-m", "pip", "install", "tinytop"], capture_output=True, text=True)
                        print(done.stdout.splitlines()[-1])
                        import tinytop
                        print(tinytop.DESCRIPTION)
                        """
                    let run = try await client.run(1, ["code": .string(code)])
                    #expect(run.status == "ok", "\(run.response) \(run.stderr)")
                    #expect(run.stdout == "Successfully installed tinyleaf-2.0 tinytop-1.0\ntop on leaf 2.0\n", "\(run.stderr)")

                    // Refusals are pip's errors, with the reason and requirement the protocol gives.
                    let refusals = """
                        import os
                        for requirement in ("six", "'tinytop @ https://example.com/t.whl'", "tinyleaf==9"):
                            os.system("pip install " + requirement)
                        """
                    let refused = try await client.run(2, ["code": .string(refusals)])
                    #expect(refused.status == "ok", "\(refused.response)")
                    for expected in ["(notAllowed: six)", "(badRequirement: tinytop @ https://example.com/t.whl)", "(noSuchVersion: tinyleaf==9)"] {
                        #expect(refused.stderr.contains(expected), "\(expected): \(refused.stderr)")
                    }

                    let session = try await SessionServerTests.open(client, "o", [:])
                    let pinned = try await client.run(3, ["code": "%pip install 'tinyleaf<2'", "session": .string(session)])
                    #expect(pinned.stdout.contains("Successfully installed tinyleaf-1.0"), "\(pinned.response) \(pinned.stderr)")
                    let leaf = try await client.run(4, ["code": "import tinyleaf\nprint(tinyleaf.VERSION)", "session": .string(session)])
                    #expect(leaf.stdout == "1.0\n", "\(leaf.stderr)")
                    // The session's set is {tinyleaf<2} and now tinytop: both hold.
                    let top = try await client.run(5, [
                        "code": "%pip install tinytop\nimport tinytop\nprint(tinytop.DESCRIPTION)", "session": .string(session),
                    ])
                    #expect(top.stdout.hasSuffix("Successfully installed tinyleaf-1.0 tinytop-1.0\ntop on leaf 1.0\n"), "\(top.stdout) \(top.stderr)")

                    // Another run of the server sees none of it.
                    let other = try await client.run(6, ["code": "import tinytop"])
                    #expect(other.stderr.contains("No module named 'tinytop'"))
                }
            }
        }

        @Test func httpRunsNameSetsToo() async throws {
            let folder = try PackageTestFolder()
            try await TestServer.with(try Self.configuration(folder)) { (port) async throws in
                let ok = try await HTTP.post(port, "/v1/run", #"{"code":"import tinytop; print(tinytop.DESCRIPTION)","packages":["tinytop"]}"#)
                #expect(ok.status == 200, "\(ok.json)")
                #expect(ok.json["stdout"] == .string("top on leaf 2.0\n"), "\(ok.json)")
                let unknown = try await HTTP.post(port, "/v1/run", #"{"code":"1","packages":["nosuchpackage"]}"#)
                #expect(unknown.status == 422, "\(unknown.json)")
                #expect(unknown.json["error"]?["data"]?["reason"] == .string("unknownPackage"))
                let bad = try await HTTP.post(port, "/v1/run", #"{"code":"1","packages":["x; os_name=='nt'"]}"#)
                #expect(bad.status == 400, "\(bad.json)")
            }
        }

        /// SIGTERM while a set installs: after the runs have drained, the
        /// install is stopped (its installer and its child gone) and its run
        /// answered -32005; sandboxd exits 0 well within the install's limit.
        @Test func sigtermStopsAnInstallUnderWay() async throws {
            let folder = try PackageTestFolder()
            let (process, log) = try ShutdownTests.launch([
                "--port", "0", "--workers", "1", "--shutdown-grace", "2", "--package-wheels", PackageTestFolder.wheels,
                "--package-store", folder.root + "/store", "--package-installer", try folder.stallingInstaller(),
            ])
            defer { if process.isRunning { process.terminate() } }
            let port = try await ShutdownTests.listeningPort(in: log)
            try await ProtocolClient.connect(port: port) { (client) async throws in
                try await client.request(1, Method.run, ["code": "import tinyslow", "packages": ["tinyslow"]])
                _ = try await client.inbox.take { $0["params"]?["state"] == "installing" }
                let stopped = ContinuousClock.now
                kill(process.processIdentifier, SIGTERM)
                let response = try await client.response(1, within: .seconds(20))
                #expect(response["error"]?["code"] == .integer(Int64(RPCErrorCode.shuttingDown.rawValue)), "\(response)")
                #expect(ContinuousClock.now - stopped < .seconds(15))
            }
            let deadline = ContinuousClock.now + .seconds(15)
            while process.isRunning && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
            #expect(!process.isRunning)
            #expect(process.terminationStatus == 0)
            try await folder.expectStallerGone()
            #expect(try folder.entries("layers").isEmpty)
        }

        /// A cancel while the set installs answers at once; the install goes
        /// on (another run may want it) until its own time limit.
        @Test func aRunCancelledWhileItsSetInstallsEndsAtOnce() async throws {
            let folder = try PackageTestFolder()
            let configuration = try Self.configuration(folder) {
                $0.packages.installer = try? folder.stallingInstaller()
                $0.packages.limits.installTimeout = .seconds(3)
            }
            try await TestServer.with(configuration) { (port) async throws in
                try await ProtocolClient.connect(port: port) { (client) async throws in
                    try await client.request(1, Method.run, ["code": "import tinyslow", "packages": ["tinyslow"]])
                    _ = try await client.inbox.take { $0["params"]?["state"] == "installing" }
                    let cancelledAt = ContinuousClock.now
                    try await client.notify(Method.cancelRequest, ["id": 1])
                    let response = try await client.response(1)
                    #expect(response["result"]?["status"] == .string("cancelled"), "\(response)")
                    #expect(ContinuousClock.now - cancelledAt < .seconds(2))
                    // A second run of the same set waits for that install and hears why it failed.
                    try await client.request(2, Method.run, ["code": "import tinyslow", "packages": ["tinyslow"]])
                    #expect(try await client.response(2)["error"]?["data"]?["reason"] == .string("timedOut"))
                    #expect(try await client.run(3, ["code": "print(3)"]).stdout == "3\n")
                }
            }
            try await folder.expectStallerGone()
        }
    }
}

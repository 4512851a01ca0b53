import Foundation
import SandboxRuntime
import SandboxProtocol
import Testing

/// The sandboxd executable itself: its log line, SIGTERM with runs in flight.
extension SandboxSuite {
    @Suite("sandboxd process")
    struct ShutdownTests {
        static var executable: String { ChildProcess.executable("sandboxd") }

        /// Starts the sandboxd executable with `arguments`, its log in a pipe.
        static func launch(_ arguments: [String]) throws -> (process: Process, log: Pipe) {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
            let log = Pipe()
            process.standardError = log
            process.standardOutput = log
            try process.run()
            return (process, log)
        }

        @Test func sigtermLetsRunsFinishThenExitsZero() async throws {
            let (process, log) = try Self.launch(["--port", "0", "--workers", "2", "--shutdown-grace", "5"])
            defer { if process.isRunning { process.terminate() } }

            let port = try await Self.listeningPort(in: log)
            try await ProtocolClient.connect(port: port) { (client) async throws in
                try await client.request(1, Method.run, ["code": "import time; time.sleep(1); print('finished')"])
                try await client.request(2, Method.run, ["code": "import time; time.sleep(30)"])
                try await client.request(3, Method.run, ["code": "print('queued')"])
                _ = try await client.inbox.take { $0["params"]?["id"] == 2 && $0["params"]?["state"] == "running" }
                kill(process.processIdentifier, SIGTERM)
                try await Task.sleep(for: .milliseconds(200))
                try await client.request(4, Method.run, ["code": "print('too late')"])
                let late = try await client.response(4)
                #expect(late["error"]?["code"] == .integer(Int64(RPCErrorCode.shuttingDown.rawValue)))

                let first = try await client.transcript(of: 1)
                #expect(first.status == "ok" && first.stdout == "finished\n")
                #expect(try await client.transcript(of: 3).stdout == "queued\n")
                // Past the grace period the long run is cancelled, and still answered.
                #expect(try await client.transcript(of: 2, within: .seconds(15)).status == "cancelled")
            }
            let deadline = ContinuousClock.now + .seconds(15)
            while process.isRunning && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
            #expect(!process.isRunning)
            #expect(process.terminationStatus == 0)
            for hierarchy in ["/sys/fs/cgroup/pids", "/sys/fs/cgroup/cpu", "/sys/fs/cgroup"] {
                let parent = "\(hierarchy)/pysandbox-\(process.processIdentifier)"
                #expect(!FileManager.default.fileExists(atPath: parent), "\(parent) outlived sandboxd")
            }
            let leftovers = await HostProcesses.leftovers()
            #expect(leftovers.isEmpty, "\(leftovers)")
        }

        @Test func refusesToStartWithoutAWorkingSandbox() throws {
            let (process, log) = try Self.launch(["--port", "0", "--python", "/nonexistent/python3"])
            process.waitUntilExit()
            let output = String(decoding: log.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            #expect(process.terminationStatus != 0)
            #expect(output.contains("cannot start") && output.contains("/nonexistent/python3"), "\(output)")
        }

        /// `--preload` problems stop sandboxd before it serves, saying which module.
        @Test func refusesToStartWhenAPreloadedModuleFails() throws {
            for (arguments, expected) in [
                (["--preload", "json,no_such_module_anywhere"], "No module named 'no_such_module_anywhere'"),
                (["--preload", "json", "--isolation", "exec"], "--preload needs --isolation fork"),
                (["--preload", "os;import sys"], "'os;import sys' is not a module name"),
                (["--isolation", "vfork"], "'vfork' is neither fork nor exec"),
            ] {
                let (process, log) = try Self.launch(["--port", "0"] + arguments)
                process.waitUntilExit()
                let output = String(decoding: log.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                #expect(process.terminationStatus != 0, "\(arguments)")
                #expect(output.contains(expected), "\(arguments): \(output)")
            }
        }

        /// Without a cgroup it still serves, and says once, at start, what is weaker.
        @Test func warnsOnceWhatIsWeakerWithoutACgroup() async throws {
            // Without packages, which say so when no installer is found (a debug build has none beside it).
            let (process, log) = try Self.launch(["--port", "0", "--workers", "1", "--cgroups", "off", "--packages", "none"])
            defer { if process.isRunning { process.terminate() } }
            let (port, text) = try await Self.listeningPortAndLog(in: log)
            let warnings = text.split(separator: "\n").filter { $0.contains(" warning ") }
            #expect(warnings.count == 1, "\(text)")
            for weaker in CgroupPlan.limitsWithoutCgroups {
                #expect(warnings.first?.contains(weaker) == true, "\(weaker) not in \(warnings)")
            }
            let info = try await HTTP.get(port, "/v1/info")
            #expect(info.json["capabilities"]?["cgroups"] == false)
            process.terminate()
            process.waitUntilExit()
            #expect(process.terminationStatus == 0)
        }

        /// Reads the log until the line that says where it listens.
        static func listeningPort(in log: Pipe) async throws -> Int {
            try await listeningPortAndLog(in: log).port
        }

        /// The port sandboxd says it listens on, and what it logged up to then.
        static func listeningPortAndLog(in log: Pipe) async throws -> (port: Int, log: String) {
            var text = ""
            let deadline = ContinuousClock.now + .seconds(30)
            while ContinuousClock.now < deadline {
                let data = log.fileHandleForReading.availableData
                text += String(decoding: data, as: UTF8.self)
                if let range = text.range(of: #"websocket=ws://127\.0\.0\.1:(\d+)/v1/ws"#, options: .regularExpression) {
                    let match = text[range]
                    let digits = match.split(separator: ":").last?.split(separator: "/").first ?? ""
                    if let port = Int(digits) { return (port, text) }
                }
                if data.isEmpty { throw TestFailure("sandboxd exited: \(text)") }
            }
            throw TestFailure("sandboxd did not say where it listens: \(text)")
        }
    }
}

import Foundation
import Testing

/// The sandboxd executable on a port another process listens on: one line
/// that says so, exit status 75, and no sandbox started.
extension SandboxSuite {
    @Suite("sandboxd listen address")
    struct ListenTests {
        @Test func aPortInUseIsOneLineAndExitStatus75() async throws {
            let (first, log) = try ShutdownTests.launch(["--port", "0", "--workers", "1"])
            defer { if first.isRunning { first.terminate() } }
            let port = try await ShutdownTests.listeningPort(in: log)

            let second = try await ChildProcess.run("sandboxd", ["--port", "\(port)", "--workers", "1"], timeout: .seconds(30))
            #expect(second.status == 75, "\(second)")
            let errors = second.stderr.split(separator: "\n").filter { line in
                let level = line.split(separator: " ").dropFirst().first
                return level == "error" || level == "critical"
            }
            #expect(errors.count == 1, "\(second.stderr)")
            #expect(errors.first?.hasSuffix(
                "cannot listen on 127.0.0.1:\(port): address already in use (another sandboxd?); choose another with --port") == true,
                "\(second.stderr)")
            // Found before any sandbox started: nothing about fork servers or warm sandboxes.
            #expect(!second.stderr.contains("fork server") && !second.stderr.contains("warm sandbox"), "\(second.stderr)")

            // The first one is unharmed.
            try await ProtocolClient.connect(port: port) { (client) async throws in
                #expect(try await client.run(1, ["code": "print('still here')"]).stdout == "still here\n")
            }
            first.terminate()
            first.waitUntilExit()
            #expect(first.terminationStatus == 0)
        }

        /// An address that is not this machine's: one line, exit status 78.
        @Test func anAddressNotOfThisMachineIsOneLineAndExitStatus78() async throws {
            // TEST-NET-1 (RFC 5737): never a local address.
            let result = try await ChildProcess.run("sandboxd", ["--host", "192.0.2.1", "--port", "8765", "--workers", "1"], timeout: .seconds(30))
            #expect(result.status == 78, "\(result)")
            let lines = result.stderr.split(separator: "\n")
            #expect(lines.count == 1 && lines.first?.hasSuffix("cannot listen on 192.0.2.1:8765: cannot assign requested address") == true,
                    "\(result.stderr)")
        }
    }
}

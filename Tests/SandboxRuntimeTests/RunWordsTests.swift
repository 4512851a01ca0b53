import Testing

@testable import SandboxRuntime

/// What a run is told when it tries what the sandbox does not offer: the
/// network, and installing packages.
extension SandboxSuite {
    @Suite("words a run is told")
    struct RunWordsTests {
        static let noNetwork = "this sandbox has no network"

        @Test(arguments: [ServiceMode.root, .ordinaryUser, .rootExec, .rootSession])
        func aNetworkAttemptSaysThereIsNoNetwork(mode: ServiceMode) async throws {
            let code = """
                import socket, urllib.request, urllib.error
                try:
                    urllib.request.urlopen("http://example.com", timeout=2)
                except urllib.error.URLError as error:
                    print("urlopen:", error.reason)
                try:
                    socket.getaddrinfo("example.com", 80)
                except socket.gaierror as error:
                    print("getaddrinfo:", type(error).__name__, error)
                try:
                    socket.create_connection(("192.0.2.1", 80), timeout=2)
                except PermissionError as error:
                    print("connect:", error.errno, error)
                left, right = socket.socketpair()
                left.sendall(b"unix sockets still work")
                print(right.recv(100).decode())
                """
            let result = mode.inSession
                ? try await MaliciousCode.collectInSession(code, files: [:], sandbox: mode.sandbox())
                : try await mode.sandbox().collect(code)
            #expect(result.verdict.status == .ok, "\(mode): \(result.stderr)")
            let lines = result.stdout.split(separator: "\n").map(String.init)
            #expect(lines.count == 4, "\(mode): \(result.stdout)")
            #expect(lines.first?.hasPrefix("urlopen: ") == true && lines.first?.contains(Self.noNetwork) == true, "\(mode): \(lines)")
            #expect(lines.dropFirst().first?.hasPrefix("getaddrinfo: gaierror ") == true
                    && lines.dropFirst().first?.contains(Self.noNetwork) == true, "\(mode): \(lines)")
            #expect(lines.dropFirst(2).first?.hasPrefix("connect: 1 ") == true
                    && lines.dropFirst(2).first?.contains(Self.noNetwork) == true, "\(mode): \(lines)")
            #expect(lines.last == "unix sockets still work", "\(mode): \(lines)")
        }

        /// pip reads PEP 668's marker and prints its reason; the sandbox's
        /// says how packages are provided here.
        @Test(arguments: [ServiceMode.root, .ordinaryUser, .rootExec])
        func pipInstallSaysHowPackagesAreProvided(mode: ServiceMode) async throws {
            let code = """
                import importlib.util, subprocess, sys, sysconfig
                print(open(sysconfig.get_path("stdlib") + "/EXTERNALLY-MANAGED").read().splitlines()[1])
                if importlib.util.find_spec("pip"):
                    done = subprocess.run([sys.executable, "-m", "pip", "install", "requests"], capture_output=True, text=True)
                    print("pip:", done.returncode, " ".join(done.stderr.split()))
                else:
                    print("pip: not installed")
                """
            let result = try await mode.sandbox().collect(code)
            #expect(result.verdict.status == .ok, "\(mode): \(result.stderr)")
            let lines = result.stdout.split(separator: "\n").map(String.init)
            #expect(lines.first == "Error=This sandbox cannot install packages: it has no network, and its", "\(mode): \(lines)")
            let pip = try #require(lines.last)
            if pip != "pip: not installed" {
                // pip's stand-in, asked by a run whose runner answers no pip (these tests'): what to do instead.
                #expect(pip.hasPrefix("pip: 1 ") && pip.contains("pip install is not available inside this run")
                        && pip.contains("name them in the run's packages instead") && pip.contains("sandbox run --package NAME"),
                        "\(mode): \(pip)")
            }
        }
    }
}

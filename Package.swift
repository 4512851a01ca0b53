// swift-tools-version:6.0
import PackageDescription

let launcherCSettings: [CSetting] = [
    .define("_GNU_SOURCE"),
    .unsafeFlags(["-Wall", "-Wextra", "-Werror", "-Wno-unused-parameter", "-Wno-missing-field-initializers"]),
]

// Linux only: the sandbox is Linux namespaces, seccomp and cgroups (sandbox/launcher/),
// so no other platform is declared; the package builds on Linux and nowhere else.
let package = Package(
    name: "PySandbox",
    products: [
        .library(name: "SandboxRuntime", targets: ["SandboxRuntime"]),
        .executable(name: "pysandbox-launcher", targets: ["pysandbox-launcher"]),
        // Loaded by each fork server (`--isolation fork`) to fork its runs.
        .library(name: "pysandbox-fork-run", type: .dynamic, targets: ["PySandboxForkRun"]),
        .library(name: "SandboxProtocol", targets: ["SandboxProtocol"]),
        .library(name: "SandboxServer", targets: ["SandboxServer"]),
        .executable(name: "sandboxd", targets: ["sandboxd"]),
        .library(name: "SandboxClient", targets: ["SandboxClient"]),
        .executable(name: "sandbox", targets: ["sandbox"]),
        .executable(name: "sandbox-bench", targets: ["sandbox-bench"]),
        .library(name: "SandboxMCP", targets: ["SandboxMCP"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/modelcontextprotocol/swift-sdk", from: "0.12.1"),
        // SHA-256 of tenants' tokens; already built for swift-websocket's handshake.
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
    ],
    targets: [
        // libseccomp, found through pkg-config (Debian: libseccomp-dev).
        .systemLibrary(
            name: "CSeccomp",
            path: "sandbox/CSeccomp",
            pkgConfig: "libseccomp",
            providers: [.apt(["libseccomp-dev"])]
        ),
        // SQLite's C library (Debian: libsqlite3-dev), for tenants' usage
        // (`--state FILE`): a handful of statements, and no package to build.
        .systemLibrary(
            name: "CSQLite",
            path: "Sources/CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        // PostgreSQL's C client, libpq (Debian: libpq-dev), for tenants' usage
        // shared by several nodes (`--state postgres://…`).
        .systemLibrary(
            name: "CPostgres",
            path: "Sources/CPostgres",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        // The steps both ways of starting a run share: rlimits, credentials,
        // installing the seccomp program, the run's pid 1, the status channel.
        .target(
            name: "SandboxSteps",
            path: "sandbox/steps",
            cSettings: launcherCSettings
        ),
        // The C launcher: namespaces, mounts, rlimits, cgroups, seccomp, exec;
        // with --fork-server, a slot of the fork server.
        .executableTarget(
            name: "pysandbox-launcher",
            dependencies: ["CSeccomp", "SandboxSteps"],
            path: "sandbox/launcher",
            cSettings: launcherCSettings,
            linkerSettings: [.linkedLibrary("seccomp")]
        ),
        // What a fork server calls (ctypes) to fork each run into its sandbox.
        // Loaded inside the sandbox, where only the system's libraries are:
        // linked as Embedded Swift would be, without Swift's runtime (it has no Swift).
        .target(
            name: "PySandboxForkRun",
            dependencies: ["SandboxSteps"],
            path: "sandbox/fork_run",
            cSettings: launcherCSettings,
            linkerSettings: [.unsafeFlags(["-enable-experimental-feature", "Embedded"])]
        ),
        // GNU libc calls that Swift's Glibc module does not export.
        .target(
            name: "CSandboxSupport",
            path: "sandbox/support",
            cSettings: [.define("_GNU_SOURCE")]
        ),
        .target(
            name: "SandboxRuntime",
            dependencies: [
                "CSandboxSupport",
                // send_with_fds: a fork-server run's pipes go to its slot over a unix socket.
                "SandboxSteps",
                // Only for the vocabulary a verdict shares with the protocol (RunStatus, TimeLimit).
                "SandboxProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            // The programs the sandbox runs, as Python files (Python/), compiled
            // into the module as byte arrays (`PackageResources`): sandboxd stays
            // one file. Their tests, in Python, run in SandboxRuntimeUnitTests.
            exclude: ["Python/tests"],
            resources: [
                "bootstrap/sandbox_site.py", "bootstrap/ordered_streams.py", "bootstrap/rich_results.py",
                "bootstrap/fork_server.py", "bootstrap/run.py", "bootstrap/returned_files.py", "bootstrap/session.py",
                "bootstrap/start_run.py", "pip/__init__.py", "pip/__main__.py", "interpreter_probe.py", "assist/assist.py",
                "session_files/session_files.py", "session_state/session_state.py",
            ].map { .embedInCode("Python/" + $0) }
        ),
        // Protocol v1 messages (protocol/PROTOCOL.md), shared by the server and its clients.
        .target(name: "SandboxProtocol"),
        // The `run_python` MCP tool over any protocol v1 line: argument checks,
        // sessions per MCP client, results as MCP content. Both `sandbox mcp`
        // (WebSocket) and sandboxd's `/mcp` (in-process) serve it.
        .target(
            name: "SandboxMCP",
            dependencies: [
                "SandboxProtocol",
                .product(name: "MCP", package: "swift-sdk"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The service: transport, queue and warm pool, REST.
        .target(
            name: "SandboxServer",
            dependencies: [
                "SandboxRuntime",
                "SandboxProtocol",
                "SandboxMCP",
                "CSandboxSupport",
                "CSQLite",
                "CPostgres",
                .product(name: "MCP", package: "swift-sdk"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            resources: [.copy("Web/Assets")]
        ),
        // sandboxd's options: one declaration each (name, help, default from
        // ServerConfiguration), their SANDBOXD_* variables, their mapping into
        // ServerConfiguration; a library, so that a fast test target reads them.
        .target(
            name: "SandboxdOptions",
            dependencies: [
                "SandboxServer",
                "SandboxRuntime",
                "SandboxProtocol",
                "SandboxMCP",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "sandboxd",
            dependencies: [
                "SandboxdOptions",
                "SandboxServer",
                "SandboxRuntime",
                "SandboxProtocol",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // A protocol v1 client over WebSocket, shared by the CLI and the benchmark.
        .target(
            name: "SandboxClient",
            dependencies: [
                "SandboxProtocol",
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The `sandbox` command-line client.
        .executableTarget(
            name: "sandbox",
            dependencies: [
                "SandboxClient",
                "SandboxProtocol",
                "SandboxMCP",
                .product(name: "MCP", package: "swift-sdk"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        // Benchmarks; timing goals live here, never in tests.
        .executableTarget(
            name: "sandbox-bench",
            dependencies: [
                "SandboxRuntime",
                "SandboxProtocol",
                "SandboxClient",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            resources: [.embedInCode("warm_floor.py")]
        ),
        // What the test targets share: where the checkout is (`Checkout`).
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        // Pure tests of the protocol types: no server, no sandbox.
        .testTarget(
            name: "SandboxProtocolTests",
            dependencies: ["SandboxProtocol", "TestSupport"],
            path: "Tests/SandboxProtocolTests"
        ),
        // The runtime's pure parts: parsers of what sandboxes write (reports,
        // frames, returned files, pip's requests), and the Python programs the
        // sandbox runs, with their own unittest tests (Python/tests), run by
        // /usr/bin/python3 on the host; no sandbox
        // (`swift test --filter SandboxRuntimeUnitTests`).
        .testTarget(
            name: "SandboxRuntimeUnitTests",
            dependencies: ["SandboxRuntime", "SandboxProtocol", "TestSupport"],
            path: "Tests/SandboxRuntimeUnitTests"
        ),
        // The run_python tool against a runner that follows PROTOCOL.md's
        // sessions: no server, no sandbox (`swift test --filter SandboxMCPTests`).
        .testTarget(
            name: "SandboxMCPTests",
            dependencies: ["SandboxMCP", "SandboxProtocol", .product(name: "MCP", package: "swift-sdk")],
            path: "Tests/SandboxMCPTests"
        ),
        // The client library: a `ProtocolConnection` against a scripted
        // protocol v1 peer on loopback (no sandboxd), and what the client
        // does with a verdict on the user's disk (`--save`), in a temporary
        // folder (`swift test --filter SandboxClientTests`).
        .testTarget(
            name: "SandboxClientTests",
            dependencies: [
                "SandboxClient", "SandboxProtocol",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
            ],
            path: "Tests/SandboxClientTests"
        ),
        // The `sandbox` command's pure parts, by `@testable import` of the
        // executable: the REPL's key decoding, line editor (drawing into a
        // string), when a snippet is whole, and what Tab's completion does to the
        // line and how its matches are listed; no server, no terminal
        // (`swift test --filter SandboxCLITests`).
        .testTarget(
            name: "SandboxCLITests",
            dependencies: ["sandbox"],
            path: "Tests/SandboxCLITests"
        ),
        // The server's parts against a fake `SandboxProvider` whose runs and
        // sessions have no kernel sandbox and no processes: scheduling,
        // connections, and sessions from their opening to their end; they
        // run in parallel, in seconds (`swift test --filter SandboxServerUnitTests`).
        .testTarget(
            name: "SandboxServerUnitTests",
            dependencies: [
                "SandboxServer", "SandboxRuntime", "SandboxProtocol",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Tests/SandboxServerUnitTests"
        ),
        // sandboxd's options from the command line and SANDBOXD_* variables:
        // no server, no sandbox (`swift test --filter SandboxdOptionsTests`).
        .testTarget(
            name: "SandboxdOptionsTests",
            dependencies: [
                "SandboxdOptions", "SandboxServer", "SandboxRuntime",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Tests/SandboxdOptionsTests"
        ),
        // Everything that drives real sandboxes, real servers and real
        // clients: one target, so that every suite that starts sandboxes can
        // run under one serialized parent (host-wide leftover-process checks).
        .testTarget(
            name: "PySandboxTests",
            dependencies: [
                "SandboxRuntime",
                "SandboxServer",
                "SandboxProtocol",
                "TestSupport",
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
            ],
            path: "Tests",
            // The other folders are the fast targets' above, and the fixtures' and fuzzers'.
            exclude: [
                "Fixtures", "Fuzz", "SandboxCLITests", "SandboxClientTests", "SandboxMCPTests", "SandboxProtocolTests",
                "SandboxRuntimeUnitTests", "SandboxServerUnitTests", "SandboxdOptionsTests", "TestSupport",
            ],
            sources: ["SandboxRuntimeTests", "SandboxServerTests"]
        ),
    ]
)

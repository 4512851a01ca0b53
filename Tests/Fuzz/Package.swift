// swift-tools-version:6.0
// The Swift fuzz targets (scripts/fuzz; Tests/Fuzz/README.md). A package of
// its own, so that the main package's build is untouched: its library
// targets are links to the main package's source files (SandboxProtocol
// whole; of SandboxRuntime and SandboxServer only the parsers and what they
// need), each harness an executable that libFuzzer drives. scripts/fuzz
// builds it with -sanitize=fuzzer,address into .build-fuzz/swift.
import PackageDescription

// The harnesses reach the parsers' internal types, as the unit tests do (@testable).
let testable: [SwiftSetting] = [.unsafeFlags(["-enable-testing"])]

let package = Package(
    name: "PySandboxFuzz",
    targets: [
        .target(name: "SandboxProtocol"),
        .target(name: "SandboxRuntime", dependencies: ["SandboxProtocol"], swiftSettings: testable),
        .target(name: "SandboxServer", dependencies: ["SandboxProtocol", "SandboxRuntime"], swiftSettings: testable),
        .executableTarget(name: "FuzzEnvelope", dependencies: ["SandboxProtocol"]),
        .executableTarget(name: "FuzzStdoutFrames", dependencies: ["SandboxRuntime"]),
        .executableTarget(name: "FuzzFrameDecoding", dependencies: ["SandboxProtocol", "SandboxRuntime"]),
        .executableTarget(name: "FuzzTrustedProxies", dependencies: ["SandboxServer"]),
        .executableTarget(name: "FuzzRunBody", dependencies: ["SandboxProtocol", "SandboxRuntime", "SandboxServer"]),
        .executableTarget(name: "FuzzPackageRequirement", dependencies: ["SandboxProtocol", "SandboxRuntime"]),
        .executableTarget(name: "FuzzTenantsFile", dependencies: ["SandboxProtocol", "SandboxServer"]),
    ]
)

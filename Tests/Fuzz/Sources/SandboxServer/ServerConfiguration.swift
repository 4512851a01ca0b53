import SandboxProtocol

/// The fuzz package's stand-in for sandboxd's `ServerConfiguration`
/// (Sources/SandboxServer/ServerConfiguration.swift, which needs the whole
/// server): the fields `RunAdmission` reads, with the same defaults. A
/// field `RunAdmission` comes to read that is missing here fails the fuzz
/// build, which CI's FuzzTargetTests runs.
struct ServerConfiguration: Sendable {
    var timeoutMs = LimitPair(default: 10_000, max: 60_000)
    var memoryMb = LimitPair(default: 256, max: 1024)
    var maxOutputBytes = LimitPair(default: 1 << 20, max: 16 << 20)
    var cpuTimeMs = LimitPair(default: 10_000, max: 60_000)
    var maxCodeBytes = 1 << 20
    var maxTests = 1000
    var maxDisplayBytes = 4 << 20
    var maxReturnBytes = 8 << 20
}

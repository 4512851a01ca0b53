/// The fuzz package's stand-in for SandboxRuntime's `Interpreter`
/// (Sources/SandboxRuntime/Setup/Interpreter.swift, which needs the
/// scientific stack and its logger): `PackageStoreConfiguration` only holds
/// one, and `PackageAllowList`, beside it, is what the fuzz target parses.
public struct Interpreter: Sendable, Equatable {}

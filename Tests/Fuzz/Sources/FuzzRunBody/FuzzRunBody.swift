import SandboxProtocol
import SandboxRuntime
@testable import SandboxServer

/// `POST /v1/run`'s body as the service reads it: `RunBody.params`, then
/// `RunAdmission` against the default limits. What is admitted is within
/// the server's maxima and passes the request's own checks.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRunBody(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let body = Array(UnsafeRawBufferPointer(start: start, count: count))
    let configuration = ServerConfiguration()
    let admitted: RunAdmission.Admitted
    do throws(RPCError) {
        admitted = try RunAdmission(configuration: configuration).admit(RunBody.params(body))
    } catch {
        return 0
    }
    let limits = admitted.request.limits
    guard limits.timeout <= .milliseconds(configuration.timeoutMs.max),
          limits.timeout >= .milliseconds(RunParams.minimumTimeoutMs),
          limits.memoryBytes <= configuration.memoryMb.max << 20, limits.memoryBytes >= RunParams.minimumMemoryMb << 20,
          limits.maxOutputBytes <= configuration.maxOutputBytes.max, limits.maxOutputBytes >= 0,
          let cpuTime = limits.cpuTime, cpuTime <= .milliseconds(configuration.cpuTimeMs.max),
          cpuTime >= .milliseconds(RunParams.minimumCpuTimeMs),
          admitted.request.code.utf8.count <= configuration.maxCodeBytes,
          admitted.tests.count <= configuration.maxTests
    else { fatalError("admitted beyond the server's limits: \(limits), \(admitted.tests.count) tests") }
    // Tests give each test its stdin and bring back no files: never with the run's own.
    if !admitted.tests.isEmpty, admitted.request.stdin != .none || !admitted.request.returnFiles.isEmpty {
        fatalError("admitted tests with stdin or returnFiles")
    }
    do {
        try admitted.request.validate()
    } catch {
        fatalError("admitted a request that does not validate: \(error)")
    }
    return 0
}

import SandboxProtocol
@testable import SandboxServer

/// A tenants file (`--tenants`, read at start and on every SIGHUP) as
/// sandboxd reads it: `TenantsFile.parse` against the default maxima. What
/// it accepts holds together (names and tokens once each, counts at least
/// 1, limits within the maxima and above the protocol's minima); what it
/// refuses names a line of the file, if any, and says why, printably.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTenantsFile(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let text = Array(UnsafeRawBufferPointer(start: start, count: count))
    let maxima = TenantLimits(timeoutMs: 60_000, cpuTimeMs: 60_000, memoryMb: 1024, maxOutputBytes: 16 << 20)
    let tenants: [Tenant]
    do throws(TenantsFile.Problem) {
        tenants = try TenantsFile.parse(text, file: "tenants.json", serverMaxima: maxima)
    } catch {
        let lines = text.reduce(1) { $1 == UInt8(ascii: "\n") ? $0 + 1 : $0 }
        if let line = error.line, !(1...lines).contains(line) { fatalError("a problem on line \(line) of \(lines): \(error)") }
        guard !error.reason.isEmpty, !error.reason.unicodeScalars.contains(where: { $0.value < 0x20 && $0 != "\t" }) else {
            fatalError("an empty or unprintable reason: \(error.reason.debugDescription)")
        }
        return 0
    }
    guard tenants.count <= TenantsFile.maxTenants else { fatalError("\(tenants.count) tenants accepted") }
    guard Set(tenants.map(\.name)).count == tenants.count else { fatalError("a name accepted twice") }
    let digests = tenants.flatMap(\.tokenDigests)
    guard Set(digests).count == digests.count else { fatalError("a token accepted twice") }
    for tenant in tenants {
        guard !tenant.name.isEmpty, !tenant.tokenDigests.isEmpty else { fatalError("tenant \(tenant.name) without a name or token") }
        for count in [tenant.maxConcurrentRuns, tenant.maxQueuedRuns, tenant.runsPerMinute, tenant.maxSessions, tenant.cpuSecondsPerDay].compactMap({ $0 })
        where count < 1 {
            fatalError("tenant \(tenant.name): a count of \(count)")
        }
        let limits = tenant.limits
        for (value, most) in [(limits.timeoutMs, maxima.timeoutMs), (limits.cpuTimeMs, maxima.cpuTimeMs),
                              (limits.memoryMb, maxima.memoryMb), (limits.maxOutputBytes, maxima.maxOutputBytes)] {
            if let value, let most, value > most || value < 1 { fatalError("tenant \(tenant.name): a limit of \(value) beyond \(most)") }
        }
        if let memory = limits.memoryMb, memory < RunParams.minimumMemoryMb { fatalError("memoryMb \(memory) below the minimum") }
    }
    return 0
}

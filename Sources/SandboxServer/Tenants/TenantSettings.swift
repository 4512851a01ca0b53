import SandboxProtocol

extension ServerConfiguration {
    /// The server's settings as `tenant` sees them: its maxima lower the
    /// server's, and a default above a lowered maximum comes down to it.
    func limited(to tenant: Tenant) -> ServerConfiguration {
        var limited = self
        func lower(_ pair: inout LimitPair, to most: Int?) {
            guard let most, most < pair.max else { return }
            pair.max = most
            pair.default = min(pair.default, most)
        }
        lower(&limited.timeoutMs, to: tenant.limits.timeoutMs)
        lower(&limited.cpuTimeMs, to: tenant.limits.cpuTimeMs)
        lower(&limited.memoryMb, to: tenant.limits.memoryMb)
        lower(&limited.maxOutputBytes, to: tenant.limits.maxOutputBytes)
        return limited
    }

    /// The server's maxima, which a tenant's `limits` may lower and not raise.
    public var tenantMaxima: TenantLimits {
        TenantLimits(timeoutMs: timeoutMs.max, cpuTimeMs: cpuTimeMs.max, memoryMb: memoryMb.max, maxOutputBytes: maxOutputBytes.max)
    }
}

extension ServerState {
    /// How runs of `tenant` are admitted: the server's checks within its maxima.
    func admission(for tenant: Tenant) -> RunAdmission {
        tenant.limits == TenantLimits()
            ? admission : RunAdmission(configuration: configuration.limited(to: tenant), wantsPreload: admission.wantsPreload)
    }

    /// The `initialize` result (and `GET /v1/info`) as `tenant` is served.
    func info(for tenant: Tenant) -> InitializeResult {
        var info = info
        let limits = configuration.limited(to: tenant).advertisedLimits
        info.limits.timeoutMs = limits.timeoutMs
        info.limits.memoryMb = limits.memoryMb
        info.limits.maxOutputBytes = limits.maxOutputBytes
        info.limits.cpuTimeMs = limits.cpuTimeMs
        return info
    }
}

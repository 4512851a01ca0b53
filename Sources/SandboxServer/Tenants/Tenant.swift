import SandboxProtocol

/// Who holds a key (`--tenants`): its own maxima, run rate, concurrency,
/// sessions and daily CPU quota. A client is a tenant's by the token it
/// presents; `--token` and `--token-file` make one tenant, `default`.
public struct Tenant: Sendable, Equatable {
    public var name: String
    /// SHA-256 of each of its tokens: the service keeps no token itself.
    public var tokenDigests: [TokenDigest]
    /// Runs of it queued for or holding a worker at once; more wait in its lane of the fair queue.
    public var maxConcurrentRuns: Int?
    /// Runs of it waiting in the queue at once; nil: the server's share for
    /// each tenant (half the queue), so that no tenant fills it for the others.
    public var maxQueuedRuns: Int?
    public var runsPerMinute: Int?
    /// Sessions of it open at once, over every connection and node-local MCP client.
    public var maxSessions: Int?
    /// CPU seconds its runs may use per UTC day (sessions' runs included).
    public var cpuSecondsPerDay: Int?
    public var packages: PackageAllowance
    /// Its maxima, each at most the server's (`--max-timeout-ms`, ...).
    public var limits: TenantLimits

    public init(
        name: String, tokenDigests: [TokenDigest], maxConcurrentRuns: Int? = nil, maxQueuedRuns: Int? = nil, runsPerMinute: Int? = nil,
        maxSessions: Int? = nil, cpuSecondsPerDay: Int? = nil, packages: PackageAllowance = .any, limits: TenantLimits = TenantLimits()
    ) {
        self.name = name
        self.tokenDigests = tokenDigests
        self.maxConcurrentRuns = maxConcurrentRuns
        self.maxQueuedRuns = maxQueuedRuns
        self.runsPerMinute = runsPerMinute
        self.maxSessions = maxSessions
        self.cpuSecondsPerDay = cpuSecondsPerDay
        self.packages = packages
        self.limits = limits
    }

    /// The one tenant of a service configured with `--token`/`--token-file` (or with none).
    public static let defaultName = "default"
}

/// Which package sets a tenant's runs may name.
public enum PackageAllowance: Sendable, Equatable {
    /// Whatever the server allows.
    case any
    case none
    /// These distributions only (normalized names, as PEP 503 has them).
    case only(Set<String>)

    public func allows(_ name: String) -> Bool {
        switch self {
        case .any: true
        case .none: false
        case .only(let names): names.contains(PackageRequirement.normalize(name))
        }
    }
}

/// A tenant's maxima; nil keeps the server's.
public struct TenantLimits: Sendable, Equatable {
    public var timeoutMs: Int?
    public var cpuTimeMs: Int?
    public var memoryMb: Int?
    public var maxOutputBytes: Int?

    public init(timeoutMs: Int? = nil, cpuTimeMs: Int? = nil, memoryMb: Int? = nil, maxOutputBytes: Int? = nil) {
        self.timeoutMs = timeoutMs
        self.cpuTimeMs = cpuTimeMs
        self.memoryMb = memoryMb
        self.maxOutputBytes = maxOutputBytes
    }
}

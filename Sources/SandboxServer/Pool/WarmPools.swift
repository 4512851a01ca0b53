import Logging
import SandboxRuntime

/// The warm pools of a server: plain sandboxes for most runs and, when the
/// provider preloads modules, one forked from a preloading fork server
/// (`RunLimits.usesPreload`): such a fork takes several milliseconds more,
/// which a warm one spends before its run arrives rather than during it.
struct WarmPools: Sendable {
    let plain: WarmPool
    let preloaded: WarmPool?
    /// One warm sandbox each for the package sets named lately.
    let packageSets: LayerWarmPools?

    init(
        provider: any SandboxProvider, limits: RunLimits, target: Int, logger: Logger, metrics: ServerMetrics,
        packageStore: PackageStore? = nil
    ) {
        plain = WarmPool(provider: provider, limits: limits, target: target, logger: logger, metrics: metrics)
        packageSets = packageStore.flatMap { store in
            target == 0 ? nil : LayerWarmPools(store: store, warmLimits: limits) { launch in
                WarmPool(provider: provider, limits: launch, target: 1, logger: logger, metrics: metrics, reportsReady: false)
            }
        }
        var preloadedLimits = limits
        preloadedLimits.usesPreload = true
        preloaded = provider.preload.isEmpty || target == 0
            ? nil
            : WarmPool(provider: provider, limits: preloadedLimits, target: 1, logger: logger, metrics: metrics, reportsReady: false)
    }

    init(plain: WarmPool, preloaded: WarmPool? = nil) {
        self.plain = plain
        self.preloaded = preloaded
        packageSets = nil
    }

    /// The pool whose sandboxes fit `limits` best.
    func pool(for limits: RunLimits) async -> WarmPool {
        if limits.packageLayer != nil, let pool = await packageSets?.pool(for: limits) { return pool }
        return limits.usesPreload ? preloaded ?? plain : plain
    }

    var all: [WarmPool] { [plain] + (preloaded.map { [$0] } ?? []) }
}

import Logging
import SandboxRuntime

/// The warm pools of a server: plain sandboxes for most runs and, when the
/// provider preloads modules, one forked from a preloading fork server
/// (`RunLimits.usesPreload`): such a fork takes several milliseconds more,
/// which a warm one spends before its run arrives rather than during it.
struct WarmPools: Sendable {
    let plain: WarmPool
    let preloaded: WarmPool?

    init(provider: any SandboxProvider, limits: RunLimits, target: Int, logger: Logger, metrics: ServerMetrics) {
        plain = WarmPool(provider: provider, limits: limits, target: target, logger: logger, metrics: metrics)
        var preloadedLimits = limits
        preloadedLimits.usesPreload = true
        preloaded = provider.preload.isEmpty || target == 0
            ? nil
            : WarmPool(provider: provider, limits: preloadedLimits, target: 1, logger: logger, metrics: metrics, reportsReady: false)
    }

    init(plain: WarmPool, preloaded: WarmPool? = nil) {
        self.plain = plain
        self.preloaded = preloaded
    }

    /// The pool whose sandboxes fit `limits` best.
    func pool(for limits: RunLimits) -> WarmPool {
        limits.usesPreload ? preloaded ?? plain : plain
    }

    var all: [WarmPool] { [plain] + (preloaded.map { [$0] } ?? []) }
}

import Hummingbird
import HummingbirdWebSocket
import Logging
import SandboxProtocol
import SandboxRuntime
import ServiceLifecycle
import UnixSignals

/// sandboxd: protocol v1 over WebSocket and HTTP on one port, a fair run
/// queue, and a pool of warm sandboxes.
public struct SandboxServer: Sendable {
    public static let name = "sandboxd"

    public let configuration: ServerConfiguration
    /// Where runs get their sandboxes: `Sandbox` (the C launcher) in sandboxd.
    public let provider: any SandboxProvider
    /// Where package sets are installed; nil: packages are off.
    public let packageStore: PackageStore?
    /// The `--preload-packages` sets, held for the server's life.
    private let preloadedSets: [PackageLease]
    /// Where tenants' usage lasts (`--state`).
    public let usageStore: any UsageStore
    private let logger: Logger

    /// Checks the configuration, that its address can be listened on, and
    /// that this machine can sandbox at all; throws `ConfigurationError`,
    /// `ListenError` or `SandboxUnavailable` saying what is wrong.
    public static func prepare(_ configuration: ServerConfiguration, logger: Logger) async throws -> SandboxServer {
        try configuration.validate()
        // Before any sandbox starts, so that a port in use is the only thing said.
        try ListenAddress.check(host: configuration.host, port: configuration.port)
        var options = configuration.sandbox
        // Every run and warm sandbox holds a fork server, and a run's is given
        // back just after its verdict: room for those, and two more.
        options.maxForkServers = options.maxForkServers ?? configuration.workers + configuration.warmSandboxes + 2
        options.maxSessions = options.maxSessions ?? configuration.maxSessions
        let usageStore: any UsageStore
        do {
            usageStore = try configuration.state.open()
        } catch {
            throw ConfigurationError(message: "--state \(configuration.state): \(error)")
        }
        let sandbox = try await Sandbox.prepare(options, logger: logger)
        let store = try await openPackageStore(configuration.packages, interpreter: sandbox.interpreter, logger: logger)
        var preloaded: [PackageLease] = []
        if let store {
            for texts in configuration.packages.preloadSets {
                do {
                    let lease = try await store.lease(try PackageRequirementSet(parsing: texts, limits: store.configuration.limits.requirements))
                    sandbox.preloadPackages(lease.layer)
                    preloaded.append(lease)
                    logger.info("package set preloaded", metadata: [
                        "set": "\(texts)", "modules": "\(lease.layer.importNames.joined(separator: ","))",
                    ])
                } catch {
                    throw ConfigurationError(message: "--preload-packages \(texts.joined(separator: ",")): \(error)")
                }
            }
        }
        return SandboxServer(
            configuration: configuration, provider: sandbox, packageStore: store, preloadedSets: preloaded, usageStore: usageStore,
            logger: logger)
    }

    /// A server on a provider of its own choosing (tests use a fake); `configuration` must be valid.
    public init(
        configuration: ServerConfiguration, provider: any SandboxProvider, packageStore: PackageStore? = nil,
        usageStore: any UsageStore = MemoryUsageStore(), logger: Logger
    ) {
        self.init(
            configuration: configuration, provider: provider, packageStore: packageStore, preloadedSets: [], usageStore: usageStore,
            logger: logger)
    }

    private init(
        configuration: ServerConfiguration, provider: any SandboxProvider, packageStore: PackageStore?, preloadedSets: [PackageLease],
        usageStore: any UsageStore, logger: Logger
    ) {
        self.configuration = configuration
        self.provider = provider
        self.packageStore = packageStore
        self.preloadedSets = preloadedSets
        self.usageStore = usageStore
        self.logger = logger
    }

    /// The package store, or nil when packages are off: by the operator's
    /// choice, or because none can be kept here and the operator asked for
    /// nothing about packages (said in the log). With fork isolation only
    /// is a layer bound into fork servers; exec binds it per run.
    private static func openPackageStore(
        _ settings: PackageSettings, interpreter: Interpreter, logger: Logger
    ) async throws -> PackageStore? {
        guard settings.enabled else { return nil }
        do throws(PackageError) {
            let store = try await PackageStore(configuration: settings.storeConfiguration(interpreter: interpreter).get(), logger: logger)
            let layers = await store.layers.count
            logger.info("packages on", metadata: [
                "store": "\(store.configuration.directory)", "source": "\(store.configuration.source)", "layers": "\(layers)",
            ])
            return store
        } catch {
            guard !settings.explicitlyConfigured else {
                throw ConfigurationError(message: "packages: \(error) (or --packages none)")
            }
            logger.warning("packages off: runs that name packages are refused", metadata: ["reason": "\(error)"])
            return nil
        }
    }

    /// Serves until a signal in `gracefulShutdownSignals` (then drains and
    /// returns) or until cancelled. `onListening` gets the bound port.
    /// Throws `ListenError` when the address cannot be bound.
    public func run(
        gracefulShutdownSignals: [UnixSignal] = [],
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) async throws {
        let node = configuration.resolvedNodeName
        var logger = logger
        logger[metadataKey: "node"] = "\(node)"
        let metrics = ServerMetrics(node: node)
        let pools = WarmPools(
            provider: provider, limits: RunAdmission.warmLimits(configuration), target: configuration.warmSandboxes,
            logger: logger, metrics: metrics, packageStore: packageStore)
        let scheduler = RunScheduler(
            workers: configuration.workers, capacity: configuration.queueCapacity,
            // With tenants, none fills the queue for the others (a tenant's `maxQueuedRuns` says otherwise).
            tenantShare: configuration.access.tenants == nil ? nil : max(1, (configuration.queueCapacity + 1) / 2),
            executor: RunExecutor(
                pools: pools, pip: packageStore.map { PipInstaller(store: $0, logger: logger) }, logger: logger,
                testsBudget: .milliseconds(configuration.timeoutMs.max)),
            metrics: metrics)
        let limits = ClientLimits(.init(
            maxConnections: configuration.maxConnections, maxConnectionsPerAddress: configuration.maxConnectionsPerAddress,
            runsPerMinute: configuration.runsPerMinute))
        let packages = PackageService(store: packageStore, scheduler: scheduler, logger: logger)
        // The preloaded sets' warm sandboxes start with the others.
        for lease in preloadedSets {
            var limits = RunAdmission.warmLimits(configuration)
            limits.packageLayer = lease.layer
            _ = await pools.packageSets?.pool(for: limits)
        }
        let sessions = SessionService(
            provider: provider, configuration: configuration, scheduler: scheduler, packages: packages, metrics: metrics,
            logger: logger)
        let audit = try configuration.auditLog.map { destination throws(ConfigurationError) in
            try AuditLog(destination, node: node, metrics: metrics, logger: logger)
        }
        let accounts = TenantAccounts()
        let tenantBook = configuration.access.tenants.map(TenantBook.init)
        // Before the first run: a quota spent before a restart stays spent.
        try await UsageRecorder.load(usageStore, into: accounts)
        let state = ServerState(
            configuration: configuration, scheduler: scheduler,
            admission: RunAdmission(configuration: configuration) { [provider] in provider.wantsPreload($0) },
            info: info, limits: limits, metrics: metrics, sessions: sessions, packages: packages, accounts: accounts, tenants: tenantBook,
            audit: audit, logger: logger)
        logger.info("tenants' usage", metadata: ["store": "\(usageStore.name)"])

        // Access is checked on both routers: the WebSocket one decides the
        // upgrade; a request it does not upgrade is answered by the HTTP one.
        var policy = configuration.access
        policy.listenHost = configuration.host
        policy.book = tenantBook
        let access = AccessMiddleware(policy: policy, metrics: metrics)
        let clientAddress = ClientAddressMiddleware(proxies: try TrustedProxies(configuration.trustedProxies))
        let router = Router(context: SandboxRequestContext.self)
        router.add(middleware: clientAddress)
        router.add(middleware: access)
        WebEditor.install(
            on: router, configuration: configuration, tokenCookie: TokenCookieMiddleware(policy: policy, metrics: metrics), logger: logger)
        HTTPEndpoints.install(on: router, server: state)
        let mcp = MCPEndpoint.install(on: router, server: state)
        let webSocketRouter = Router(context: SandboxRequestContext.self)
        webSocketRouter.add(middleware: clientAddress)
        webSocketRouter.add(middleware: access)
        WebSocketEndpoint.install(on: webSocketRouter, server: state)
        let host = configuration.host
        let app = Application(
            router: router,
            server: .http1WebSocketUpgrade(
                webSocketRouter: webSocketRouter,
                configuration: .init(ws: .init(maxFrameSize: configuration.maxMessageBytes, validateUTF8: true))),
            configuration: .init(address: .hostname(host, port: configuration.port), serverName: nil),
            onServerRunning: { [logger] channel in
                let port = channel.localAddress?.port ?? 0
                logger.info("sandboxd listening", metadata: ["url": "http://\(host):\(port)/", "websocket": "ws://\(host):\(port)/v1/ws"])
                await onListening(port)
            },
            logger: logger)
        // Shut down in reverse: runs drain first while connections stay open,
        // then the pool, then package installs still under way (their runs
        // are refused), then sessions (whose clients hear it), then the MCP
        // clients, then HTTP, then the last usage and audit lines are
        // written, and last the provider, once every sandbox has ended.
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: provider)]
        if let audit { services.append(.init(service: audit)) }
        if let tenantBook, let file = configuration.tenantsFile {
            services.append(.init(service: TenantsReloader(
                book: tenantBook, file: file, serverMaxima: configuration.tenantMaxima, accounts: accounts, metrics: metrics,
                logger: logger)))
        }
        let group = ServiceGroup(configuration: .init(
            services: services + [
                .init(service: UsageRecorder(
                    accounts: accounts, store: usageStore, interval: configuration.usageWriteInterval, metrics: metrics, logger: logger)),
                .init(service: app),
                .init(service: mcp),
                .init(service: sessions),
                .init(service: packages),
                .init(service: PoolService(pools: pools)),
                .init(service: SchedulerService(scheduler: scheduler, grace: configuration.shutdownGrace)),
                .init(service: HeapTrimService(interval: .seconds(30), logger: logger)),
            ],
            gracefulShutdownSignals: gracefulShutdownSignals,
            logger: logger))
        do {
            try await group.run()
        } catch {
            // Taken since prepare checked it: said as prepare says it.
            throw ListenError(error, host: host, port: configuration.port) ?? error
        }
    }

    /// The `initialize` result, also `GET /v1/info`.
    public var info: InitializeResult {
        let limits = configuration.advertisedLimits
        var info = InitializeResult(
            serverInfo: .init(name: Self.name, version: PySandbox.version, node: configuration.resolvedNodeName),
            python: .init(version: provider.pythonVersion),
            limits: .init(
                timeoutMs: limits.timeoutMs, memoryMb: limits.memoryMb, maxOutputBytes: limits.maxOutputBytes,
                cpuTimeMs: limits.cpuTimeMs,
                maxCodeBytes: configuration.maxCodeBytes,
                maxMessageBytes: configuration.maxMessageBytes,
                maxInFlight: configuration.maxInFlight,
                runsPerMinute: configuration.runsPerMinute,
                idleTimeoutMs: Int(configuration.idleTimeout / .milliseconds(1)),
                maxDisplayBytes: configuration.maxDisplayBytes, maxReturnBytes: configuration.maxReturnBytes))
        info.limits.assist = CodeAssistant.advertised(configuration)
        info.limits.maxTests = configuration.maxTests
        info.capabilities.cgroups = provider.cgroupsActive
        info.capabilities.packages = packageStore != nil
        if let packageStore {
            var settings = configuration.packages
            settings.limits = packageStore.configuration.limits
            info.limits.packages = settings.advertised
        }
        info.capabilities.sessions = provider.offersSessions
        if provider.offersSessions {
            let idle = configuration.sessionIdleTimeoutMs
            info.limits.sessions = .init(
                maxPerConnection: configuration.maxSessionsPerConnection, maxTotal: configuration.maxSessions,
                maxPerClient: configuration.sessionsPerClient,
                reclaimAfterMs: Int(configuration.sessionReclaimAfter / .milliseconds(1)),
                idleTimeoutMs: LimitPair(default: idle.default, max: idle.max, min: SessionOpenParams.minimumIdleTimeoutMs),
                cpuTimeMs: configuration.sessionCpuTimeMs,
                interruptGraceMs: Int(configuration.sessionInterruptGrace / .milliseconds(1)))
            info.limits.sessions?.maxFileReadBytes = configuration.maxReturnBytes
            info.limits.sessions?.maxListEntries = SessionFilesRequest.maxEntries
            info.limits.sessions?.maxForkBytes = SessionForking.maxStateBytes
            info.capabilities.sessionFork = true
            info.capabilities.sessionFiles = true
        }
        return info
    }
}

/// Runs the scheduler; at graceful shutdown drains it within the grace
/// period. Cancelled, it cancels every run at once (the scheduler's tasks
/// are cancelled with this one).
private struct SchedulerService: Service {
    let scheduler: RunScheduler
    let grace: Duration

    func run() async throws {
        async let scheduling: Void = scheduler.run()
        let graceful = (try? await gracefulShutdown()) != nil
        await scheduler.shutDown(grace: graceful ? grace : .zero)
        await scheduling
    }
}

/// Runs the warm pools until shutdown, then discards their sandboxes.
private struct PoolService: Service {
    let pools: WarmPools

    func run() async throws {
        await withDiscardingTaskGroup { group in
            for pool in pools.all { group.addTask { await pool.run() } }
            if let packageSets = pools.packageSets { group.addTask { await packageSets.run() } }
            try? await gracefulShutdown()
            for pool in pools.all { await pool.stop() }
            await pools.packageSets?.stop()
        }
    }
}

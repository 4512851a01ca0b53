/// `initialize`'s result, also `GET /v1/info`.
public struct InitializeResult: Sendable, Equatable, Codable {
    public struct ServerInfo: Sendable, Equatable, Codable {
        public var name: String
        public var version: String
        /// Which node of a cluster answered (`--node-name`); absent from servers before 0.6.0.
        public var node: String?
        public init(name: String, version: String, node: String? = nil) {
            self.name = name
            self.version = version
            self.node = node
        }
    }

    public struct Python: Sendable, Equatable, Codable {
        public var version: String
        public init(version: String) { self.version = version }
    }

    public struct Limits: Sendable, Equatable, Codable {
        public var timeoutMs: LimitPair
        public var memoryMb: LimitPair
        public var maxOutputBytes: LimitPair
        /// CPU time of all the run's processes together, ms.
        /// Absent from servers before 0.5.0, which take no `cpuTimeMs`.
        public var cpuTimeMs: LimitPair?
        public var maxCodeBytes: Int
        public var maxMessageBytes: Int
        public var maxInFlight: Int
        /// Runs a connection may start per minute (bursts up to this many); beyond: error -32004.
        public var runsPerMinute: Int
        /// A connection silent this long with no run in flight is closed.
        public var idleTimeoutMs: Int
        /// Largest display (its MIME bundle as JSON), bytes; absent from servers before 0.7.0.
        public var maxDisplayBytes: Int?
        /// Most bytes of files one run's `returnFiles` brings back; absent from servers before 0.7.0.
        public var maxReturnBytes: Int?
        /// Sessions (`session/open`); absent from servers before 0.8.0.
        public var sessions: Sessions?
        /// What `packages` may ask for; absent when packages are off, and from servers before 0.11.0.
        public var packages: Packages?
        /// `code/complete`, `code/inspect` and `code/isComplete`; absent from servers before 0.13.0.
        public var assist: Assist?
        /// The most `tests` one run may have; absent from servers before 0.16.0.
        public var maxTests: Int?
        public init(
            timeoutMs: LimitPair, memoryMb: LimitPair, maxOutputBytes: LimitPair, cpuTimeMs: LimitPair?, maxCodeBytes: Int, maxMessageBytes: Int,
            maxInFlight: Int, runsPerMinute: Int, idleTimeoutMs: Int, maxDisplayBytes: Int? = nil, maxReturnBytes: Int? = nil
        ) {
            self.maxDisplayBytes = maxDisplayBytes
            self.maxReturnBytes = maxReturnBytes
            self.runsPerMinute = runsPerMinute
            self.idleTimeoutMs = idleTimeoutMs
            self.timeoutMs = timeoutMs
            self.memoryMb = memoryMb
            self.maxOutputBytes = maxOutputBytes
            self.cpuTimeMs = cpuTimeMs
            self.maxCodeBytes = maxCodeBytes
            self.maxMessageBytes = maxMessageBytes
            self.maxInFlight = maxInFlight
        }
    }

    /// What `session/open` may ask for and how many sessions may be open.
    public struct Sessions: Sendable, Equatable, Codable {
        /// Sessions one connection may have open at once.
        public var maxPerConnection: Int
        /// Sessions the server holds open at once, for all connections.
        public var maxTotal: Int
        /// Sessions one client (address) may hold over all its connections;
        /// absent from earlier servers.
        public var maxPerClient: Int?
        /// When every place is taken, a session with no run this long may
        /// give its place to a client holding fewer (`reclaimed`); absent
        /// from earlier servers.
        public var reclaimAfterMs: Int?
        /// A session with no run this long ends (`idleTimeout`).
        public var idleTimeoutMs: LimitPair
        /// CPU time of a session's processes over its whole life.
        public var cpuTimeMs: Int
        /// After a cancel or a limit, how long an interrupted run may take to
        /// stop before its session is killed.
        public var interruptGraceMs: Int
        /// `session/files/read`'s largest file, and `session/files/list`'s most
        /// entries; absent from servers before 0.13.0.
        public var maxFileReadBytes: Int?
        public var maxListEntries: Int?
        /// `session/fork`'s largest state (names and files, as they travel);
        /// absent from servers before 0.13.0.
        public var maxForkBytes: Int?

        public init(
            maxPerConnection: Int, maxTotal: Int, maxPerClient: Int? = nil, reclaimAfterMs: Int? = nil, idleTimeoutMs: LimitPair,
            cpuTimeMs: Int, interruptGraceMs: Int
        ) {
            self.maxPerConnection = maxPerConnection
            self.maxTotal = maxTotal
            self.maxPerClient = maxPerClient
            self.reclaimAfterMs = reclaimAfterMs
            self.idleTimeoutMs = idleTimeoutMs
            self.cpuTimeMs = cpuTimeMs
            self.interruptGraceMs = interruptGraceMs
        }
    }

    /// The bounds of `code/complete`, `code/inspect` and `code/isComplete`.
    public struct Assist: Sendable, Equatable, Codable {
        /// How long a session's lookups may take before their fork is killed.
        public var timeoutMs: Int
        /// Requests of the three one connection may start per minute (apart from runs).
        public var perMinute: Int
        /// Most matches one completion returns.
        public var maxMatches: Int

        public init(timeoutMs: Int, perMinute: Int, maxMatches: Int) {
            self.timeoutMs = timeoutMs
            self.perMinute = perMinute
            self.maxMatches = maxMatches
        }
    }

    /// What `run`'s and `session/open`'s `packages` may ask for.
    public struct Packages: Sendable, Equatable, Codable {
        /// Requirements in one `packages` list.
        public var maxRequirements: Int
        /// Characters of one requirement.
        public var maxRequirementLength: Int
        /// Packages one resolved set may install, dependencies included.
        public var maxPackagesPerSet: Int
        /// One installed set on disk, MiB.
        public var maxSetMb: Int
        /// Resolving and installing one set, ms.
        public var installTimeoutMs: Int
        /// Where packages come from: `index` (PyPI or the operator's) or `wheels` (a folder, no network).
        public var source: String
        /// The names that may be asked for; absent: any.
        public var allowed: [String]?

        public init(
            maxRequirements: Int, maxRequirementLength: Int, maxPackagesPerSet: Int, maxSetMb: Int, installTimeoutMs: Int,
            source: String, allowed: [String]? = nil
        ) {
            self.maxRequirements = maxRequirements
            self.maxRequirementLength = maxRequirementLength
            self.maxPackagesPerSet = maxPackagesPerSet
            self.maxSetMb = maxSetMb
            self.installTimeoutMs = installTimeoutMs
            self.source = source
            self.allowed = allowed
        }
    }

    public struct Capabilities: Sendable, Equatable, Codable {
        public var interactive = true
        public var files = true
        public var cancel = true
        public var outputCoalesceMs = 10
        public var outputMaxMessageBytes = 65536
        /// Whether each run gets its own cgroup; without one the memory and
        /// CPU time limits are weaker. nil from servers before 0.5.0, which do not say.
        public var cgroups: Bool? = false
        /// The MIME types `run/display` may carry; absent from servers before 0.7.0, which send no displays.
        public var display: [String]? = DisplayMIME.supported
        /// `files` may carry bytes (`{"base64": …}`) and `returnFiles` is
        /// understood; absent (false) from servers before 0.7.0.
        public var binaryFiles: Bool? = true
        public var returnFiles: Bool? = true
        /// `session/open`, `session/close` and `run`'s `session`; absent
        /// (false) from servers before 0.8.0 and with `--isolation exec`.
        public var sessions: Bool? = false
        /// stdout and stderr as Python wrote them, in one order (`run/output`'s
        /// `seq`); absent (false) from servers before 0.9.0.
        public var orderedStreams: Bool? = true
        /// `run/stdinWanted`; absent (false) from servers before 0.9.0.
        public var stdinWanted: Bool? = true
        /// `packages` on `run` and `session/open`; absent (false) from
        /// servers before 0.11.0 and where the operator turned packages off.
        public var packages: Bool? = false
        /// `code/complete`, `code/inspect` and `code/isComplete`; absent
        /// (false) from servers before 0.13.0.
        public var complete: Bool? = true
        public var inspect: Bool? = true
        public var isComplete: Bool? = true
        /// `session/fork` and `session/files/*`; absent (false) from servers
        /// before 0.13.0 and with `--isolation exec`.
        public var sessionFork: Bool? = false
        public var sessionFiles: Bool? = false
        /// `run`'s `tests`; absent (false) from servers before 0.16.0.
        public var tests: Bool? = true
        public init() {}
    }

    public var protocolVersion = 1
    public var serverInfo: ServerInfo
    public var python: Python
    public var limits: Limits
    public var capabilities = Capabilities()

    public init(serverInfo: ServerInfo, python: Python, limits: Limits) {
        self.serverInfo = serverInfo
        self.python = python
        self.limits = limits
    }
}

/// The WebSocket subprotocol of v1.
public let webSocketSubprotocol = "pysandbox.v1"

/// `initialize` params: all optional; unknown members are refused, in
/// `clientInfo` too, and `clientInfo: null` counts as absent.
public struct InitializeParams: Sendable, Equatable {
    public struct ClientInfo: Sendable, Equatable {
        public var name: String
        public var version: String
    }

    public var clientInfo: ClientInfo?

    public init(params: [String: JSONValue]) throws(RPCError) {
        if let unknown = params.keys.sorted().first(where: { $0 != "clientInfo" }) {
            throw .invalidParams("unknown field '\(unknown)'")
        }
        guard let value = params["clientInfo"], value != .null else { return }
        guard case .object(let members) = value else {
            throw .invalidParams("clientInfo: must be an object, not \(value.typeName)")
        }
        if let unknown = members.keys.sorted().first(where: { $0 != "name" && $0 != "version" }) {
            throw .invalidParams("unknown field 'clientInfo.\(unknown)'")
        }
        func string(_ name: String) throws(RPCError) -> String {
            guard let member = members[name], member != .null else {
                throw .invalidParams("clientInfo.\(name): required string missing")
            }
            guard case .string(let text) = member else {
                throw .invalidParams("clientInfo.\(name): must be a string, not \(member.typeName)")
            }
            return text
        }
        clientInfo = ClientInfo(name: try string("name"), version: try string("version"))
    }
}

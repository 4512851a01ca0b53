import SandboxProtocol
import SandboxRuntime

/// Checks `run` params against the server's limits and turns them into a
/// sandbox request. Every refusal is an `RPCError` that says what was wrong.
struct RunAdmission: Sendable {
    let configuration: ServerConfiguration
    /// Which runs are forked from a fork server that preloaded what they import.
    let wantsPreload: @Sendable (RunRequest) -> Bool

    init(configuration: ServerConfiguration, wantsPreload: @escaping @Sendable (RunRequest) -> Bool = { _ in false }) {
        self.configuration = configuration
        self.wantsPreload = wantsPreload
    }

    struct Admitted: Sendable {
        var request: RunRequest
        var initialStdin: [UInt8]?
        /// Inputs to run the program against, each in a sandbox of its own; empty for a plain run.
        var tests: [RunTest] = []
    }

    /// A session's run: its memory is the session's, and it needs no preloading fork server.
    func admitToSession(_ params: RunParams) throws(RPCError) -> Admitted {
        if params.memoryMb != nil {
            throw .invalidParams("memoryMb: a session's runs share its memory (session/open)")
        }
        if params.tests != nil {
            throw .invalidParams("tests: each test runs in a fresh sandbox, not in a session (leave out session)")
        }
        var admitted = try admit(params)
        admitted.request.limits.usesPreload = false
        return admitted
    }

    func admit(_ params: RunParams) throws(RPCError) -> Admitted {
        let codeBytes = params.code.utf8.count
        guard codeBytes <= configuration.maxCodeBytes else {
            throw RPCError(
                .codeTooLarge, "\(codeBytes) bytes, the limit is \(configuration.maxCodeBytes)",
                data: .object(["maxCodeBytes": .integer(Int64(configuration.maxCodeBytes))]))
        }
        var limits = RunLimits()
        limits.timeout = .milliseconds(try value("timeoutMs", params.timeoutMs, configuration.timeoutMs))
        limits.memoryBytes = try value("memoryMb", params.memoryMb, configuration.memoryMb) << 20
        limits.maxOutputBytes = try value("maxOutputBytes", params.maxOutputBytes, configuration.maxOutputBytes)
        limits.cpuTime = .milliseconds(try value("cpuTimeMs", params.cpuTimeMs, configuration.cpuTimeMs))
        limits.maxDisplayBytes = configuration.maxDisplayBytes
        limits.maxReturnBytes = configuration.maxReturnBytes
        let interactive = params.interactive ?? false
        let stdinBytes = params.stdin.map { Array($0.utf8) }
        let stdin: RunRequest.Stdin = interactive ? .interactive : stdinBytes.map(RunRequest.Stdin.bytes) ?? .none
        var request = RunRequest(
            code: params.code, stdin: stdin, files: (params.files ?? [:]).mapValues(\.bytes),
            returnFiles: params.returnFiles ?? [], limits: limits)
        do {
            try request.validate()
        } catch {
            throw .invalidParams(error.message)
        }
        request.limits.usesPreload = wantsPreload(request)
        return Admitted(request: request, initialStdin: interactive ? stdinBytes : nil, tests: try tests(params))
    }

    /// A run's tests: within `--max-tests`, and with nothing that needs one run's own streams or files.
    private func tests(_ params: RunParams) throws(RPCError) -> [RunTest] {
        guard let tests = params.tests else { return [] }
        guard tests.count <= configuration.maxTests else {
            throw .invalidParams("tests: \(tests.count) tests, the limit is \(configuration.maxTests)")
        }
        for (field, given) in [("stdin", params.stdin != nil), ("interactive", params.interactive == true), ("returnFiles", params.returnFiles != nil)] where given {
            throw .invalidParams("\(field): not with tests (each test has its own stdin, and its output comes back in its result)")
        }
        return tests
    }

    private func value(_ name: String, _ requested: Int?, _ limit: LimitPair) throws(RPCError) -> Int {
        guard let requested else { return limit.default }
        guard requested <= limit.max else { throw .invalidParams("\(name): \(requested) is above the maximum \(limit.max)") }
        return requested
    }

    /// What warm sandboxes are launched with: the default memory and CPU
    /// time, so that a run asking for neither takes one.
    static func warmLimits(_ configuration: ServerConfiguration) -> RunLimits {
        var limits = RunLimits()
        limits.memoryBytes = configuration.memoryMb.default << 20
        limits.cpuTime = .milliseconds(configuration.cpuTimeMs.default)
        return limits
    }
}

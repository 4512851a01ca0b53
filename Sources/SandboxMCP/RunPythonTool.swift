import Logging
import MCP
import SandboxProtocol

/// The `run_python` tool of one MCP client: checks the arguments, picks the
/// sandbox (fresh, or one of the client's sessions), runs the code on its
/// runner and turns the outcome into the tool's result.
public struct RunPythonTool: Sendable {
    public static let name = "run_python"

    let runner: any CodeRunner
    let sessions: ClientSessions
    /// The service's: a call may ask for another text budget within its total.
    let budget: ResultBudget
    let logger: Logger

    /// `sessions`: the client's, shared with its other tools (the file tools, reset_session); a new set when nil.
    public init(runner: any CodeRunner, sessions: ClientSessions? = nil, budget: ResultBudget = .default, logger: Logger) {
        self.runner = runner
        self.sessions = sessions ?? ClientSessions(runner: runner)
        self.budget = budget
        self.logger = logger
    }

    public func call(_ arguments: [String: Value]?) async -> CallTool.Result {
        let request: RunPythonArguments
        let budget: ResultBudget
        do throws(ArgumentError) {
            request = try RunPythonArguments(arguments)
            budget = try self.budget.asked(textBytes: request.resultTextBytes)
        } catch {
            return RunReport.error("Invalid arguments: \(error.description). The code was not run.")
        }
        var params = RunParams(
            code: request.code, stdin: request.stdin, files: request.files, returnFiles: request.returnFiles,
            timeoutMs: request.timeoutMs)
        guard case .named(let name) = request.session else {
            params.tests = request.tests
            params.packages = request.packages
            params.memoryMb = request.memoryMb
            do throws(RunnerError) {
                return try await run(params, in: nil, budget: budget)
            } catch {
                return refusal(error, opening: nil)
            }
        }
        let handle: SessionHandle
        let note: String?
        do throws(RunnerError) {
            // A session's packages and memory go with session/open, never with its runs (PROTOCOL.md §4.2, §4.8).
            let wanted = ClientSessions.Wanted(packages: request.packages, memoryMb: request.memoryMb)
            switch try await sessions.session(named: name, wanting: wanted) {
            case .open(let open, let opened): (handle, note) = (open, opened)
            case .ended(let end): return Self.sessionEnded(name, end)
            case .otherPackages(let opened): return Self.otherPackages(name, opened: opened, asked: request.packages ?? [])
            case .otherMemory(let opened): return Self.otherMemory(name, opened: opened, asked: request.memoryMb ?? 0)
            }
        } catch {
            return refusal(error, opening: name)
        }
        do throws(RunnerError) {
            return try await run(params, in: handle, budget: budget, notes: note.map { [$0] } ?? [])
        } catch {
            guard let end = Self.sessionEnd(error) ?? runner.endOfSession(handle) else { return refusal(error, opening: nil) }
            await sessions.ended(name, handle: handle, because: end)
            return Self.sessionEnded(name, end)
        }
    }

    private func run(
        _ params: RunParams, in session: SessionHandle?, budget: ResultBudget, notes: [String] = []
    ) async throws(RunnerError) -> CallTool.Result {
        // Bounded as it streams: a run that prints 20 MB holds about the budget here.
        let transcript = RunTranscript(budget: budget)
        let verdict = try await runner.run(params, in: session) { transcript.record($0) }
        return RunReport.result(verdict, transcript: transcript, notes: notes)
    }

    /// Error -32007: the session ended before the run (or a file tool's request) reached it.
    static func sessionEnd(_ error: RunnerError) -> SessionEnd? {
        guard case .refused(let refusal) = error, refusal.code == RPCErrorCode.sessionEnded.rawValue else { return nil }
        if let reason = refusal.data?["reason"]?.stringValue, let known = SessionEndReason(rawValue: reason) {
            return SessionEnd(known)
        }
        return SessionEnd(reason: refusal.message)
    }

    static func sessionEnded(_ name: String, _ end: SessionEnd) -> CallTool.Result {
        RunReport.error("""
            Session '\(name)' has ended (\(end.reason)): its variables, imports and files are gone. \
            The code was not run. Call again to run it in a fresh session '\(name)' (memoryMb on that call \
            sets the new session's memory limit).
            """)
    }

    static func otherMemory(_ name: String, opened: Int, asked: Int) -> CallTool.Result {
        RunReport.error("""
            memoryMb: session '\(name)' was opened with a memory limit of \(opened) MiB, which covers all its calls \
            and is fixed when it opens; this call asks for \(asked). The code was not run. Leave memoryMb out to use \
            the session's, or name another session (or no session) to run with \(asked) MiB.
            """)
    }

    static func otherPackages(_ name: String, opened: [String]?, asked: [String]) -> CallTool.Result {
        let has = opened.map { "was opened with the packages \($0.joined(separator: ", "))" } ?? "was opened without packages"
        return RunReport.error("""
            Session '\(name)' \(has), and a session's packages are fixed when it opens; this call names \
            \(asked.joined(separator: ", ")). The code was not run. Leave packages out to use the session's, \
            or name another session (or no session) to run with these packages.
            """)
    }

    func refusal(_ error: RunnerError, opening session: String?) -> CallTool.Result {
        logger.debug("run_python did not run", metadata: ["error": "\(error)"])
        let what = session.map { "open session '\($0)'" } ?? "run the code"
        switch error {
        case .unreachable(let reason):
            return RunReport.error("The sandbox service cannot be reached, so the code was not run: \(reason)")
        case .refused(let refusal):
            var advice = ""
            switch RPCErrorCode(rawValue: refusal.code) {
            case .queueFull, .tooManyInFlight, .rateLimited: advice = " Try again in a moment."
            case .tooManySessions: advice = " Use session: true or a name already in use, or no session."
            case .shuttingDown: advice = " Try again once it is back."
            case .methodNotFound where session != nil:
                advice = " This service has no sessions (it runs with --isolation exec, or predates them); call without session."
            case .packagesUnavailable:
                advice = Self.packageAdvice(refusal)
            case .invalidParams where refusal.data?["reason"]?.stringValue == "badRequirement":
                advice = Self.packageAdvice(refusal)
            default: break
            }
            return RunReport.error("The sandbox service refused to \(what): \(refusal.message).\(advice) The code was not run.")
        case .protocolViolation(let reason):
            return RunReport.error("The sandbox service answered something unexpected, so the code did not run: \(reason)")
        case .cancelled:
            return RunReport.error("The request was cancelled; a run already started was stopped.")
        case .tooLarge(let bytes, let limit):
            return RunReport.error("""
                The call's code and files take \(RunReport.grouped(bytes)) bytes as one message to the sandbox service, \
                over its limit of \(RunReport.grouped(limit)) bytes, so the code was not run. Send smaller or fewer \
                files (compressed, say), or write them over several calls in one session (a session's files stay in \
                its /tmp).
                """)
        }
    }
}

extension RunPythonTool {
    /// For a package refusal: its reason and requirement as the service gave
    /// them (PROTOCOL.md, "Packages"), and what the agent may do about it.
    static func packageAdvice(_ refusal: RPCError) -> String {
        let reason = refusal.data?["reason"]?.stringValue
        let requirement = refusal.data?["requirement"]?.stringValue
        var said = [reason.map { "reason: \($0)" }, requirement.map { "requirement: \($0)" }].compactMap { $0 }.joined(separator: ", ")
        if !said.isEmpty { said = " (\(said))" }
        let what: String = switch reason ?? "" {
        case "badRequirement": "Give each package as a requirement string: a name, optional extras and an optional version specifier, such as \"requests\" or \"pandas>=2,<3\"."
        case "unknownPackage": "Check the name as PyPI spells it, or do without that package."
        case "noSuchVersion": "Ask for a version that exists, or leave the version out."
        case "noWheel": "The package has no wheel for this service's Python; packages are installed from wheels only."
        case "notAllowed": "This service installs only the packages its operator allows."
        case "unsatisfiable": "The requirements conflict with each other or with the packages already installed; loosen the versions."
        case "setTooLarge", "layerTooLarge": "Ask for fewer or smaller packages."
        case "disabled": "This service installs no packages; call without packages."
        case "indexUnreachable", "timedOut", "installerFailed", "unavailable": "Try again in a moment."
        default: ""
        }
        return said + (what.isEmpty ? "" : " " + what)
    }

    /// The tool as `tools/list` shows it: what the sandbox is, for an agent deciding how to use it.
    public static func definition(budget: ResultBudget) -> Tool {
        Tool(
            name: name,
            title: "Run Python in a sandbox",
            description: """
                Runs Python 3 code in an isolated Linux sandbox and returns its output (stdout and stderr in the \
                order written, each stderr piece marked [stderr]), the images it displayed, and how it ended. The \
                sandbox has no network access. The working directory is /tmp (private and small); the rest of the \
                file system is read-only. numpy, pandas, matplotlib and Pillow are installed. plt.show() returns \
                each open matplotlib figure as a PNG image, and display(obj) returns an object's rich form (images \
                as images, anything else as text). Each call has a time limit (timeoutMs; the service's default \
                when left out) and a memory limit (memoryMb; with session, the session's, set by the call that \
                opens it). Without session, every call starts from scratch. With session: true (or a session name, \
                for several independent sessions), variables, imports and /tmp files stay from one call to the \
                next, like notebook cells, and the value of the last expression is displayed (list_files, read_file \
                and write_file act on a session's files between calls; reset_session starts it over). files puts input \
                files in the working directory before the code runs; returnFiles brings files the code wrote back \
                in the result. The result shows at most \(budget.textBytes) bytes of output (its first and last \
                half, with a line saying what was left out between and how to see it), and \(budget.imageBytes) \
                bytes of images and returned files together. A program that fails (traceback, non-zero exit, time \
                or memory limit) is a normal result whose last line gives the status; an error result means the \
                code did not run. Other PyPI packages can be named in packages: the service installs them before \
                the code runs (the first call that names a set waits for the install; later calls reuse it).
                """,
            inputSchema: [
                "type": "object",
                "properties": [
                    "code": ["type": "string", "description": "The Python source to run."],
                    "stdin": ["type": "string", "description": "Text the program reads as its standard input."],
                    "timeoutMs": [
                        "type": "integer", "minimum": 1,
                        "description": "Wall-clock limit in milliseconds; the service's default when left out (10000 unless configured), up to its maximum.",
                    ],
                    "memoryMb": [
                        "type": "integer", "minimum": .int(RunParams.minimumMemoryMb),
                        "description": """
                            Memory limit in MiB (all the program's processes and the files it writes in /tmp \
                            together); the service's default when left out (256 unless configured), up to its \
                            maximum. Past it the program is stopped and the status says memoryLimit. With session, \
                            the limit is the session's, for all its calls together: the call that opens the session \
                            sets it, and a later call in that session may leave it out or give the same number (another \
                            number is an error result; the code does not run).
                            """,
                    ],
                    "session": [
                        "type": ["boolean", "string"],
                        "description": """
                            true: run in this client's default session, so state persists between calls. \
                            A string: run in the session of that name (sessions are independent). \
                            false or left out: a fresh sandbox for this call only.
                            """,
                    ],
                    "packages": [
                        "type": "array", "items": ["type": "string"],
                        "description": """
                            PyPI packages the code imports beyond those already installed, as requirement strings: \
                            a name, optional extras and an optional version specifier, e.g. ["requests", \
                            "pandas>=2,<3"] (no URLs, paths or installer options). The service installs them from \
                            wheels outside the sandbox before the code runs: the first call that names a set waits \
                            for the install, later calls with the same set reuse it. A package that cannot be had \
                            is an error result saying why (the code does not run). With session, the packages are \
                            the session's, given by the call that opens it; later calls in it may leave them out.
                            """,
                    ],
                    "files": [
                        "type": "object",
                        "additionalProperties": [
                            "anyOf": [
                                ["type": "string"],
                                [
                                    "type": "object", "properties": ["base64": ["type": "string"]], "required": ["base64"],
                                    "additionalProperties": false,
                                ],
                            ],
                        ],
                        "description": """
                            Files to write into the working directory (/tmp) before the code runs: relative path → \
                            content, a string for text or {"base64": "…"} for bytes, e.g. {"data/input.csv": "a,b\\n1,2\\n", \
                            "logo.png": {"base64": "iVBORw0…"}}. Folders are created. Paths must be relative, without \
                            "..", "." or empty parts, and not main.py. With session, they are written into the \
                            session's /tmp, where they stay for its later calls. They count toward the service's \
                            limit on one message (4 MiB unless configured).
                            """,
                    ],
                    "returnFiles": [
                        "type": "array", "items": ["type": "string"],
                        "description": .string("""
                            Glob patterns (relative to the working directory) of files the code writes that should \
                            come back in the result once it ends by itself, e.g. ["out/*.csv", "plot.png"]: * ? and \
                            [...] match within a name, ** any folders; names starting with "." only when the pattern \
                            says so. The result lists which came back and which did not (and why), then shows them: \
                            text files as text (together at most resultTextBytes, \(budget.textBytes) by default; a \
                            larger one is cut, saying so), PNG, JPEG, GIF and WebP as images while they fit, other \
                            files by name, size and type only. Files of a run stopped by a limit do not come back.
                            """),
                    ],
                    "tests": [
                        "type": "array",
                        "items": [
                            "type": "object",
                            "properties": [
                                "stdin": ["type": "string"], "expectedStdout": ["type": "string"],
                                "compare": ["type": "string", "enum": ["trimmed", "exact", "tokens"]], "name": ["type": "string"],
                            ],
                        ],
                        "description": .string("""
                            Run the code once per test instead of once: each test a fresh sandbox with its stdin and this \
                            call's limits, e.g. [{"stdin": "2\\n", "expectedStdout": "4"}, {"stdin": "3\\n", "expectedStdout": "6"}]. \
                            expectedStdout is compared as compare says: trimmed (trailing whitespace ignored, the default), \
                            exact or tokens. The result lists each test (PASS, FAIL, or how it ended, with the start of its \
                            output) and a summary. Not with session, stdin or returnFiles.
                            """),
                    ],
                    "resultTextBytes": [
                        "type": "integer", "minimum": .int(ResultBudget.minimumTextBytes), "maximum": .int(budget.maxTextBytes),
                        "description": .string("""
                            How many bytes of output the result may show (default \(budget.textBytes)), and of returned \
                            text files; more leaves less room for images and returned files, which share \
                            \(budget.totalBytes) bytes with the text.
                            """),
                    ],
                ],
                "required": ["code"],
                "additionalProperties": false,
            ],
            annotations: .init(readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false))
    }
}

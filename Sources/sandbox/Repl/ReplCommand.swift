import ArgumentParser
import SandboxClient
import SandboxProtocol

struct ReplCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "repl",
        abstract: "An interactive Python prompt on a session of the service.",
        discussion: """
            Each snippet runs in the session's __main__, so names, imports and /tmp files stay \
            from one to the next; the value of a snippet's last expression is printed, as at \
            Python's own prompt. At a terminal the service says whether the lines typed so far \
            need another (Python's compiler, code/isComplete): one that opens a block or leaves \
            a bracket or a string open continues on a '... ' line that starts at the block's \
            indentation, and a block (def, for, if, …) ends at an empty line (or one of only \
            spaces); a syntax error runs, and the run reports it. Piped lines, and a service \
            that does not say within 2 s, follow the CLI's own rules: a line that ends in ':' \
            or leaves a bracket or a triple-quoted string open continues, and a block ends at \
            an empty line. Output streams as it arrives. At a terminal, a snippet that mentions input( \
            or stdin reads the lines typed while it runs (edited as at the prompt; Ctrl-D ends \
            its input); any other snippet, and every snippet of piped input, reads end of file, \
            and what is typed meanwhile waits for the next prompt.

            Keys: Left/Right, Home/End (Ctrl-A/Ctrl-E), Backspace/Delete, Ctrl-K/Ctrl-U, Up/Down \
            for earlier lines. Tab completes the name before the cursor from the session's \
            names (code/complete): one match is inserted; several are listed below the line, \
            what they all begin with inserted; with only spaces before the cursor, Tab inserts \
            four. Ctrl-C while a snippet runs interrupts it \
            (KeyboardInterrupt; the session is kept, unless the snippet ignores the interrupt \
            for 2 s, which kills the session); at the prompt it drops the line. Ctrl-D at an \
            empty line closes the session and exits 0.

            When the session ends by itself (idle timeout, its memory or CPU time used up, the \
            interpreter crashed or killed), the reason is printed on stderr and a new, empty \
            session is opened: earlier names and files are gone.

            When stdin is not a terminal, its lines are read with the CLI's own rules, without \
            prompts; a block still open at the end of input runs. The exit status is then 0 \
            at the end of input, whatever the snippets did; when the session ends by itself, \
            the REPL stops with status 125 (the lines that follow expected the state that is gone).

            --package and --requirements (as for 'sandbox run') name PyPI packages the session \
            imports: they are installed before it opens (at a terminal a line on stderr says so), \
            and every snippet, and a new session that replaces one that ended, can import them. \
            A requirement refused before anything is sent, or a package the service cannot \
            provide, exits 65 (the request) or 69 (the service cannot install packages now), \
            with the service's message.

            Other exit statuses: 69 when the service cannot be reached or the connection is \
            lost; 65 when it refuses the session (e.g. too many sessions) or a limit asked for \
            is outside its range ('sandbox info' shows them); 64 for a usage error; 77 when it refuses \
            the connection; 130 after SIGINT at the prompt; 143 after SIGTERM and 129 after SIGHUP, \
            which close the session, and its running snippet with it, and restore the terminal.
            """)

    @Option(help: ArgumentHelp("The session's memory limit in MiB, for all its snippets together.", valueName: "mib"))
    var memory: Int?

    @Option(name: .customLong("idle-timeout"), help: ArgumentHelp(
        "End the session after this many seconds without a snippet (up to the server's maximum).", valueName: "seconds"))
    var idleTimeout: Double?

    @Option(help: ArgumentHelp("Each snippet's wall-clock limit in seconds (up to the server's maximum).", valueName: "seconds"))
    var timeout: Double?

    @Option(name: .customLong("output-limit"), help: ArgumentHelp(
        "Each snippet's output limit: stdout, stderr and displays together, in bytes, or with a suffix K (KiB) or M "
            + "(MiB): 64K, 10M (up to the server's maximum).",
        valueName: "bytes"))
    var outputLimit: ByteCount?

    @OptionGroup var packageOptions: PackageOptions

    @OptionGroup var connection: ConnectionOptions

    func validate() throws {
        if let memory, memory < 1 { throw ValidationError("--memory must be a positive number of MiB") }
        if let idleTimeout, !(idleTimeout > 0) { throw ValidationError("--idle-timeout must be a positive number of seconds") }
        if let timeout, !(timeout > 0) { throw ValidationError("--timeout must be a positive number of seconds") }
    }

    func run() async throws {
        // Raw mode from before the connection, so that keys typed meanwhile are not echoed twice.
        let requirements = try packageOptions.requirementsOrExit()
        let terminal = RawTerminal()
        defer { terminal?.restore() }
        let settings = ReplSettings(
            interactive: terminal != nil,
            session: SessionOpenParams(
                memoryMb: memory, idleTimeoutMs: idleTimeout.map(LimitOption.milliseconds), packages: requirements?.map(\.text)),
            timeoutMs: timeout.map(LimitOption.milliseconds), maxOutputBytes: outputLimit?.bytes)
        let status: Int32
        do {
            status = try await ProtocolConnection.connect(url: connection.resolvedURL, token: connection.resolvedToken) { connection in
                let info = try await connection.initialize(clientName: "sandbox", version: PySandbox.version)
                try Self.check(settings, against: info.limits)
                try PackageOptions.check(requirements, against: info, url: self.connection.resolvedURL)
                return try await Repl(connection: connection, settings: settings).run(info: info)
            }
        } catch let refusal as LimitRefusal {
            terminal?.restore()
            Console.note(refusal.description)
            throw ExitCode(ExitStatus.rejected)
        } catch let refusal as RequirementRefusal {
            terminal?.restore()
            Console.note(refusal.description)
            throw ExitCode(ExitStatus.rejected)
        } catch let refusal as PackagesNotOffered {
            terminal?.restore()
            Console.note(refusal.description)
            throw ExitCode(ExitStatus.unreachable)
        } catch ClientError.rejected(let refusal) where refusal.code == RPCErrorCode.packagesUnavailable.rawValue
            || refusal.data?["reason"]?.stringValue == "badRequirement"
        {
            terminal?.restore()
            Console.note(refusal.refusalInWords(of: "session"))
            throw ExitCode(ExitStatus.of(refusal))
        } catch let error as ClientError {
            terminal?.restore()
            Console.note(error.description)
            throw ExitCode(ExitStatus.of(error))
        }
        throw ExitCode(status)
    }

    /// Refuses, in the options' words, a limit outside the service's range.
    private static func check(_ settings: ReplSettings, against limits: InitializeResult.Limits) throws(LimitRefusal) {
        try LimitOption.timeout.check(settings.timeoutMs, against: limits.timeoutMs)
        try LimitOption.outputLimit.check(settings.maxOutputBytes, against: limits.maxOutputBytes)
        try LimitOption.memory.check(settings.session.memoryMb, against: limits.memoryMb)
        try LimitOption.idleTimeout.check(settings.session.idleTimeoutMs, against: limits.sessions?.idleTimeoutMs)
    }
}

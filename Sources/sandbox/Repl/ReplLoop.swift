import SandboxClient
import SandboxProtocol

/// The REPL's state and what it does with each input: assembles snippets
/// from lines, runs one at a time in the session and prints its output,
/// and keeps what is typed meanwhile for after it.
struct ReplLoop {
    private let connection: ProtocolConnection
    private let settings: ReplSettings
    private let sink: AsyncStream<ReplInput>.Continuation
    private var session: SessionOpenResult
    private var reader: any LineReader
    /// At a terminal: the service's completion and its word on whether a block is whole.
    private let assistant: PromptAssistant?
    private var block = PythonBlock()
    /// The snippet running, if one is.
    private var running: Int64?
    /// Stdin that came while a snippet ran, for after it.
    private var typedAhead: [UInt8] = []
    /// At a terminal, the lines typed for a snippet that reads stdin, until
    /// it ends or Ctrl-D ends its input.
    private var programInput: TerminalLineEditor?
    /// The program's output on the terminal's last row so far.
    private var outputRow = ""
    private var stdinEnded = false
    /// The session ended while its snippet ran: dealt with after the snippet's verdict.
    private var endedWhileRunning: SessionEndedParams?
    /// Input ended: close the session once no snippet runs.
    private var closing = false
    private var exitStatus: Int32?
    /// Whether the output so far ends a line, so that a prompt starts on a new one.
    private var atLineStart = true
    /// A prompt is on the terminal's last row, maybe with a line being typed.
    private var promptShown = false

    init(
        connection: ProtocolConnection, settings: ReplSettings, capabilities: InitializeResult.Capabilities,
        sink: AsyncStream<ReplInput>.Continuation
    ) async throws {
        self.connection = connection
        self.settings = settings
        self.sink = sink
        session = try await connection.openSession(settings.session, showingStatus: true)
        // Piped lines keep PythonBlock's rules: a round trip per line, and the
        // service's rate of assists, would make a script's blocks depend on timing.
        let assistant = settings.interactive ? PromptAssistant(connection: connection, capabilities: capabilities) : nil
        self.assistant = assistant
        reader = settings.interactive ? TerminalLineEditor(completesNames: assistant?.completes == true) : PipedLines()
    }

    /// The session's packages, for the greeting.
    private var packagesLine: String {
        guard let packages = settings.session.packages, !packages.isEmpty else { return "" }
        return "\nPackages: \(PackageOptions.listed(packages))."
    }

    func greet(_ info: InitializeResult) {
        let limits = session.limits
        Console.write("""
            Python \(info.python.version) in a sandbox of \(info.serverInfo.name) \(info.serverInfo.version): \
            \(limits.memoryMb) MiB, \(limits.cpuTimeMs / 1000) s of CPU time, ends after \(limits.idleTimeoutMs / 1000) s idle.\(packagesLine)
            Ctrl-C interrupts, Ctrl-D exits.

            """, to: .stderr)
    }

    mutating func run(_ inputs: AsyncStream<ReplInput>, tasks: inout ThrowingTaskGroup<Void, any Error>) async throws -> Int32 {
        prompt(">>> ")
        for await input in inputs {
            switch input {
            case .stdin(let bytes): try await take(bytes, tasks: &tasks)
            case .stdinEnded:
                stdinEnded = true
                try await readTypedAhead(tasks: &tasks)
            case .signalInterrupt: try await interrupt()
            case .signalTerminate(let signal):
                // Its snippet's verdict is not waited for: session/close cancels it.
                try await close()
                exitStatus = 128 + signal
            case .run(let event): try await show(event, tasks: &tasks)
            case .runEventsEnded(let id, let error):
                // The response ends a run's events: without one, the connection is gone.
                if running == id { throw error ?? ClientError.unreachable("the connection closed before the snippet's verdict") }
            case .sessionEnded(let ended) where ended.session == session.session:
                if running != nil {
                    endedWhileRunning = ended
                } else {
                    try await sessionEnded(ended.reason.inWords, ended.message, tasks: &tasks)
                }
            case .sessionEnded: continue
            }
            if let exitStatus { return exitStatus }
        }
        return ExitStatus.unreachable
    }

    // MARK: Input

    private mutating func take(_ bytes: [UInt8], tasks: inout ThrowingTaskGroup<Void, any Error>) async throws {
        if let id = running {
            // Ctrl-C at a terminal interrupts the snippet and drops what was typed before it, as a terminal does.
            if settings.interactive, let interrupt = bytes.lastIndex(of: 0x03) {
                cancel(id)
                programInput = nil
                typedAhead = Array(bytes[(interrupt + 1)...])
            } else if programInput != nil {
                typeForProgram(bytes, run: id)
            } else {
                typedAhead += bytes
            }
            return
        }
        typedAhead += bytes
        try await readTypedAhead(tasks: &tasks)
    }

    /// Feeds stdin kept so far to the line reader while no snippet runs.
    private mutating func readTypedAhead(tasks: inout ThrowingTaskGroup<Void, any Error>) async throws {
        var index = 0
        while running == nil && exitStatus == nil && index < typedAhead.count {
            let byte = typedAhead[index]
            index += 1
            if let event = reader.take(byte) { try await handle(event, keysWaiting: index < typedAhead.count, tasks: &tasks) }
        }
        typedAhead.removeFirst(index)
        // Typed after the line of a snippet that reads stdin: the program's, as at a terminal.
        if let id = running, programInput != nil, !typedAhead.isEmpty {
            let typed = typedAhead
            typedAhead = []
            typeForProgram(typed, run: id)
        }
        if stdinEnded && typedAhead.isEmpty && running == nil && !closing && exitStatus == nil {
            for event in reader.finish() { try await handle(event, keysWaiting: false, tasks: &tasks) }
        }
    }

    /// `keysWaiting`: more of stdin came with the key that made `event`, as
    /// when text is pasted; that text has its own indentation, and its Tab
    /// is not a person asking for a completion.
    private mutating func handle(_ event: LineEvent, keysWaiting: Bool, tasks: inout ThrowingTaskGroup<Void, any Error>) async throws {
        switch event {
        case .line(let text):
            block.append(text)
            if block.code.allSatisfy(\.isWhitespace) {
                block.clear()
                return prompt(">>> ")
            }
            let answer = await assistant?.isComplete(block)
            switch BlockDecision.decide(block, serviceAnswer: answer) {
            case .continueBlock(let indent):
                prompt("... ", typed: keysWaiting ? "" : indent)
            case .run:
                let code = block.code
                block.clear()
                try start(code, tasks: &tasks)
            }
        case .completion(let before):
            guard let assistant, !keysWaiting else { return reader.apply(.indentation) }
            let request = CompletionRequest(block: block.lines, lineBeforeCursor: before)
            if let completion = await assistant.completion(for: request, session: session.session) { reader.apply(completion) }
        case .interrupt:
            block.clear()
            prompt(">>> ")
        case .endOfInput:
            closing = true
            // Piped input may end without the empty line that ends a block: it runs.
            if !settings.interactive && !block.isEmpty && running == nil {
                let code = block.code
                block.clear()
                try start(code, tasks: &tasks)
            }
            if running == nil { try await close() }
        }
    }

    /// SIGINT: interrupts the snippet running; with none, ends the REPL as SIGINT would.
    private mutating func interrupt() async throws {
        if let running { return cancel(running) }
        try await close()
        exitStatus = ExitStatus.interrupted
    }

    /// Shows `text` and starts a line after it, with `typed` in it already.
    private mutating func prompt(_ text: String, typed: String = "") {
        reader.start(prompt: text, text: typed)
        promptShown = settings.interactive
    }

    // MARK: Snippets

    private mutating func start(_ code: String, tasks: inout ThrowingTaskGroup<Void, any Error>) throws {
        var parameters = RunParams(
            code: code, timeoutMs: settings.timeoutMs, maxOutputBytes: settings.maxOutputBytes, cpuTimeMs: settings.cpuTimeMs,
            session: session.session)
        // What is typed while a snippet runs is kept for the next prompt,
        // unless the snippet reads stdin: then its lines are the program's.
        let readsStdin = settings.interactive && (code.contains("input(") || code.contains("stdin"))
        parameters.interactive = readsStdin
        let (id, events) = try connection.send(Method.run, parameters)
        running = id
        promptShown = false
        outputRow = ""
        programInput = readsStdin ? TerminalLineEditor() : nil
        tasks.addTask { [sink] in
            do {
                for try await event in events { sink.yield(.run(event)) }
                sink.yield(.runEventsEnded(id: id, nil))
            } catch {
                sink.yield(.runEventsEnded(id: id, error))
            }
        }
    }

    /// Keys typed for the running snippet's stdin: each line is sent as
    /// Enter ends it, and Ctrl-D on an empty line sends the end of input.
    private mutating func typeForProgram(_ bytes: [UInt8], run id: Int64) {
        for (index, byte) in bytes.enumerated() {
            switch programInput?.take(byte) {
            case .line(let text):
                connection.notify(Method.runStdin, RunStdinParams(id: .integer(id), data: text + "\n"))
                outputRow = ""
                programInput?.start(prompt: "")
            case .endOfInput:
                connection.notify(Method.runStdin, RunStdinParams(id: .integer(id), eof: true))
                programInput = nil
                typedAhead += bytes[(index + 1)...]  // for the next prompt
                return
            case .interrupt, .completion, nil:
                continue
            }
        }
    }

    private func cancel(_ id: Int64) {
        connection.notify(Method.cancelRequest, ["id": JSONValue.integer(id)])
    }

    private mutating func show(_ event: ClientEvent, tasks: inout ThrowingTaskGroup<Void, any Error>) async throws {
        switch event {
        case .output(let output):
            Console.write(output.text, to: output.stream == .stdout ? .stdout : .stderr)
            atLineStart = output.text.hasSuffix("\n")
            if let newline = output.text.lastIndex(of: "\n") {
                outputRow = String(output.text[output.text.index(after: newline)...])
            } else {
                outputRow += output.text
            }
            programInput?.follow(output: outputRow)
        case .display(let display):
            // The value of the snippet's last expression comes as a display, like a notebook's Out.
            if let text = display.data[DisplayMIME.plainText]?.stringValue { Console.write(text.endingInNewline) }
            atLineStart = true
        case .status, .test:
            return
        case .response(let response):
            running = nil
            programInput = nil
            if !atLineStart { Console.write("\n") }
            atLineStart = true
            if let error = response.error {
                guard error.code == RPCErrorCode.sessionEnded.rawValue else {
                    Console.note("the service rejected the snippet: \(error.message) (JSON-RPC error \(error.code))")
                    return try await idle(tasks: &tasks)
                }
                let reason = error.data?["reason"]?.stringValue
                let words = reason.flatMap(SessionEndReason.init(rawValue:))?.inWords ?? reason ?? "ended"
                return try await sessionEnded(words, "the snippet was not run", tasks: &tasks)
            }
            let verdict = try response.result(as: RunResult.self)
            // A traceback already tells of an error, and KeyboardInterrupt of a cancel; limits need saying.
            if verdict.status != .ok && verdict.status != .error && verdict.status != .cancelled,
               let summary = RunReply.verdict(verdict).summary {
                Console.note(summary)
            }
            if let ended = endedWhileRunning {
                endedWhileRunning = nil
                return try await sessionEnded(ended.reason.inWords, ended.message, tasks: &tasks)
            }
            try await idle(tasks: &tasks)
        }
    }

    /// No snippet runs: close if input ended, else prompt and read what was typed meanwhile.
    private mutating func idle(tasks: inout ThrowingTaskGroup<Void, any Error>) async throws {
        if closing { return try await close() }
        prompt(block.isEmpty ? ">>> " : "... ")
        try await readTypedAhead(tasks: &tasks)
    }

    // MARK: The session

    /// At a terminal a new session replaces the one that ended (a person
    /// carries on); piped input was written for the state that is gone, so it stops.
    private mutating func sessionEnded(_ reason: String, _ message: String?, tasks: inout ThrowingTaskGroup<Void, any Error>) async throws {
        if promptShown { Console.write("\n") }
        Console.note("the session ended (\(reason))" + (message.map { ": \($0)" } ?? ""))
        guard settings.interactive else {
            exitStatus = ExitStatus.otherVerdict
            return
        }
        session = try await connection.openSession(settings.session, showingStatus: true)
        Console.note("a new session is open: the names, imports and files of the earlier one are gone")
        block.clear()
        try await idle(tasks: &tasks)
    }

    private mutating func close() async throws {
        do {
            try await connection.closeSession(session.session)
        } catch ClientError.rejected {
            // It ended meanwhile: nothing left to close.
        }
        exitStatus = exitStatus ?? 0
    }
}

import SandboxClient
import SandboxProtocol

/// Runs programs over one connection and prints what they print.
struct ProgramRunner: Sendable {
    let connection: ProtocolConnection
    let options: RunOptions
    let info: InitializeResult

    /// One program, its output streamed as it arrives; returns the exit status.
    func runOne(_ program: Program, _ base: RunParams, stdin: RunInput) async throws -> Int32 {
        // Ctrl-C is trapped before the run goes out: it may start within a millisecond.
        let interrupts = await Interrupts.cancelling(ids: [], on: connection)
        defer { interrupts.stop() }
        let (id, events) = try connection.send(Method.run, Self.parameters(base, program, stdin))
        interrupts.add(id)
        let forwarding = stdin.isForwarded ? Task { await forwardStandardInput(to: id) } : nil
        defer { forwarding?.cancel() }
        let saver = saver(named: RunSaver.runNames([program])[0], filesInRunFolder: false)
        guard let reply = try await print(events, saver: saver, packages: base.packages ?? []) else {
            throw ClientError.unreachable("the connection closed before the run's verdict")
        }
        if !options.quiet, let summary = reply.summary { Console.note(summary) }
        return reply.exitStatus
    }

    /// Several programs, all submitted at once (up to the server's in-flight
    /// cap), printed in order under headers, then a summary table.
    func runAll(_ programs: [Program], _ base: RunParams, stdin: RunInput) async throws -> Int32 {
        let relays = programs.map { _ in AsyncThrowingStream.makeStream(of: ClientEvent.self) }
        let runNames = RunSaver.runNames(programs)
        let interrupts = await Interrupts.cancelling(ids: [], on: connection)
        defer { interrupts.stop() }
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                do {
                    try await submit(programs, base, stdin: stdin, relays: relays.map(\.continuation), interrupts: interrupts)
                } catch {
                    for relay in relays { relay.continuation.finish(throwing: error) }
                }
            }
            var replies: [RunReply] = []
            for (index, program) in programs.enumerated() {
                if !options.json { Console.write("\(index == 0 ? "" : "\n")==> \(program.name) <==\n") }
                let saver = saver(named: runNames[index], filesInRunFolder: true)
                guard let reply = try await print(relays[index].stream, saver: saver, packages: base.packages ?? []) else {
                    throw ClientError.unreachable("the connection closed before \(program.name)'s verdict")
                }
                replies.append(reply)
            }
            try await group.waitForAll()
            if !options.quiet && !options.json { Console.write("\n" + RunReply.table(zip(programs.map(\.name), replies))) }
            return replies.first { $0.exitStatus != 0 }?.exitStatus ?? 0
        }
    }

    /// Sends runs while fewer than the in-flight cap are unanswered; relays each run's events.
    private func submit(
        _ programs: [Program], _ base: RunParams, stdin: RunInput,
        relays: [AsyncThrowingStream<ClientEvent, any Error>.Continuation], interrupts: Interrupts
    ) async throws {
        let window = max(1, info.limits.maxInFlight)
        try await withThrowingTaskGroup(of: Void.self) { runs in
            for (index, program) in programs.enumerated() {
                if index >= window { try await runs.next() }
                let (id, events) = try connection.send(Method.run, Self.parameters(base, program, stdin))
                interrupts.add(id)
                runs.addTask {
                    do {
                        for try await event in events { relays[index].yield(event) }
                        relays[index].finish()
                    } catch {
                        relays[index].finish(throwing: error)
                    }
                }
            }
            try await runs.waitForAll()
        }
    }

    /// Prints a run's output as it streams, and its displays' text where
    /// they were made (with `--save`, saves them and its returned files
    /// instead); nil if its events end without a response.
    func print(
        _ events: AsyncThrowingStream<ClientEvent, any Error>, saver: RunSaver?, packages: [String] = []
    ) async throws -> RunReply? {
        defer { Console.status(nil) }
        var displays = 0
        for try await event in events {
            switch event {
            case .output(let output):
                if !options.json { Console.write(output.text, to: output.stream == .stdout ? .stdout : .stderr) }
            case .display(let display):
                displays += 1
                if let saver {
                    saver.save(display, number: displays)
                } else if !options.json, let text = display.data[DisplayMIME.plainText]?.stringValue {
                    Console.write(text.endingInNewline)
                }
            case .test(let test):
                if !options.json { Console.write(TestLines.line(test.test)) }
            case .status(let status):
                // At a terminal, a line while the run's packages install; the next write erases it.
                if status.state == .installing, !options.json {
                    Console.status("installing packages: \(PackageOptions.listed(packages))…")
                } else {
                    Console.status(nil)
                }
            case .response(let response):
                Console.status(nil)
                if let error = response.error {
                    Console.note(error.refusalInWords(of: "run"))
                    return .rejected(error)
                }
                let verdict = try response.result(as: RunResult.self)
                saver?.save(filesOf: verdict)
                return .verdict(verdict)
            }
        }
        return nil
    }

    /// With `--save`: what saves the results of the run called `name`.
    func saver(named name: String, filesInRunFolder: Bool) -> RunSaver? {
        options.save.map {
            RunSaver(folder: $0, runName: name, returnPatterns: options.returnPatterns, filesInRunFolder: filesInRunFolder, quiet: options.quiet)
        }
    }

    func forwardStandardInput(to id: Int64) async {
        for await text in StandardInputReader.chunks() {
            connection.notify(Method.runStdin, RunStdinParams(id: .integer(id), data: text))
        }
        guard !Task.isCancelled else { return }
        connection.notify(Method.runStdin, RunStdinParams(id: .integer(id), eof: true))
    }

    static func parameters(_ base: RunParams, _ program: Program, _ stdin: RunInput) -> RunParams {
        var parameters = base
        parameters.code = program.code
        switch stdin {
        case .none: break
        case .text(let text): parameters.stdin = text
        case .forwarded: parameters.interactive = true
        }
        return parameters
    }
}

extension RunInput {
    var isForwarded: Bool {
        if case .forwarded = self { return true }
        return false
    }
}

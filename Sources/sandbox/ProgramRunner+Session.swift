import SandboxClient
import SandboxProtocol

extension ProgramRunner {
    /// `run --session`: the programs one after another in one protocol
    /// session, so each sees the names the earlier ones defined; each
    /// program's output streams as it arrives. Stops after the first program
    /// whose status is not 0, which decides the exit status.
    func runInSession(_ programs: [Program], _ base: RunParams, stdin: RunInput) async throws -> Int32 {
        var base = base
        // A session's runs share its memory and its packages: both go to
        // session/open, which refuses them on a run.
        let opened = try await openSession(SessionOpenParams(memoryMb: base.memoryMb, packages: base.packages))
        base.memoryMb = nil
        base.packages = nil
        base.session = opened.session
        let interrupts = await Interrupts.cancelling(ids: [], on: connection)
        defer { interrupts.stop() }
        let several = programs.count > 1
        let runNames = RunSaver.runNames(programs)
        var replies: [(String, RunReply)] = []
        for (index, program) in programs.enumerated() {
            if several && !options.json { Console.write("\(index == 0 ? "" : "\n")==> \(program.name) <==\n") }
            let (id, events) = try connection.send(Method.run, Self.parameters(base, program, stdin))
            interrupts.add(id)
            let forwarding = stdin.isForwarded ? Task { await forwardStandardInput(to: id) } : nil
            defer { forwarding?.cancel() }
            guard let reply = try await print(events, saver: saver(named: runNames[index], filesInRunFolder: several)) else {
                throw ClientError.unreachable("the connection closed before \(program.name)'s verdict")
            }
            replies.append((program.name, reply))
            // --file's files stay in the session's /tmp: sent once.
            base.files = nil
            if reply.exitStatus != 0 { break }
        }
        try await connection.closeSession(opened.session)
        report(replies, of: programs)
        return replies.last?.1.exitStatus ?? 0
    }

    func openSession(_ params: SessionOpenParams) async throws -> SessionOpenResult {
        try await connection.openSession(params, showingStatus: !options.json)
    }

    private func report(_ replies: [(String, RunReply)], of programs: [Program]) {
        guard !options.quiet && !options.json else { return }
        if programs.count == 1 {
            if let summary = replies.first?.1.summary { Console.note(summary) }
            return
        }
        Console.write("\n" + RunReply.table(replies))
        let notRun = programs.dropFirst(replies.count).map(\.name)
        if let stopper = replies.last?.0, !notRun.isEmpty {
            Console.note("stopped after \(stopper): not run: \(notRun.joined(separator: ", "))")
        }
    }
}

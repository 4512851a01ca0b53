import Foundation
import SandboxProtocol
import SandboxRuntime
import Testing

/// One sandbox for the whole test process: `prepare` runs the self-test once.
/// Each runs (supervises its launchers) for the life of the test process.
enum SharedSandbox {
    private static let prepared = Task { running(try await Sandbox.prepare()) }
    /// The service as an ordinary user without a cgroup: the launcher runs as
    /// uid 65534 (setpriv), so it has unprivileged user namespaces and rlimits
    /// only. It and its library are the staged copies (`StagedBuild`).
    private static let preparedForOrdinaryUser = Task {
        let wrapper = try LauncherWrapper.asOrdinaryUser()
        return running(try await Sandbox.prepare(SandboxOptions(launcherPath: wrapper.path, cgroups: .rlimitsOnly)))
    }

    /// A new interpreter per run, the isolation before the fork server.
    private static let preparedForExec = Task { running(try await Sandbox.prepare(SandboxOptions(isolation: .exec))) }

    /// The test process owns these sandboxes; it ends without shutting them down.
    private static func running(_ sandbox: Sandbox) -> Sandbox {
        Task.detached { await sandbox.run() }
        return sandbox
    }

    static func get() async throws -> Sandbox {
        try await prepared.value
    }

    static func execIsolation() async throws -> Sandbox {
        try await preparedForExec.value
    }

    static func ordinaryUser() async throws -> Sandbox {
        try await preparedForOrdinaryUser.value
    }
}

/// What a finished run produced.
struct CollectedRun {
    var stdout: String
    var stderr: String
    var chunks: [OutputChunk]
    var displays: [Display]
    /// How many `stdinWanted` the run reported.
    var stdinWanted = 0
    var verdict: Verdict

    var combined: String { stdout + stderr }

    /// Everything `run` writes, to its verdict.
    static func collect(_ run: any SandboxRun) async -> CollectedRun {
        var chunks: [OutputChunk] = []
        var displays: [Display] = []
        var stdinWanted = 0
        for await item in run.output {
            switch item {
            case .text(let chunk): chunks.append(chunk)
            case .display(let display): displays.append(display)
            case .stdinWanted: stdinWanted += 1
            }
        }
        let verdict = await run.verdict()
        let stdout = chunks.filter { $0.stream == .stdout }.flatMap(\.bytes)
        let stderr = chunks.filter { $0.stream == .stderr }.flatMap(\.bytes)
        return CollectedRun(
            stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: stderr, as: UTF8.self),
            chunks: chunks, displays: displays, stdinWanted: stdinWanted, verdict: verdict)
    }
}

extension Sandbox {
    /// Runs `code` to the end and collects everything it wrote.
    func collect(_ request: RunRequest) async throws -> CollectedRun {
        await CollectedRun.collect(try start(request))
    }

    func collect(_ code: String, stdin: RunRequest.Stdin = .none, files: [String: String] = [:], limits: RunLimits = RunLimits()) async throws -> CollectedRun {
        try await collect(RunRequest(code: code, stdin: stdin, files: files.mapValues { Array($0.utf8) }, limits: limits))
    }
}

/// Processes on the host that belong to sandboxes: run as the unprivileged
/// outside uid, or the launcher itself. Only meaningful while no other run is live.
enum HostProcesses {
    static func sandboxed(excluding excluded: Set<pid_t> = []) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return names.compactMap { name -> String? in
            guard let pid = Int32(name), !excluded.contains(pid),
                  let status = try? String(contentsOfFile: "/proc/\(name)/status", encoding: .utf8)
            else { return nil }
            let uidLine = status.split(separator: "\n").first { $0.hasPrefix("Uid:") } ?? ""
            let command = status.split(separator: "\n").first { $0.hasPrefix("Name:") } ?? ""
            let sandboxUser = geteuid() == 0 && uidLine.split(separator: "\t").dropFirst().first == "\(OrdinaryUser.id)"
            if sandboxUser || command.hasSuffix("pysandbox-laun") || command.hasSuffix("pysandbox-launcher") {
                guard !ForkServerProcesses.isSlotMember(pid) else { return nil }
                let state = status.split(separator: "\n").first { $0.hasPrefix("State:") } ?? ""
                let parent = status.split(separator: "\n").first { $0.hasPrefix("PPid:") } ?? ""
                return "\(name) \(command) \(state) \(parent)"
            }
            return nil
        }
    }

    /// Waits briefly for the kernel to finish tearing down a run, then lists what is left.
    static func leftovers(within timeout: Duration = .seconds(2), excluding excluded: Set<pid_t> = []) async -> [String] {
        let deadline = ContinuousClock.now + timeout
        var remaining = sandboxed(excluding: excluded)
        while !remaining.isEmpty && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
            remaining = sandboxed(excluding: excluded)
        }
        return remaining
    }
}

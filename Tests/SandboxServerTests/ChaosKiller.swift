import Foundation
import SandboxProtocol
import SandboxRuntime
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Kills, at random intervals, a process of a fork-server slot (its
/// supervisor, skeleton init or fork server) or a sandbox process (a run's
/// pid 1 or interpreter, warm or running, or a session's) of sandboxd's.
struct ChaosKiller: Sendable {
    let server: ChaosServer
    let ledger: ChaosLedger
    let deadline: ContinuousClock.Instant
    let seed: UInt64

    func work() async {
        var random = SplitMix(seed: seed)
        while true {
            let pause = Duration.milliseconds(Int.random(in: 1000...6000, using: &random))
            guard ContinuousClock.now + pause < deadline else { return }
            try? await Task.sleep(for: pause)
            let tree = ProcessTree()
            let descendants = tree.descendants(of: server.pid)
            let slotMembers = descendants.filter { ForkServerProcesses.isSlotMember($0.pid) }
            let sandboxed = descendants.filter {
                !ForkServerProcesses.isSlotMember($0.pid) && ($0.uid == OrdinaryUser.id || $0.name == "pysandbox-pid1")
            }
            let slot = Int.random(in: 0..<5, using: &random) < 2
            let candidates = slot ? slotMembers : sandboxed
            guard !candidates.isEmpty else { continue }
            let victim = candidates[Int.random(in: 0..<candidates.count, using: &random)]
            await ledger.killing(tree.tags(under: victim.pid), kind: slot ? "slot" : "sandbox")
            Glibc.kill(victim.pid, SIGKILL)
        }
    }
}

/// Looks every few seconds for processes that outlive their run, and for
/// sandbox processes outside sandboxd's tree.
struct ChaosWatcher: Sendable {
    let server: ChaosServer
    let ledger: ChaosLedger
    let deadline: ContinuousClock.Instant

    /// A run's processes are gone within a second of its end (PROTOCOL.md
    /// §6.3); this much longer and one has outlived its run.
    static let grace = Duration.seconds(10)

    func work() async {
        var suspects: Set<pid_t> = []
        var sampled = ContinuousClock.now
        while ContinuousClock.now + .seconds(3) < deadline {
            try? await Task.sleep(for: .seconds(3))
            if ContinuousClock.now - sampled >= .seconds(60) {
                sampled = .now
                await ledger.sample(server.resources())
            }
            for process in ProcessTree().descendants(of: server.pid) where ChaosTag.isTag(process.name) {
                if let late = await ledger.outlived(process, grace: Self.grace) {
                    let parent = HostProcess(pid: process.parent).map { "\($0)" } ?? "gone"
                    await ledger.problem("a process of run \(process.name) (\(await ledger.kind(of: process.name))) outlived it by \(late): \(process); its parent \(parent)")
                }
            }
            // An orphan seen twice, 3 s apart, is not one on its way out.
            let orphans = Set(Self.orphans(of: server.pid).map(\.pid))
            for pid in orphans.intersection(suspects) {
                await ledger.problem("a sandbox process outside sandboxd's tree: \(HostProcess(pid: pid).map { "\($0)" } ?? "\(pid)")")
            }
            suspects = orphans
        }
    }

    /// Sandbox processes (the sandbox's user, or the launcher's names) that are not sandboxd's descendants.
    static func orphans(of server: pid_t) -> [HostProcess] {
        let tree = ProcessTree()
        let ours = Set(tree.descendants(of: server).map(\.pid))
        return tree.processes.values.filter {
            !ours.contains($0.pid) && ($0.uid == OrdinaryUser.id || $0.name.hasPrefix("pysandbox-"))
        }
    }

    /// Processes that carry a run's tag: every one of them belongs to a run or session that has ended, once all have.
    static func runProcesses() -> [HostProcess] {
        HostProcess.all().filter { ChaosTag.isTag($0.name) }
    }
}

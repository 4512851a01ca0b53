import Foundation
import SandboxProtocol
import SandboxRuntime
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Each program first names its process after its run (`/proc/self/comm`),
/// so that a killed process can be traced to its run, and a process to a run
/// that has ended.
enum ChaosTag {
    static func isTag(_ name: String) -> Bool {
        name.first == "r" && name.contains("x") && name.dropFirst().allSatisfy { $0.isNumber || $0 == "x" }
    }

    /// `code`, naming its process `tag` first: on its first line (tracebacks
    /// keep their line numbers), or on a line of its own before a compound statement.
    static func tagged(_ code: String, _ tag: String) -> String {
        let naming = "open('/proc/self/comm', 'w').write('\(tag)')"
        let compound = ["for ", "while ", "if ", "with ", "def ", "class ", "try:", "async ", "@"]
        return compound.contains { code.hasPrefix($0) } ? naming + "\n" + code : naming + "; " + code
    }
}

/// What the soak saw: its figures, what went wrong, which runs were killed,
/// and when each run ended.
actor ChaosLedger {
    private(set) var problems: [String] = []
    private(set) var counts: [String: Int] = [:]
    private var statuses: [String: Int] = [:]
    private var sessionEnds: [String: Int] = [:]
    private var killedTags: Set<String> = []
    /// Kills of processes that carried no tag (warm sandboxes, slots, a session before its first cell).
    private var untaggedKills: [ContinuousClock.Instant] = []
    /// When each tagged run (or session of cells) ended; absent while it lives.
    private var ended: [String: ContinuousClock.Instant] = [:]
    private var reported: Set<pid_t> = []
    /// sandboxd's resident memory in MiB, once a minute while the chaos runs (a trend, not a bound).
    private var residentMiB: [Int] = []

    func sample(_ resources: ServerResources) { residentMiB.append(resources.residentKb / 1024) }

    func problem(_ text: String) {
        if problems.count < 1000 { problems.append(text) }
    }

    func count(_ key: String, _ amount: Int = 1) { counts[key, default: 0] += amount }
    func verdict(_ status: String) { statuses[status, default: 0] += 1 }
    func sessionEnded(_ reason: String) { sessionEnds[reason, default: 0] += 1 }

    func killing(_ tags: [String], kind: String) {
        count("kills.\(kind)")
        if tags.isEmpty { untaggedKills.append(.now) }
        killedTags.formUnion(tags)
    }

    func wasKilled(_ tags: [String]) -> Bool { tags.contains { killedTags.contains($0) } }

    /// Whether a process without a tag was killed within `window` before now
    /// (a warm sandbox or a slot, which a later run may have been given).
    func untaggedKill(since start: ContinuousClock.Instant) -> Bool {
        untaggedKills.contains { $0 >= start }
    }

    private var kinds: [String: String] = [:]
    func label(_ tag: String, _ kind: String) { kinds[tag] = kind }

    func end(_ tags: [String]) {
        let now = ContinuousClock.now
        for tag in tags where ended[tag] == nil { ended[tag] = now }
    }

    /// A process of a run that ended more than `grace` ago, reported once.
    func outlived(_ process: HostProcess, grace: Duration) -> Duration? {
        guard let end = ended[process.name], ContinuousClock.now - end > grace, !reported.contains(process.pid) else { return nil }
        reported.insert(process.pid)
        return ContinuousClock.now - end
    }

    func kind(of tag: String) -> String { kinds[tag] ?? "?" }

    func figures(duration: Duration, before: ServerResources, after: ServerResources, seed: UInt64) -> String {
        func n(_ key: String) -> Int { counts[key] ?? 0 }
        func list(_ values: [String: Int]) -> String {
            values.sorted { $0.value > $1.value }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        }
        let kills = n("kills.slot") + n("kills.sandbox")
        return """
            chaos figures: \(Int(duration / .seconds(1))) s, seed \(seed); \
            runs \(n("runs")) accepted (\(n("refused")) refused), sessions \(n("sessions")) (\(n("sessionsRefused")) refused) with \(n("cells")) cells, \
            cancels \(n("cancels")), drops \(n("drops")) connections (\(n("resets")) reset) with \(n("droppedRuns")) runs in flight, \
            kills \(kills) (fork-server slots \(n("kills.slot")), sandbox processes \(n("kills.sandbox"))), \
            verdicts \(statuses.values.reduce(0, +)): \(list(statuses)); killed runs' verdicts \(n("disturbed")); \
            session ends: \(list(sessionEnds)); \
            sandboxd fds \(before.openFiles) -> \(after.openFiles), threads \(before.threads) -> \(after.threads), \
            RSS \(before.residentKb / 1024) -> \(after.residentKb / 1024) MiB (under load, a minute apart: \(residentMiB.map(String.init).joined(separator: " ")))
            """
    }
}

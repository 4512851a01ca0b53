import Foundation
import SandboxProtocol
import SandboxRuntime
import Synchronization

/// Who hears that a session ended by itself (`session/ended`).
protocol SessionObserver: Sendable {
    func sessionEnded(_ session: ServerSession, reason: SessionEndReason, message: String?)
}

/// A session (`session/open`) as the server holds it: its sandbox, the
/// connection that owns it, and its runs, which execute one at a time in
/// the order sent. The run at its head is the scheduler's (queued for a
/// worker, or executing); the others wait here. `SessionService` watches it.
final class ServerSession: Sendable {
    /// Why a session ended, as the server tells it.
    enum Ending: Sendable, Equatable {
        /// `session/close`: no notification.
        case closedByClient
        /// Its connection went away: nobody to notify.
        case connectionClosed
        case ended(SessionEndReason, message: String?)

        var reason: String {
            switch self {
            case .closedByClient: "closed"
            case .connectionClosed: "connection closed"
            case .ended(let reason, _): reason.rawValue
            }
        }
    }

    let id: String
    let owner: ClientID
    let sandbox: any SandboxSession
    let idleTimeout: Duration
    /// The package set its cells import, held until its sandbox has ended.
    let packageLease: PackageLease?
    /// Its package sets: the one it opened with, and what `pip install` added in its cells.
    let packages: PackageHolding
    private let observer: any SessionObserver
    /// Hands a run that reached the head of the session to the scheduler.
    private let dispatch: @Sendable (RunJob) -> Void
    /// Cancels a run that reached the scheduler, wherever it is there (queued, running).
    private let withdraw: @Sendable (RunJob) async -> Void
    private let state = Mutex(State())

    private struct State {
        var head: RunJob?
        var waiting: [RunJob] = []
        var lastActivity = ContinuousClock.now
        var ending: Ending?
        /// Taken by another client under pressure (`claimForReclaim`): no
        /// more runs, and it ends `reclaimed` whatever ends it first.
        var reclaimed = false
        var notified = false
        /// Runs released from the head (`release`) whose verdict is not out
        /// yet: the session's end is told after them.
        var answering = 0
    }
    /// Its end told (`notified`): `close` callers look again.
    private let endTold = EventCount()

    init(
        owner: ClientID, sandbox: any SandboxSession, idleTimeout: Duration, packageLease: PackageLease? = nil,
        packageSet: PackageRequirementSet? = nil, observer: any SessionObserver, dispatch: @escaping @Sendable (RunJob) -> Void,
        withdraw: @escaping @Sendable (RunJob) async -> Void
    ) {
        self.packageLease = packageLease
        packages = PackageHolding(set: packageSet)
        id = Self.makeID()
        self.owner = owner
        self.sandbox = sandbox
        self.idleTimeout = idleTimeout
        self.observer = observer
        self.dispatch = dispatch
        self.withdraw = withdraw
    }

    /// `s-` and 24 random hex digits: unguessable, though only its connection may use it.
    private static func makeID() -> String {
        var generator = SystemRandomNumberGenerator()
        return "s-" + (0..<3).map { _ in String(format: "%016llx", generator.next() as UInt64) }.joined().prefix(24)
    }

    /// What to do with a run accepted for this session.
    enum Admission {
        /// It is at the head: hand it to the scheduler.
        case schedule
        /// It waits behind `position` runs of this session.
        case queued(position: Int)
    }

    func admit(_ job: RunJob) throws(RPCError) -> Admission {
        try state.withLock { state throws(RPCError) -> Admission in
            if let ending = state.ending ?? (state.reclaimed ? Self.reclaimedEnding : nil) {
                throw RPCError(.sessionEnded, ending.reason, data: .object(["reason": .string(ending.reason)]))
            }
            state.lastActivity = .now
            guard state.head != nil else {
                state.head = job
                return .schedule
            }
            state.waiting.append(job)
            return .queued(position: state.waiting.count)
        }
    }

    /// Takes `job` as its head if nothing of it is queued or running and it
    /// is open: a completion that must not wait behind a run.
    func admitIfIdle(_ job: RunJob) -> Bool {
        state.withLock { state in
            guard state.ending == nil, !state.reclaimed, state.head == nil, state.waiting.isEmpty else { return false }
            state.lastActivity = .now
            state.head = job
            return true
        }
    }

    /// A run of this session has its verdict: the next one goes to the scheduler.
    func finished(_ job: RunJob) {
        perform(release(job))
    }

    /// What follows a run's release (`release`), done once its verdict is out.
    enum Release: Sendable {
        /// A run that never reached the head.
        case none
        /// The head's release: the next run of the session, if one waits.
        case head(next: RunJob?)
    }

    /// Frees the head `job` held, before its verdict is sent: a request sent
    /// on seeing the verdict (a completion, say) must find the session idle.
    /// What the release calls for happens in `perform`, after the verdict,
    /// so that `session/ended` never comes before it.
    func release(_ job: RunJob) -> Release {
        state.withLock { state -> Release in
            state.lastActivity = .now
            guard state.head === job else {
                state.waiting.removeAll { $0 === job }  // one that never reached the head
                return .none
            }
            state.head = state.ending == nil && !state.waiting.isEmpty ? state.waiting.removeFirst() : nil
            state.answering += 1
            return .head(next: state.head)
        }
    }

    func perform(_ release: Release) {
        guard case .head(let next) = release else { return }
        let idle = state.withLock { state -> Bool in
            state.answering -= 1
            return state.ending != nil && state.head == nil && state.answering == 0
        }
        if idle { endedAndIdle() } else if let next { dispatch(next) }
    }

    /// Ends a run still waiting behind the head with `cancelled`; false if it is not waiting here.
    func cancelWaiting(_ job: RunJob) -> Bool {
        let removed = state.withLock { state in
            guard let index = state.waiting.firstIndex(where: { $0 === job }) else { return false }
            state.waiting.remove(at: index)
            return true
        }
        if removed { job.finishWithoutRunning(.cancelled) }
        return removed
    }

    /// Whether it has had no run queued or running for its idle timeout.
    var isIdle: Bool {
        state.withLock { $0.head == nil && $0.waiting.isEmpty && $0.lastActivity + idleTimeout <= .now }
    }

    var isEnded: Bool { state.withLock { $0.ending != nil } }

    /// How long it has had no run queued or running, if that is at least
    /// `minimum` and it is open: a session whose place may be reclaimed.
    func reclaimableIdleTime(minimum: Duration) -> Duration? {
        state.withLock { state in
            guard state.ending == nil, !state.reclaimed, state.head == nil, state.waiting.isEmpty else { return nil }
            let idle = ContinuousClock.now - state.lastActivity
            return idle >= minimum ? idle : nil
        }
    }

    /// Marks it reclaimed if it is still reclaimable (checked with `admit`
    /// under one lock, so no run slips in); then `close(Self.reclaimedEnding)`.
    func claimForReclaim(minimum: Duration) -> Bool {
        state.withLock { state in
            guard state.ending == nil, !state.reclaimed, state.head == nil, state.waiting.isEmpty,
                  ContinuousClock.now - state.lastActivity >= minimum
            else { return false }
            state.reclaimed = true
            return true
        }
    }

    static let reclaimedEnding = Ending.ended(
        .reclaimed, message: "every session place was taken and another client asked for one: this idle session's place went to it")

    /// Ends the session: runs waiting here end `cancelled`, the running one
    /// is killed (`cancelled`). Returns once its last verdict is out.
    func close(_ ending: Ending) async {
        end(ending)
        sandbox.close()
        // A head still queued for a worker ends now: it would hold the close
        // (and its connection's messages) until another run freed one.
        if let head = state.withLock({ $0.head }) { await withdraw(head) }
        await endTold.wait(until: { state.withLock { $0.notified } })
    }

    /// The sandbox ended by itself (or after `close`): say why, once its last verdict is out.
    func sandboxEnded(_ end: SandboxSessionEnd) {
        switch end {
        case .closed: self.end(.ended(.crashed, message: "the session's sandbox was closed"))
        case .memoryLimit: self.end(.ended(.memoryLimit, message: nil))
        case .cpuLimit: self.end(.ended(.cpuLimit, message: nil))
        case .crashed(let message): self.end(.ended(.crashed, message: message))
        case .killed: self.end(.ended(.killed, message: "a run did not stop when interrupted"))
        case .failed(let message): self.end(.ended(.crashed, message: "the sandbox failed: \(message)"))
        }
    }

    /// Records why it ended (the first reason counts) and ends the runs
    /// waiting here; the head ends on its own.
    private func end(_ ending: Ending) {
        let (waiting, idle) = state.withLock { state -> ([RunJob], Bool) in
            guard state.ending == nil else { return ([], false) }
            // Once reclaimed, that is what its client is told, even if the idle timeout came first.
            if state.reclaimed, case .ended = ending { state.ending = Self.reclaimedEnding } else { state.ending = ending }
            defer { state.waiting = [] }
            return (state.waiting, state.head == nil && state.answering == 0)
        }
        // The head ends by itself: its cell's verdict says how the session's
        // end cut it short, and one not started yet finds the session ended.
        for job in waiting { job.finishWithoutRunning(.cancelled, message: "the session ended (\(ending.reason))") }
        if idle { endedAndIdle() }
    }

    /// Ended, and its last verdict is out: notify once, wake `close` callers.
    private func endedAndIdle() {
        let ending = state.withLock { state -> Ending? in
            guard !state.notified, state.ending != nil else { return nil }
            state.notified = true
            return state.ending
        }
        guard let ending else { return }
        if case .ended(let reason, let message) = ending { observer.sessionEnded(self, reason: reason, message: message) }
        endTold.notifyAll()
    }
}

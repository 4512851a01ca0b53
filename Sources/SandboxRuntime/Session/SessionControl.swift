import NIOCore
import NIOPosix
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The service's words to a session's slot, on its stop socket
/// (sandbox/launcher/fork_server.c): a cell begins (with its CPU limit),
/// ends, is interrupted; the session is stopped. A stop that does not end
/// the session within `RunKiller.escalationDelay` kills the slot. The
/// socket is written and closed under one lock: a number closed once the
/// session has ended could by then belong to anything else.
final class SessionControl: Sendable {
    private struct State {
        var stop: CInt = -1
        var slot: ForkServerSlot?
        var stopRequested = false
        var finished = false
        var escalation: Scheduled<Void>?
        /// The cell begun last (numbered from 1), and whether it has not ended yet.
        var cell = 0
        var cellOpen = false
    }

    private let state = Mutex(State())

    /// The session runs in `slot`; a stop asked for before is carried out now.
    func attach(stop: CInt, slot: ForkServerSlot) {
        state.withLock { state in
            state.stop = stop
            state.slot = slot
            if state.stopRequested { terminate(&state) }
        }
    }

    /// A cell begins; returns its number, which its interrupts name.
    func beginCell(cpuLimit: Duration) -> Int {
        var microseconds = UInt64(max(1, cpuLimit / .microseconds(1)))
        let word = [UInt8(ascii: "b")] + withUnsafeBytes(of: &microseconds) { Array($0) }
        return state.withLock { state in
            state.cell += 1
            state.cellOpen = true
            send(word, &state)
            return state.cell
        }
    }

    func endCell() {
        state.withLock { state in
            state.cellOpen = false
            send([UInt8(ascii: "e")], &state)
        }
    }

    /// Interrupts cell `number` if it has not ended: an interrupt decided
    /// just before its cell ended must not reach the next one (a REPL's next
    /// line got the KeyboardInterrupt meant for the line over the output limit).
    func interrupt(cell number: Int) {
        state.withLock { state in
            guard state.cellOpen, state.cell == number else { return }
            send([UInt8(ascii: "i")], &state)
        }
    }

    /// Rolls cell `number` back if it has not ended (a session that rolls
    /// back): the session goes on as it was before it.
    func rollBack(cell number: Int) {
        state.withLock { state in
            guard state.cellOpen, state.cell == number else { return }
            send([UInt8(ascii: "r")], &state)
        }
    }

    /// Ends the session, at most once; before `attach`, as soon as it comes.
    func stop() {
        state.withLock { state in
            guard !state.stopRequested, !state.finished else { return }
            state.stopRequested = true
            if state.stop >= 0 { terminate(&state) }
        }
    }

    var stopRequested: Bool { state.withLock { $0.stopRequested } }

    /// A duplicate of the stop socket, for a cell's package mounts
    /// (`PackagesChannel`); nil once the session has ended.
    func duplicateStop() -> CInt? {
        state.withLock { state in
            guard state.stop >= 0, !state.finished else { return nil }
            let copy = dup(state.stop)
            return copy >= 0 ? copy : nil
        }
    }

    /// The session's run has ended (its status channel closed): no more words.
    func finish() {
        state.withLock { state in
            state.finished = true
            state.escalation?.cancel()
            if state.stop >= 0 { close(state.stop) }
            state.stop = -1
        }
    }

    private func send(_ word: [UInt8], _ state: inout State) {
        guard state.stop >= 0, !state.finished, !state.stopRequested else { return }
        _ = word.withUnsafeBytes { Glibc.send(state.stop, $0.baseAddress, $0.count, CInt(MSG_NOSIGNAL)) }
    }

    private func terminate(_ state: inout State) {
        _ = withUnsafeBytes(of: UInt8(ascii: "s")) { Glibc.send(state.stop, $0.baseAddress, 1, CInt(MSG_NOSIGNAL)) }
        let slot = state.slot
        state.escalation = MultiThreadedEventLoopGroup.singleton.any().scheduleTask(in: RunKiller.escalationDelay) {
            [self] in
            self.state.withLock { state in
                if !state.finished { slot?.kill() }
            }
        }
    }
}

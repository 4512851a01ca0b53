import Foundation
import SandboxClient
import SandboxProtocol
import Synchronization
import UnixSignals

/// Ctrl-C while runs are going: the first asks the service to cancel them
/// (they end as `cancelled` and their verdicts still print); the second quits.
final class Interrupts: Sendable {
    private struct State {
        var ids: [Int64]
        var interrupted = false
    }

    private let state: Mutex<State>
    private let connection: ProtocolConnection
    private let watcher: Mutex<Task<Void, Never>?> = Mutex(nil)

    private init(ids: [Int64], connection: ProtocolConnection) {
        state = Mutex(State(ids: ids))
        self.connection = connection
    }

    static func cancelling(ids: [Int64], on connection: ProtocolConnection) async -> Interrupts {
        let interrupts = Interrupts(ids: ids, connection: connection)
        let signals = await UnixSignalsSequence(trapping: .sigint)
        let watcher = Task { [interrupts] in
            for await _ in signals {
                let (again, ids) = interrupts.state.withLock { state in
                    defer { state.interrupted = true }
                    return (state.interrupted, state.ids)
                }
                if again { exit(ExitStatus.interrupted) }
                Console.note("cancelling (Ctrl-C again to quit)")
                ids.forEach(interrupts.cancel)
            }
        }
        interrupts.watcher.withLock { $0 = watcher }
        return interrupts
    }

    /// A run sent after Ctrl-C is cancelled at once.
    func add(_ id: Int64) {
        let interrupted = state.withLock { state in
            state.ids.append(id)
            return state.interrupted
        }
        if interrupted { cancel(id) }
    }

    private func cancel(_ id: Int64) {
        connection.notify(Method.cancelRequest, ["id": JSONValue.integer(id)])
    }

    func stop() {
        watcher.withLock { $0?.cancel() }
    }
}

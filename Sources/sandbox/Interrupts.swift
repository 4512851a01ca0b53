import Foundation
import SandboxClient
import SandboxProtocol
import Synchronization
import UnixSignals

/// Ctrl-C while runs are going: the first asks the service to cancel them
/// (they end as `cancelled` and their verdicts still print); the second quits.
final class Interrupts: Sendable {
    private let ids: Mutex<[Int64]>
    private let watcher: Mutex<Task<Void, Never>?> = Mutex(nil)

    private init(ids: [Int64]) {
        self.ids = Mutex(ids)
    }

    static func cancelling(ids: [Int64], on connection: ProtocolConnection) async -> Interrupts {
        let interrupts = Interrupts(ids: ids)
        let signals = await UnixSignalsSequence(trapping: .sigint)
        let watcher = Task { [interrupts] in
            var interrupted = false
            for await _ in signals {
                if interrupted { exit(130) }
                interrupted = true
                Console.note("cancelling (Ctrl-C again to quit)")
                for id in interrupts.ids.withLock({ $0 }) {
                    connection.notify(Method.cancelRequest, ["id": JSONValue.integer(id)])
                }
            }
        }
        interrupts.watcher.withLock { $0 = watcher }
        return interrupts
    }

    func add(_ id: Int64) {
        ids.withLock { $0.append(id) }
    }

    func stop() {
        watcher.withLock { $0?.cancel() }
    }
}

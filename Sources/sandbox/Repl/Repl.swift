import Foundation
import SandboxClient
import SandboxProtocol
import UnixSignals

/// `sandbox repl` over one connection: starts what feeds the loop (stdin's
/// reader thread, the session/ended relay, the signal watcher) and runs
/// the loop until it decides the exit status.
struct Repl: Sendable {
    let connection: ProtocolConnection
    let settings: ReplSettings

    func run(info: InitializeResult) async throws -> Int32 {
        let (inputs, sink) = AsyncStream.makeStream(of: ReplInput.self)
        Self.readStandardInput(into: sink)
        let signals = await UnixSignalsSequence(trapping: .sigint, .sigterm, .sighup)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for await ended in connection.endedSessions { sink.yield(.sessionEnded(ended)) }
            }
            group.addTask {
                for await signal in signals {
                    sink.yield(signal == .sigint ? .signalInterrupt : .signalTerminate(signal.rawValue))
                }
            }
            defer { group.cancelAll() }
            var loop = try await ReplLoop(connection: connection, settings: settings, capabilities: info.capabilities, sink: sink)
            if settings.interactive { loop.greet(info) }
            return try await loop.run(inputs, tasks: &group)
        }
    }

    /// Reads stdin on a thread of its own (reads block). The thread is not
    /// joined: it may be blocked in read() when the REPL ends, and ends with the process.
    private static func readStandardInput(into sink: AsyncStream<ReplInput>.Continuation) {
        Thread {
            var buffer = [UInt8](repeating: 0, count: 16 * 1024)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(STDIN_FILENO, $0.baseAddress, $0.count) }
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else { break }
                sink.yield(.stdin(Array(buffer[..<count])))
            }
            sink.yield(.stdinEnded)
        }.start()
    }
}

/// How `sandbox repl` was asked to behave.
struct ReplSettings: Sendable {
    /// Stdin is a terminal: prompts, line editing, and a new session when one ends by itself.
    var interactive: Bool
    var session: SessionOpenParams
    /// Each snippet's wall-clock and CPU time limits (nil: the server's defaults).
    var timeoutMs: Int?
    var cpuTimeMs: Int?
    /// Each snippet's output limit (nil: the server's default).
    var maxOutputBytes: Int?
}

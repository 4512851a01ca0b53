import SandboxClient
import SandboxProtocol

/// Everything the REPL waits for, in the one stream its loop reads: stdin,
/// the snippet running, the session, and signals.
enum ReplInput: Sendable {
    /// Bytes of stdin (keys at a terminal, or piped text).
    case stdin([UInt8])
    case stdinEnded
    /// SIGINT from outside (at a terminal, Ctrl-C arrives as a byte instead).
    case signalInterrupt
    /// SIGTERM, or SIGHUP (the terminal went away): the REPL ends as the signal would.
    case signalTerminate(Int32)
    /// An event of the snippet running.
    case run(ClientEvent)
    /// The events of the snippet `id` ended; with the error that ended them, if any.
    case runEventsEnded(id: Int64, (any Error)?)
    /// A session of the connection ended by itself (`session/ended`).
    case sessionEnded(SessionEndedParams)
}

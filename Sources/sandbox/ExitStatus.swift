import ArgumentParser
import SandboxClient
import SandboxProtocol

/// How `sandbox` exits; the numbers follow `timeout(1)` and sysexits.h.
/// argument-parser exits 64 (EX_USAGE) for a command line it cannot take.
enum ExitStatus {
    static let timeout: Int32 = 124
    static let memoryLimit: Int32 = 137
    /// Output limit, killed by a signal, cancelled, or the service failed.
    static let otherVerdict: Int32 = 125
    /// EX_UNAVAILABLE: the service cannot be reached, or the connection was lost.
    static let unreachable: Int32 = 69
    /// EX_DATAERR: the service rejected the request (invalid params, queue full, …), or a
    /// package requirement cannot be had as asked (malformed, not allowed, no such package,
    /// version or wheel, unsatisfiable, too large).
    static let rejected: Int32 = 65
    /// EX_NOINPUT: a file named on the command line cannot be read.
    static let noInput: Int32 = 66
    /// EX_NOPERM: the service refused the connection (token missing or wrong, origin not allowed).
    static let noPermission: Int32 = 77
    /// EX_CANTCREAT: the folder of --save cannot be made, or an item could not be saved into it
    /// (a file is already there, or the verdict lists a file no --return pattern asked for).
    static let cannotSave: Int32 = 73
    /// 128 + SIGINT: a second Ctrl-C quits at once.
    static let interrupted: Int32 = 130

    static let help = """
        Exit status:
          the program's exit code   when it ran to its end (status ok or error)
          124                       the run hit its time limit or CPU time limit
          137                       the run hit its memory limit
          125                       output limit, killed by a signal, cancelled, or an internal error
          69                        the service cannot be reached, or the connection was lost; or it cannot
                                    install packages now: it offers none, its index cannot be reached, the
                                    install timed out or failed
          65                        the service rejected the request (e.g. a limit outside its range, queue full),
                                    or a package cannot be had as asked: a requirement is malformed (a line of
                                    --requirements is named as FILE:LINE), not on the service's list, no such
                                    package, version or wheel, the set is unsatisfiable or too large
          64                        the command line is wrong (unknown option, bad value, options that do not go together)
          66                        a file named on the command line cannot be read
          77                        the service refused the connection: a token is missing or wrong
          73                        --save: its folder cannot be made, or an item was not saved (its file
                                    exists: nothing is replaced; or no --return pattern asked for it)
          130                       a second Ctrl-C quit at once
          1                         any other failure, printed on stderr
        With several files, the first file (in command-line order) whose status is not 0 decides.
        An item --save could not write makes the status 73 only where it would be 0.
        """

    /// The status for a failure before any verdict.
    static func of(_ error: ClientError) -> Int32 {
        switch error {
        case .rejected(let refusal): of(refusal)
        case .refused(let status, _) where status == 401 || status == 403: noPermission
        default: unreachable
        }
    }

    /// The status for a request the service answered with an error: 65,
    /// or 69 when its packages cannot be had for a reason of the service's
    /// (PROTOCOL.md, "Packages"): trying again later, or elsewhere, may work.
    static func of(_ refusal: RPCError) -> Int32 {
        guard refusal.code == RPCErrorCode.packagesUnavailable.rawValue else { return rejected }
        switch refusal.data?["reason"]?.stringValue ?? "" {
        case "disabled", "indexUnreachable", "timedOut", "installerFailed", "unavailable": return unreachable
        case "cancelled": return otherVerdict
        default: return rejected
        }
    }

    static func of(_ verdict: RunResult) -> Int32 {
        switch verdict.status {
        case .ok, .error: Int32(clamping: verdict.exitCode ?? 1)
        case .timeout: timeout
        case .memoryLimit: memoryLimit
        case .outputLimit, .killed, .cancelled, .internalError: otherVerdict
        }
    }
}

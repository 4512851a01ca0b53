import Crypto
import Foundation
import SandboxProtocol

/// One line of the audit log: a run as it ended, or a run refused before
/// it started. The code itself is never written: its SHA-256 and size say
/// which program it was to whoever holds it.
struct AuditEntry: Encodable, Sendable {
    var time: String
    var node: String
    var tenant: String
    /// The client's address (behind a trusted proxy, the one it forwards).
    var client: String
    /// `ws`, `http` or `mcp`.
    var via: String
    /// The connection (`c12`); none for `POST /v1/run`.
    var connection: String?
    var run: JSONValue
    var session: String?
    var codeSha256: String?
    var codeBytes: Int?
    var packages: [String]?
    /// The verdict's status, or `refused`.
    var status: String
    var limit: String?
    var exitCode: Int?
    var signal: Int?
    var cpuMs: Int?
    var wallMs: Int?
    var queuedMs: Int?
    var peakMemoryKb: Int?
    var outputBytes: Int?
    var rolledBack: Bool?
    /// Why a run was refused: its error.
    var error: RPCError?

    static func sha256(of code: String) -> String {
        SHA256.hash(data: Data(code.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    static func now() -> String {
        Date().formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}

/// Where a run came from, for its audit line.
struct AuditOrigin: Sendable {
    var client: String
    var via: String
    var connection: ClientID?
}

import Foundation
import Logging
import NIOPosix
import SandboxProtocol
import ServiceLifecycle
import Synchronization
import UnixSignals

#if canImport(Glibc)
import Glibc
#endif

/// Where the audit log goes (`--audit-log`).
public enum AuditDestination: Sendable, Equatable {
    case standardOutput
    case file(String)

    /// `-` is standard output; anything else a file's path.
    public init(parsing text: String) {
        self = text == "-" ? .standardOutput : .file(text)
    }
}

/// `--audit-log FILE` (or `-`, standard output): one JSON line per run when
/// it ends, and per run refused. Lines wait in a bounded buffer that one
/// writer drains off the runs' path: a slow or full disk costs lines
/// (counted, `pysandbox_audit_lines_dropped_total`, and logged), never a
/// run's time. SIGHUP reopens the file (logrotate's convention).
final class AuditLog: Service {
    typealias Destination = AuditDestination

    let destination: Destination
    private let node: String
    private let metrics: ServerMetrics
    private let logger: Logger
    /// Bytes of lines that may wait for the writer.
    private let capacity: Int

    private struct State {
        var lines: [UInt8] = []
        var dropped = 0
        var writing = true
    }

    private let state = Mutex(State())
    private let wake = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    private let descriptor = Mutex<Int32>(-1)
    /// Its own writer thread: a stalled disk holds this one, not NIO's shared blocking pool.
    private let thread = NIOThreadPool(numberOfThreads: 1)

    /// Opens the file now: a path that cannot be written stops sandboxd at start.
    init(_ destination: Destination, node: String, metrics: ServerMetrics, logger: Logger, capacity: Int = 8 << 20) throws(ConfigurationError) {
        self.destination = destination
        self.node = node
        self.metrics = metrics
        self.logger = logger
        self.capacity = capacity
        thread.start()
        if case .file(let path) = destination {
            let fd = Self.open(path)
            guard fd >= 0 else { throw ConfigurationError(message: "--audit-log \(path): \(String(cString: strerror(errno)))") }
            descriptor.withLock { $0 = fd }
        } else {
            descriptor.withLock { $0 = STDOUT_FILENO }
        }
    }

    deinit {
        thread.shutdownGracefully { _ in }
        let fd = descriptor.withLock { $0 }
        if fd > STDOUT_FILENO { close(fd) }
    }

    private static func open(_ path: String) -> Int32 {
        Glibc.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
    }

    /// A run's verdict.
    func ended(_ job: RunJob, _ result: RunResult, origin: AuditOrigin) {
        var entry = entry(for: job, origin: origin, status: result.status.rawValue)
        entry.limit = result.limit?.rawValue
        entry.exitCode = result.exitCode
        entry.signal = result.signal
        entry.cpuMs = result.cpuMs
        entry.wallMs = result.wallMs
        entry.queuedMs = result.queuedMs
        entry.peakMemoryKb = result.peakMemoryKb ?? result.maxRssKb
        entry.outputBytes = result.stdoutBytes + result.stderrBytes + result.displayBytes
        entry.rolledBack = result.rolledBack ? true : nil
        append(entry)
    }

    /// A run accepted and then refused (its packages could not be had).
    func refused(_ job: RunJob, _ error: RPCError, origin: AuditOrigin) {
        var entry = entry(for: job, origin: origin, status: "refused")
        entry.error = error
        append(entry)
    }

    /// A run refused before it was accepted: `code` when its params had one.
    func refused(run: JSONValue, code: String?, tenant: String, origin: AuditOrigin, _ error: RPCError) {
        append(AuditEntry(
            time: AuditEntry.now(), node: node, tenant: tenant, client: origin.client, via: origin.via,
            connection: origin.connection?.description, run: run, codeSha256: code.map(AuditEntry.sha256), codeBytes: code?.utf8.count,
            status: "refused", error: error))
    }

    private func entry(for job: RunJob, origin: AuditOrigin, status: String) -> AuditEntry {
        let request = job.request
        return AuditEntry(
            time: AuditEntry.now(), node: node, tenant: job.account.name, client: origin.client, via: origin.via,
            connection: origin.connection?.description, run: job.id, session: job.session?.id,
            codeSha256: AuditEntry.sha256(of: request.code), codeBytes: request.code.utf8.count,
            packages: job.packages.set?.canonicalLines, status: status)
    }

    private func append(_ entry: AuditEntry) {
        guard var line = try? JSONEncoder.protocolEncoder.encode(entry) else { return }
        line.append(UInt8(ascii: "\n"))
        let kept = state.withLock { state -> Bool in
            guard state.lines.count + line.count <= capacity else {
                state.dropped += 1
                return false
            }
            state.lines.append(contentsOf: line)
            return true
        }
        if kept { wake.continuation.yield() } else { metrics.auditDropped() }
    }

    func run() async throws {
        await withDiscardingTaskGroup { group in
            if case .file = destination {
                group.addTask {
                    for await _ in await UnixSignalsSequence(trapping: .sighup) { self.reopen() }
                }
            }
            group.addTask {
                for await _ in self.wake.stream { await self.drain() }
            }
            try? await gracefulShutdown()
            group.cancelAll()
        }
        // The runs have drained (the scheduler stops first): their lines are
        // written before sandboxd exits, even when it is cancelled.
        wake.continuation.finish()
        await Task { await self.drain() }.value
    }

    /// Reopens the file at its path: logrotate moved the old one away.
    func reopen() {
        guard case .file(let path) = destination else { return }
        let fd = Self.open(path)
        guard fd >= 0 else {
            logger.error("audit log not reopened; writing on to the old file", metadata: [
                "path": "\(path)", "error": "\(String(cString: strerror(errno)))",
            ])
            return
        }
        let old = descriptor.withLock { descriptor in
            defer { descriptor = fd }
            return descriptor
        }
        close(old)
        logger.info("audit log reopened", metadata: ["path": "\(path)"])
    }

    /// Writes every waiting line, on a thread of NIO's blocking pool.
    private func drain() async {
        let (lines, dropped) = state.withLock { state in
            defer { state.lines = []; state.dropped = 0 }
            return (state.lines, state.dropped)
        }
        if dropped > 0 {
            logger.warning("audit lines dropped: the log is not written as fast as runs end", metadata: ["lines": "\(dropped)"])
        }
        guard !lines.isEmpty else { return }
        let written = (try? await thread.runIfActive { self.write(lines) }) ?? .failure(.init(errno: ECANCELED))
        if case .failure(let error) = written {
            metrics.auditWriteFailed()
            let wasWriting = state.withLock { state in
                defer { state.writing = false }
                return state.writing
            }
            if wasWriting {
                logger.error("audit log cannot be written; its lines are lost until it can", metadata: ["error": "\(error)"])
            }
        } else {
            state.withLock { $0.writing = true }
        }
    }

    private func write(_ bytes: [UInt8]) -> Result<Void, AuditWriteError> {
        descriptor.withLock { fd in
            var offset = 0
            while offset < bytes.count {
                let count = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
                if count < 0 {
                    if errno == EINTR { continue }
                    return .failure(AuditWriteError(errno: errno))
                }
                offset += count
            }
            return .success(())
        }
    }
}

struct AuditWriteError: Error, CustomStringConvertible {
    var errno: Int32
    var description: String { String(cString: strerror(errno)) }
}

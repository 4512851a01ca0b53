import Foundation
import NIOPosix
import SandboxProtocol
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A program's `pip install`: a `packages` frame on its stdout, written by
/// the sandbox's pip (`PipShim`). It carries the requirements as the
/// program wrote them, untrusted; the service decides what to install,
/// `mount`s the layer into the running sandbox, and `answer`s the program,
/// which waits for that answer on its request channel.
public struct PackagesWanted: Sendable {
    public let requirements: [String]
    let channel: PackagesChannel

    /// Mounts `layer` read-only over the sandbox's package folder, on top
    /// of any layer there: what the program imports next comes from it.
    /// nil once mounted; else why not.
    public func mount(_ layer: PackageLayer) async -> String? {
        await channel.mount(layer.sitePackages)
    }

    /// Tells the program how its install ended; it prints that as pip would.
    public func answer(_ answer: PackagesAnswer) {
        channel.reply(answer.line)
    }
}

/// The service's answer to a `PackagesWanted`: one JSON line on the
/// program's request channel.
public enum PackagesAnswer: Sendable, Equatable {
    /// The set is mounted; these are its packages, pinned.
    case installed([PinnedPackage])
    /// Nothing was installed: the JSON-RPC code, `data.reason`, the
    /// requirement concerned, and words for the program's user.
    case refused(code: Int, reason: String, requirement: String?, message: String)

    var line: [UInt8] {
        var object: [String: JSONValue]
        switch self {
        case .installed(let packages):
            object = ["ok": .bool(true), "installed": .array(packages.map {
                .object(["name": .string($0.name), "version": .string($0.version)])
            })]
        case .refused(let code, let reason, let requirement, let message):
            object = ["ok": .bool(false), "code": .integer(Int64(code)), "reason": .string(reason), "message": .string(message)]
            if let requirement { object["requirement"] = .string(requirement) }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let data = (try? encoder.encode(JSONValue.object(object))) ?? Data(#"{"ok":false,"message":"unencodable"}"#.utf8)
        return Array(data) + [UInt8(ascii: "\n")]
    }
}

/// One run's (or session cell's) way back to its program for `pip
/// install`: the write end of the pipe it reads answers from, and how a
/// layer gets into its mount namespace; both known once the sandbox has
/// started (`attach`). Closed when the run ends; what comes after is dropped.
final class PackagesChannel: Sendable {
    private struct State {
        var answers: CInt = -1
        /// A duplicate of the run's stop socket, through which its slot mounts a layer; -1 without a slot.
        var stop: CInt = -1
        var closed = false
    }

    private let state = Mutex(State())

    /// The channel takes both descriptors (closed with it); `stop` nil: no
    /// slot to mount through (`--isolation exec`).
    func attach(answers: CInt, stop: CInt?) {
        let late = state.withLock { state -> Bool in
            guard !state.closed else { return true }
            (state.answers, state.stop) = (answers, stop ?? -1)
            return false
        }
        if late {
            Glibc.close(answers)
            if let stop { Glibc.close(stop) }
        }
    }

    func mount(_ path: String) async -> String? {
        let (stop, closed) = state.withLock { state in
            (state.stop >= 0 && !state.closed ? dup(state.stop) : -1, state.closed)
        }
        if closed { return "the run has ended" }
        guard stop >= 0 else { return "this run has no fork-server slot to mount packages through" }
        return await Self.mountThroughSlot(stop: stop, path: path)
    }

    /// A line of at most a few KiB into a pipe the program drains: written at once, or dropped.
    func reply(_ line: [UInt8]) {
        state.withLock { state in
            guard state.answers >= 0, !state.closed else { return }
            _ = line.withUnsafeBytes { write(state.answers, $0.baseAddress, $0.count) }
        }
    }

    func close() {
        state.withLock { state in
            if state.answers >= 0 { Glibc.close(state.answers) }
            if state.stop >= 0 { Glibc.close(state.stop) }
            (state.answers, state.stop, state.closed) = (-1, -1, true)
        }
    }

    /// A pipe the run's processes may open again through /proc (mode 0666;
    /// only its own processes can reach its /proc/PID/fd).
    static func openToTheRun(_ pipe: CInt) {
        _ = fchmod(pipe, 0o666)
    }

    /// Mounts through a fork-server slot: the layer's word on the run's
    /// stop socket (sandbox/launcher/layer_mount.c), and the slot's answer
    /// on it. `stop` is a duplicate this call owns: the run's own may close
    /// meanwhile.
    static func mountThroughSlot(stop: CInt, path: String) async -> String? {
        let bytes = Array(path.utf8)
        guard bytes.count < 4096 else {
            Glibc.close(stop)
            return "the layer's path is too long"
        }
        var length = UInt16(bytes.count)
        let word = [UInt8(ascii: "p")] + withUnsafeBytes(of: &length) { Array($0) } + bytes
        enum Outcome: Sendable { case mounted, failed(String) }
        let outcome = try? await NIOThreadPool.singleton.runIfActive { () -> Outcome in
            defer { Glibc.close(stop) }
            var timeout = timeval(tv_sec: 20, tv_usec: 0)
            _ = setsockopt(stop, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            let sent = word.withUnsafeBytes { Glibc.send(stop, $0.baseAddress, $0.count, CInt(MSG_NOSIGNAL)) }
            guard sent == word.count else { return .failed("the run's slot is gone") }
            var reply: [UInt8] = []
            var byte: UInt8 = 0
            while reply.count < 256 {
                let count = recv(stop, &byte, 1, 0)
                if count < 0 && errno == EINTR { continue }
                guard count == 1 else { return .failed("the run ended before its slot answered") }
                if byte == UInt8(ascii: "\n") { break }
                reply.append(byte)
            }
            let text = String(decoding: reply, as: UTF8.self)
            if text == "ok" { return .mounted }
            let fields = text.split(separator: " ")
            guard fields.count == 3, fields[0] == "error" else { return .failed("the slot answered \(text)") }
            let number = CInt(fields[2]) ?? 0
            return .failed("step \(fields[1]) failed" + (number > 0 ? ": \(String(cString: strerror(number)))" : ""))
        }
        switch outcome {
        case .mounted: return nil
        case .failed(let reason): return reason
        case nil: return "the service is stopping"
        }
    }
}

/// A run's `packages` frames, in order, as `PackagesWanted`; at most
/// `maxRequests` per run, each checked before it is passed on. Those past
/// the limit, or malformed, are answered here.
final class PackagesRequests: Sendable {
    let stream: AsyncStream<PackagesWanted>
    private let sink: AsyncStream<PackagesWanted>.Continuation
    private let received = Atomic<Int>(0)
    let channel: PackagesChannel

    /// Installs one run may ask for.
    static let maxRequests = 16
    /// Requirements one frame may name (the set's own limit is the service's).
    static let maxRequirements = 256
    /// A frame's payload, at most.
    static let maxPayload = 64 << 10

    init(channel: PackagesChannel = PackagesChannel()) {
        self.channel = channel
        (stream, sink) = AsyncStream.makeStream(of: PackagesWanted.self)
    }

    func received(_ payload: [UInt8]) {
        guard received.add(1, ordering: .relaxed).newValue <= Self.maxRequests else {
            return refuse("this run has asked for packages \(Self.maxRequests) times; no more are installed in it")
        }
        guard case .object(let object)? = try? JSONDecoder().decode(JSONValue.self, from: Data(payload)),
              case .array(let items)? = object["requirements"], !items.isEmpty, items.count <= Self.maxRequirements
        else { return refuse("pip's request to the service was malformed") }
        var requirements: [String] = []
        for item in items {
            guard case .string(let text) = item else { return refuse("pip's request to the service was malformed") }
            requirements.append(text)
        }
        sink.yield(PackagesWanted(requirements: requirements, channel: channel))
    }

    /// The run has ended: requests still unanswered get nothing.
    func finish() {
        sink.finish()
        channel.close()
    }

    private func refuse(_ message: String) {
        channel.reply(PackagesAnswer.refused(code: -32602, reason: "badRequest", requirement: nil, message: message).line)
    }
}

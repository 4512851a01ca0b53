import CSandboxSupport
import Foundation
import SandboxProtocol

#if canImport(Glibc)
import Glibc
#endif

/// A WebSocket client at the byte level, for what a well-behaved library
/// never sends: half a frame, invalid UTF-8, a burst of thousands of frames,
/// or a client that stops reading. Blocking socket calls run on threads of
/// their own, never on the cooperative pool.
final class RawWebSocket: @unchecked Sendable {
    struct Frame {
        var opcode: UInt8
        var payload: [UInt8]

        var text: String { String(decoding: payload, as: UTF8.self) }
        var json: JSONValue? { try? JSONDecoder().decode(JSONValue.self, from: Data(payload)) }
        var isClose: Bool { opcode == 0x8 }
        /// The close code of a close frame.
        var closeCode: UInt16? { isClose && payload.count >= 2 ? UInt16(payload[0]) << 8 | UInt16(payload[1]) : nil }
    }

    let fd: CInt
    /// Bytes received and not yet parsed; only the one reader touches them.
    private var received: [UInt8] = []

    private init(fd: CInt) {
        self.fd = fd
    }

    deinit { Glibc.close(fd) }

    /// A TCP connection to the server; `receiveBuffer` shrinks the socket's
    /// buffer (set before connecting, so the window stays small).
    /// `source` is the local address to connect from (any of 127.0.0.0/8 works on loopback).
    static func tcp(port: Int, receiveBuffer: Int? = nil, source: String? = nil) throws -> RawWebSocket {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket: errno \(errno)") }
        if var size = receiveBuffer {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        if let source {
            var local = sockaddr_in()
            local.sin_family = sa_family_t(AF_INET)
            local.sin_addr.s_addr = inet_addr(source)
            let bound = withUnsafePointer(to: &local) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard bound == 0 else {
                Glibc.close(fd)
                throw TestFailure("bind \(source): errno \(errno)")
            }
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            Glibc.close(fd)
            throw TestFailure("connect: errno \(errno)")
        }
        return RawWebSocket(fd: fd)
    }

    /// A TCP connection upgraded to a WebSocket at /v1/ws.
    static func connect(
        port: Int, receiveBuffer: Int? = nil, source: String? = nil, headers: [String: String] = [:]
    ) async throws -> RawWebSocket {
        let (socket, head) = try await upgrade(port: port, receiveBuffer: receiveBuffer, source: source, headers: headers)
        guard head.hasPrefix("HTTP/1.1 101") else { throw TestFailure("the upgrade was refused: \(head)") }
        return socket
    }

    /// Sends the upgrade request and returns the response head, whatever it says.
    static func upgrade(
        port: Int, receiveBuffer: Int? = nil, source: String? = nil, headers: [String: String] = [:]
    ) async throws -> (RawWebSocket, head: String) {
        let socket = try tcp(port: port, receiveBuffer: receiveBuffer, source: source)
        try await socket.send(Array(upgradeRequest(port: port, headers: headers).utf8))
        return (socket, try await socket.readHead(within: .seconds(10)))
    }

    static func upgradeRequest(port: Int, headers: [String: String] = [:]) -> String {
        "GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            + headers.map { "\($0.key): \($0.value)\r\n" }.joined() + "\r\n"
    }

    /// One client frame, masked as RFC 6455 requires.
    static func frame(opcode: UInt8, _ payload: [UInt8], fin: Bool = true) -> [UInt8] {
        var bytes: [UInt8] = [(fin ? 0x80 : 0) | opcode]
        switch payload.count {
        case ..<126: bytes.append(0x80 | UInt8(payload.count))
        case ..<65536: bytes += [0x80 | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xff)]
        default: bytes += [0x80 | 127] + (0..<8).reversed().map { UInt8(truncatingIfNeeded: payload.count >> ($0 * 8)) }
        }
        let mask: [UInt8] = (0..<4).map { _ in UInt8.random(in: 0...255) }
        bytes += mask
        bytes += payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
        return bytes
    }

    static func text(_ text: String) -> [UInt8] { frame(opcode: 0x1, Array(text.utf8)) }

    func send(_ bytes: [UInt8]) async throws {
        let fd = self.fd
        let sent = await Self.onThread { () -> Bool in
            var offset = 0
            while offset < bytes.count {
                let count = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else { return false }
                offset += count
            }
            return true
        }
        guard sent else { throw TestFailure("send failed: the server closed the connection") }
    }

    func sendText(_ text: String) async throws { try await send(Self.text(text)) }

    /// The next frame from the server; nil when the connection has closed.
    func readFrame(within timeout: Duration) async throws -> Frame? {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let frame = parseFrame() { return frame }
            guard try await receiveMore(until: deadline) else { return nil }
        }
    }

    /// Reads until the server closes the connection; the frames it sent.
    func readUntilClosed(within timeout: Duration) async throws -> [Frame] {
        var frames: [Frame] = []
        let deadline = ContinuousClock.now + timeout
        while let frame = try await readFrame(within: deadline - ContinuousClock.now) { frames.append(frame) }
        return frames
    }

    /// Whether the server closed the connection (end of file or a reset),
    /// discarding whatever it sent before.
    func discardUntilClosed(within timeout: Duration) async throws -> (bytes: Int, closed: Bool) {
        let fd = self.fd
        let deadline = ContinuousClock.now + timeout
        return try await Self.onThread { () throws -> (Int, Bool) in
            var total = 0
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            while ContinuousClock.now < deadline {
                var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                guard poll(&poller, 1, 100) >= 0 || errno == EINTR else { throw TestFailure("poll: errno \(errno)") }
                guard poller.revents != 0 else { continue }
                let count = recv(fd, &buffer, buffer.count, 0)
                if count > 0 { total += count; continue }
                if count < 0 && errno == EINTR { continue }
                return (total, true)  // 0: end of file; < 0: reset
            }
            return (total, false)
        }
    }

    func close() {
        shutdown(fd, Int32(SHUT_RDWR))
    }

    /// Everything the server sends until it closes the connection, as text (plain HTTP replies).
    func readUntilEnd(within timeout: Duration) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        while try await receiveMore(until: deadline) {}
        defer { received = [] }
        return String(decoding: received, as: UTF8.self)
    }

    // MARK: - Reading

    func readHead(within timeout: Duration) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        let separator: [UInt8] = [13, 10, 13, 10]
        while true {
            if let end = received.indices.first(where: { received[$0...].starts(with: separator) }) {
                let head = String(decoding: received[..<end], as: UTF8.self)
                received.removeFirst(end + 4)
                return head
            }
            guard try await receiveMore(until: deadline) else { throw TestFailure("closed during the handshake") }
        }
    }

    /// Appends what arrives before `deadline`; false at end of file.
    private func receiveMore(until deadline: ContinuousClock.Instant) async throws -> Bool {
        let fd = self.fd
        let chunk = try await Self.onThread { () throws -> [UInt8]? in
            while true {
                let left = deadline - ContinuousClock.now
                guard left > .zero else { throw TestFailure("timed out waiting for the server") }
                var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                let ready = poll(&poller, 1, Int32(min(left / .milliseconds(1), 1000)) + 1)
                if ready < 0 && errno != EINTR { throw TestFailure("poll: errno \(errno)") }
                guard ready > 0 else { continue }
                var buffer = [UInt8](repeating: 0, count: 1 << 16)
                let count = recv(fd, &buffer, buffer.count, 0)
                if count > 0 { return Array(buffer[..<count]) }
                if count < 0 && errno == EINTR { continue }
                return nil
            }
        }
        guard let chunk else { return false }
        received += chunk
        return true
    }

    /// A whole server frame (unmasked) from `received`, if there is one.
    private func parseFrame() -> Frame? {
        guard received.count >= 2 else { return nil }
        var length = Int(received[1] & 0x7f)
        var offset = 2
        if length == 126 {
            guard received.count >= 4 else { return nil }
            length = Int(received[2]) << 8 | Int(received[3])
            offset = 4
        } else if length == 127 {
            guard received.count >= 10 else { return nil }
            length = received[2..<10].reduce(0) { $0 << 8 | Int($1) }
            offset = 10
        }
        guard received.count >= offset + length else { return nil }
        let frame = Frame(opcode: received[0] & 0x0f, payload: Array(received[offset..<(offset + length)]))
        received.removeFirst(offset + length)
        return frame
    }

    private static func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try body() }) }.start()
        }
    }

    private static func onThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: body()) }.start()
        }
    }
}

/// This process's resources, as the kernel counts them: the in-process server's
/// open files, threads and resident memory.
struct ProcessResources: CustomStringConvertible {
    var openFiles: Int
    var threads: Int
    var residentKb: Int

    static func current() -> ProcessResources {
        let openFiles = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []).count
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        func field(_ name: String) -> Int {
            let line = status.split(separator: "\n").first { $0.hasPrefix(name + ":") } ?? ""
            return Int(line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first ?? "") ?? -1
        }
        return ProcessResources(openFiles: openFiles, threads: field("Threads"), residentKb: field("VmRSS"))
    }

    /// After handing the heap's free pages back, as sandboxd's HeapTrimService
    /// does every minute (the in-process server runs no such service): what
    /// is resident then is in use, not pages glibc's arenas kept after a burst.
    static func afterHeapTrim() -> ProcessResources {
        _ = sandbox_trim_heap()
        return current()
    }

    var description: String { "\(openFiles) fds, \(threads) threads, \(residentKb / 1024) MiB resident" }
}

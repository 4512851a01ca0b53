import SandboxProtocol
import Testing

@testable import SandboxRuntime

/// stdout and stderr in the order Python wrote them, whole under threads,
/// and a blocking read of stdin reported: every way a run starts.
extension SandboxSuite {
    @Suite("stream order")
    struct StreamOrderTests {
        static func start(_ request: RunRequest, mode: ServiceMode) async throws -> any SandboxRun {
            var request = request
            request.limits.usesPreload = mode.preloaded
            let sandbox = try await mode.sandbox()
            guard mode.inSession else { return try await sandbox.start(request) }
            var limits = SessionLimits()
            limits.memoryBytes = request.limits.memoryBytes
            let session = try sandbox.openSession(limits: limits)
            let run = try session.start(request)
            Task {
                _ = await run.verdict()
                session.close()
            }
            return run
        }

        /// The chunks' text, adjacent chunks of one stream joined.
        static func pieces(_ result: CollectedRun) -> [String] {
            var pieces: [(OutputChunk.Stream, String)] = []
            for chunk in result.chunks {
                let text = String(decoding: chunk.bytes, as: UTF8.self)
                if pieces.last?.0 == chunk.stream { pieces[pieces.count - 1].1 += text } else { pieces.append((chunk.stream, text)) }
            }
            return pieces.map { "\($0.0.rawValue): \($0.1)" }
        }

        @Test(arguments: ServiceMode.standard)
        func bothStreamsInTheOrderWritten(mode: ServiceMode) async throws {
            let code = """
                import logging, sys, warnings
                print("A")
                print("B", file=sys.stderr)
                sys.stdout.write("C")
                sys.stderr.write("D\\n")
                print("E")
                logging.warning("F")
                print("G")
                warnings.warn("H")
                print("I")
                raise ValueError("J")
                """
            let result = await CollectedRun.collect(try await Self.start(RunRequest(code: code), mode: mode))
            #expect(result.verdict.status == .error, "\(mode): \(result.verdict)")
            let pieces = Self.pieces(result)
            #expect(Array(pieces.prefix(6)) == ["stdout: A\n", "stderr: B\n", "stdout: C", "stderr: D\n", "stdout: E\n", "stderr: WARNING:root:F\n"], "\(mode): \(pieces)")
            #expect(pieces.count == 10, "\(mode): \(pieces)")
            #expect(pieces.dropFirst(6).first == "stdout: G\n", "\(mode): \(pieces)")
            #expect(pieces.dropFirst(7).first?.contains("UserWarning: H") == true, "\(mode): \(pieces)")
            #expect(pieces.dropFirst(8).first == "stdout: I\n", "\(mode): \(pieces)")
            #expect(pieces.last?.hasPrefix("stderr: Traceback (most recent call last):") == true
                    && pieces.last?.hasSuffix("ValueError: J\n") == true, "\(mode): \(pieces)")
            #expect(result.verdict.stderrBytes == result.stderr.utf8.count)
        }

        /// Frames are written whole (one write of at most PIPE_BUF each), so
        /// threads that write both streams at once, each line in one write of
        /// up to PIPE_BUF with multibyte characters, never cut one: every
        /// line arrives intact. (A line written in two calls, as print()
        /// does, may be cut by another thread, as on a terminal.)
        @Test(arguments: [ServiceMode.root, .ordinaryUser, .rootExec, .rootSession])
        func threadsWritingBothStreamsNeverCutALine(mode: ServiceMode) async throws {
            let code = """
                import sys, threading
                def write(n):
                    for i in range(200):
                        line = f"t{n} {i} " + "é" * (i * 17 % 1900)
                        (sys.stderr if (n + i) % 2 else sys.stdout).write(line + "\\n")
                threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
                for t in threads: t.start()
                for t in threads: t.join()
                sys.stderr.write("z" * 100_000 + "\\n")
                """
            var request = RunRequest(code: code)
            request.limits.maxOutputBytes = 16 << 20
            let result = await CollectedRun.collect(try await Self.start(request, mode: mode))
            #expect(result.verdict.status == .ok, "\(mode): \(result.verdict)")
            var seen = Set<String>()
            for (stream, text) in [("stdout", result.stdout), ("stderr", result.stderr)] {
                for line in text.split(separator: "\n") where !line.hasPrefix("zzz") {
                    let fields = line.split(separator: " ", maxSplits: 2)
                    guard fields.count >= 2, let n = Int(fields[0].dropFirst()), let i = Int(fields[1]) else {
                        Issue.record("\(mode): a cut line on \(stream): \(line.prefix(80))")
                        continue
                    }
                    #expect(stream == ((n + i) % 2 == 1 ? "stderr" : "stdout"), "\(mode): t\(n) \(i) on \(stream)")
                    #expect(line == "t\(n) \(i) " + String(repeating: "é", count: i * 17 % 1900), "\(mode): t\(n) \(i) altered")
                    seen.insert("\(n) \(i)")
                }
            }
            #expect(seen.count == 800, "\(mode)")
            #expect(result.stderr.hasSuffix(String(repeating: "z", count: 100_000) + "\n"), "\(mode)")
        }

        /// A blocking read of stdin is reported once per chunk sent, after
        /// the prompt; a run whose stdin is given whole never reports one.
        @Test(arguments: ServiceMode.standard)
        func aBlockingReadOfStdinIsReported(mode: ServiceMode) async throws {
            let code = "name = input('name? ')\nprint('hi', name)\nprint(input('again? '))"
            var request = RunRequest(code: code)
            request.stdin = .interactive
            let run = try await Self.start(request, mode: mode)
            var log: [String] = []
            var answers = ["Ada\n", "Bob\n"]
            for await item in run.output {
                switch item {
                case .text(let chunk): log.append(String(decoding: chunk.bytes, as: UTF8.self))
                case .display: log.append("display")
                case .stdinWanted:
                    log.append("<wanted>")
                    if !answers.isEmpty { run.writeStdin(Array(answers.removeFirst().utf8)) }
                }
            }
            let verdict = await run.verdict()
            #expect(verdict.status == .ok, "\(mode): \(verdict)")
            #expect(log.joined() == "name? <wanted>hi Ada\nagain? <wanted>Bob\n", "\(mode): \(log)")

            let given = await CollectedRun.collect(try await Self.start(RunRequest(code: code, stdin: .bytes(Array("Ada\nBob\n".utf8))), mode: mode))
            #expect(given.stdinWanted == 0 && given.stdout == "name? hi Ada\nagain? Bob\n", "\(mode): \(given.stdout)")
        }

        /// A program that forges stdin_wanted frames in a loop is charged for
        /// them: it reaches its output limit instead of flooding the service.
        @Test func forgedEmptyFramesCountTowardTheOutputLimit() async throws {
            let code = """
                import os
                marker = display.__globals__["FRAME_MARKER"]
                while True:
                    os.write(1, (marker + b"stdin_wanted 0\\n") * 50 + (marker + b"stderr 0\\n") * 50)
                """
            var request = RunRequest(code: code)
            request.limits.maxOutputBytes = 100_000
            request.limits.timeout = .seconds(5)
            let result = await CollectedRun.collect(try await SharedSandbox.get().start(request))
            #expect(result.verdict.status == .outputLimit, "\(result.verdict) \(result.stderr)")
            #expect(result.stdinWanted <= 1)
        }
    }
}

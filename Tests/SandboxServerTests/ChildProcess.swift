import Foundation

/// One of the package's executables (built beside the test binary), run to
/// its end with what it printed.
struct ChildProcess {
    struct Finished {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    enum Input {
        /// /dev/null: neither a terminal nor a pipe.
        case none
        /// A pipe that carries these bytes, then closes.
        case pipe(String)
    }

    /// The path of the package's executable `name`; an absolute path is taken as it is.
    static func executable(_ name: String) -> String {
        if name.hasPrefix("/") { return name }
        let testBinary = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? ""
        return URL(fileURLWithPath: testBinary).deletingLastPathComponent().appendingPathComponent(name).path
    }

    let process = Process()
    private let stdoutPipe = Pipe()
    private let stderrPipe = Pipe()
    private let stdoutText: Task<String, Never>
    private let stderrText: Task<String, Never>

    /// Starts `name` with `arguments`; `environment` is added to this process's own.
    init(_ name: String, _ arguments: [String], input: Input = .none, environment: [String: String] = [:],
         directory: URL? = nil) throws {
        process.executableURL = URL(fileURLWithPath: Self.executable(name))
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.currentDirectoryURL = directory
        process.standardOutput = stdoutPipe
        process.standardError = stderrPipe
        let stdinPipe = Pipe()
        switch input {
        case .none: process.standardInput = FileHandle.nullDevice
        case .pipe: process.standardInput = stdinPipe
        }
        try process.run()
        if case .pipe(let text) = input {
            stdinPipe.fileHandleForWriting.write(Data(text.utf8))
            try stdinPipe.fileHandleForWriting.close()
        }
        let (out, err) = (stdoutPipe.fileHandleForReading, stderrPipe.fileHandleForReading)
        stdoutText = Task { await Self.readToEnd(out) }
        stderrText = Task { await Self.readToEnd(err) }
    }

    /// Reads on a thread of its own: a blocking read on the cooperative pool
    /// (two threads here) would starve the in-process server.
    private static func readToEnd(_ handle: FileHandle) async -> String {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)) }.start()
        }
    }

    /// Runs `name` to its end (killed after `timeout`, which fails the test's expectations).
    static func run(_ name: String, _ arguments: [String], input: Input = .none, environment: [String: String] = [:],
                    directory: URL? = nil, timeout: Duration = .seconds(60)) async throws -> Finished {
        try await ChildProcess(name, arguments, input: input, environment: environment, directory: directory)
            .finished(within: timeout)
    }

    func finished(within timeout: Duration) async throws -> Finished {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now > deadline {
                process.terminate()
                throw TestFailure("\(process.executableURL?.lastPathComponent ?? "?") did not finish within \(timeout)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        return Finished(status: process.terminationStatus, stdout: await stdoutText.value, stderr: await stderrText.value)
    }
}

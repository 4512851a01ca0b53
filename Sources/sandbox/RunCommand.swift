import ArgumentParser
import Foundation
import SandboxClient
import SandboxProtocol

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Runs Python files, a -c program, or a program read from stdin ('-').",
        discussion: """
            With one program, its stdout and stderr stream to this command's stdout and stderr. \
            When this command's stdin is a terminal or a pipe (and --stdin is not given), it is \
            forwarded to the program as it arrives; a regular file is sent whole.

            With several files, all are submitted at once over one connection and run \
            concurrently; each file's output is printed in command-line order under a header \
            ("==> FILE <=="), then a summary table. They get stdin only from --stdin.

            A program's displays (display(obj); plt.show() for each matplotlib figure) print \
            their plain-text form to stdout where the program made them. With --save DIR, each \
            is written into DIR instead, as RUN-N.EXT: RUN is the program's file name without \
            extension ('run' for -c or a program from stdin; when several files share a name, \
            their positions tell them apart: 'main_2'), N counts the run's displays from 1, and \
            EXT is the richest form the display has: png, jpeg, svg, html, md, json or txt. \
            Files matching --return are written into DIR under their paths (into DIR/RUN/ when \
            several files run). A line on stderr tells of each item saved (not with --quiet), \
            and of each that was not saved or not returned. Only files that match a --return \
            pattern are written, checked by this command whatever the service says; a name \
            with a part starting with a dot only when the pattern names that dot ('.env', \
            'out/.*'). Nothing is written outside DIR: paths that would leave it, and symbolic \
            links in it, are refused. Nothing in DIR is replaced: an item whose file exists is \
            not saved (the others are), and the status is 73.

            With --test IN[:EXPECTED] (repeatable) or --tests DIR (each NAME.in, with NAME.out \
            where there is one), the one program runs against each input as one run's tests: \
            each test a fresh sandbox with the run's limits; a line per test as it ends (PASS, \
            FAIL, or its status), then a summary; the status is 0 only when every test ended ok \
            and every expectation held, else 1. --compare says how stdout is compared: trimmed \
            (trailing whitespace ignored, the default), exact or tokens.

            With --session, the programs run one after another in one session: one Python \
            process whose __main__ lives on, so each program sees the names, imports and /tmp \
            files the earlier ones left (as cells of a notebook do; the value of a program's \
            last expression is printed like a display). Each program's output streams as it \
            arrives, under a header when there are several. The first program whose status is \
            not 0 stops the others, which are not run. --memory is the session's, for all its \
            programs together; --file's files are put in the session's /tmp once.

            --package and --requirements name PyPI packages the programs import ('requests', \
            'pandas>=2,<3'): the service installs them, outside the sandbox and once (later runs \
            that name the same set reuse it), and each run imports them from a read-only folder. \
            At a terminal a line on stderr says so while they install. A requirement is a name, \
            optional extras and an optional version specifier; URLs, paths, installer options and \
            markers are refused before anything is sent (status 65; a line of a requirements file is \
            named as FILE:LINE). With --session the packages are the session's, for all its \
            programs. A package the service cannot provide ends the command with the service's \
            message and status 65 (no such package or version, no wheel, not allowed, \
            unsatisfiable, too large) or 69 (the service offers no packages, its index cannot be \
            reached, the install timed out or failed); the program is not run. 'sandbox info' \
            shows whether the service offers packages, and its limits.

            Limits are given in seconds (--timeout, --cpu-time), MiB (--memory) and bytes \
            (--output-limit, which takes K and M for KiB and MiB); 'sandbox info' shows the \
            service's defaults and maxima. A limit the service does not allow is refused before \
            anything runs (exit status 65).

            Ctrl-C cancels the runs (they end as 'cancelled'); a second Ctrl-C quits at once.

            \(ExitStatus.help)
            """)

    @Argument(help: ArgumentHelp("Python files to run; '-' reads one program from stdin.", valueName: "file"))
    var files: [String] = []

    @Option(name: .customShort("c"), help: ArgumentHelp("The program, as text.", valueName: "code"))
    var code: String?

    @Option(help: ArgumentHelp("Wall-clock limit in seconds (up to the server's maximum).", valueName: "seconds"))
    var timeout: Double?

    @Option(name: .customLong("cpu-time"), help: ArgumentHelp(
        "CPU time limit in seconds, all the program's processes together (up to the server's maximum).", valueName: "seconds"))
    var cpuTime: Double?

    @Option(help: ArgumentHelp("Memory limit in MiB (up to the server's maximum).", valueName: "mib"))
    var memory: Int?

    @Option(name: .customLong("output-limit"), help: ArgumentHelp(
        "Output limit: stdout, stderr and displays together, in bytes, or with a suffix K (KiB) or M (MiB): 64K, 10M "
            + "(up to the server's maximum). Past it the run ends with 'output limit'.",
        valueName: "bytes"))
    var outputLimit: ByteCount?

    @Option(help: ArgumentHelp("Send this file's contents as the program's stdin.", valueName: "path"))
    var stdin: String?

    @Option(name: .customLong("file"), help: ArgumentHelp(
        "Put the file at PATH into the run's working directory as NAME (repeatable). The program reads exactly "
            + "its bytes: it is sent as text when it is UTF-8, else as base64.",
        valueName: "name=path"))
    var extraFiles: [String] = []

    @Option(name: .customLong("return"), help: ArgumentHelp(
        "Bring back the files of the run's working directory that match GLOB when the program ends ('*.csv', "
            + "'out/**/*.png'; repeatable). Needs --save.",
        valueName: "glob"))
    var returnPatterns: [String] = []

    @Option(name: .customLong("save"), help: ArgumentHelp(
        "Write the runs' displays and returned files into DIR (made if missing) instead of printing the displays' text.",
        valueName: "dir"))
    var saveFolder: String?

    @OptionGroup var packageOptions: PackageOptions

    @Option(name: .customLong("test"), help: ArgumentHelp(
        "Run the program against this input file (its whole stdin) and, with :EXPECTED, compare its stdout with that file; repeatable.",
        valueName: "in[:expected]"))
    var testFiles: [String] = []

    @Option(name: .customLong("tests"), help: ArgumentHelp(
        "Run the program against each NAME.in in this folder, comparing its stdout with NAME.out where there is one.", valueName: "dir"))
    var testFolder: String?

    @Option(help: ArgumentHelp("How stdout is compared with the expected output: trimmed (the default), exact or tokens.", valueName: "mode"))
    var compare: TestComparison?

    @Flag(help: "Run the programs in order in one session, sharing its Python state; stop at the first that fails.")
    var session = false

    @Flag(help: "Print every protocol message, sent and received, as one JSON line each, instead of the program's output.")
    var json = false

    @Flag(name: .shortAndLong, help: "Print no summary of the verdict, nor a line per saved item.")
    var quiet = false

    @OptionGroup var connection: ConnectionOptions

    func validate() throws {
        if code != nil && !files.isEmpty { throw ValidationError("give either files or -c, not both") }
        if code == nil && files.isEmpty { throw ValidationError("nothing to run: give a file, -c CODE, or '-' for stdin") }
        if files.contains("-") && files.count > 1 { throw ValidationError("'-' (the program from stdin) cannot be combined with files") }
        if let timeout, !(timeout > 0) { throw ValidationError("--timeout must be a positive number of seconds") }
        if let cpuTime, !(cpuTime > 0) { throw ValidationError("--cpu-time must be a positive number of seconds") }
        if let memory, memory < 1 { throw ValidationError("--memory must be a positive number of MiB") }
        for pair in extraFiles where !pair.contains("=") {
            throw ValidationError("--file '\(pair)': expected NAME=PATH")
        }
        if saveFolder?.isEmpty == true { throw ValidationError("--save needs a folder") }
        if !testFiles.isEmpty || testFolder != nil {
            if files.count > 1 || session { throw ValidationError("--test and --tests take one program, and not --session") }
            if stdin != nil || !returnPatterns.isEmpty { throw ValidationError("--test and --tests give each test its stdin; not with --stdin or --return") }
        }
        if compare != nil && testFiles.isEmpty && testFolder == nil { throw ValidationError("--compare needs --test or --tests") }
        if !returnPatterns.isEmpty && saveFolder == nil {
            throw ValidationError("--return needs --save DIR: the returned files are written there")
        }
    }

    func run() async throws {
        let programs: [Program]
        let parameters: RunParams
        let input: RunInput
        let requirements: [Requirement]?
        do {
            programs = try readPrograms()
            requirements = try packageOptions.requirementsOrExit()
            parameters = try baseParameters(packages: requirements?.map(\.text))
            input = parameters.tests != nil ? .none : try runInput(programCount: programs.count)
        } catch let failure as UnreadableFile {
            Console.note(failure.description)
            throw ExitCode(ExitStatus.noInput)
        }
        let folder: SaveFolder?
        do {
            folder = try saveFolder.map { path throws(SaveError) in try SaveFolder(path) }
        } catch {
            Console.note(error.description)
            throw ExitCode(ExitStatus.cannotSave)
        }
        let options = RunOptions(json: json, quiet: quiet, save: folder, returnPatterns: returnPatterns)
        let transcript: (@Sendable (String) -> Void)? = json ? { @Sendable line in Console.write(line + "\n") } : nil
        var status: Int32
        do {
            status = try await ProtocolConnection.connect(url: connection.resolvedURL, token: connection.resolvedToken, transcript: transcript) { connection in
                let info = try await connection.initialize(clientName: "sandbox", version: PySandbox.version)
                try Self.check(parameters, against: info.limits)
                try PackageOptions.check(requirements, against: info, url: self.connection.resolvedURL)
                let runner = ProgramRunner(connection: connection, options: options, info: info)
                if session {
                    return try await runner.runInSession(programs, parameters, stdin: input)
                }
                if programs.count == 1 {
                    return try await runner.runOne(programs[0], parameters, stdin: input)
                }
                return try await runner.runAll(programs, parameters, stdin: input)
            }
        } catch let refusal as LimitRefusal {
            Console.note(refusal.description)
            throw ExitCode(ExitStatus.rejected)
        } catch let refusal as RequirementRefusal {
            Console.note(refusal.description)
            throw ExitCode(ExitStatus.rejected)
        } catch let refusal as PackagesNotOffered {
            Console.note(refusal.description)
            throw ExitCode(ExitStatus.unreachable)
        } catch ClientError.rejected(let refusal) {
            // session/open refused (--session): its packages, its limits, or too many sessions.
            Console.note(refusal.refusalInWords(of: "session"))
            throw ExitCode(ExitStatus.of(refusal))
        } catch let error as ClientError {
            Console.note(error.description)
            throw ExitCode(ExitStatus.of(error))
        }
        if status == 0 && folder?.anyFailed == true { status = ExitStatus.cannotSave }
        throw ExitCode(status)
    }

    private func readPrograms() throws -> [Program] {
        if let code { return [Program(name: "-c", code: code, isFile: false)] }
        if files == ["-"] {
            let data = FileHandle.standardInput.readDataToEndOfFile()
            return [Program(name: "<stdin>", code: String(decoding: data, as: UTF8.self), isFile: false)]
        }
        return try files.map { Program(name: $0, code: try Self.readText($0), isFile: true) }
    }

    private func baseParameters(packages: [String]?) throws -> RunParams {
        var files: [String: FileContent] = [:]
        for pair in extraFiles {
            let (name, path) = pair.splitOnce("=")
            files[name] = try Self.readContent(path)
        }
        return RunParams(
            code: "", files: files.isEmpty ? nil : files, returnFiles: returnPatterns.isEmpty ? nil : returnPatterns,
            timeoutMs: timeout.map(LimitOption.milliseconds), memoryMb: memory, maxOutputBytes: outputLimit?.bytes,
            cpuTimeMs: cpuTime.map(LimitOption.milliseconds), packages: packages, tests: try tests())
    }

    /// `--test IN[:EXPECTED]` in order, then `--tests DIR`'s NAME.in files by name; nil without either.
    private func tests() throws -> [RunTest]? {
        var tests: [RunTest] = []
        for spec in testFiles {
            let (input, expected) = spec.contains(":") ? spec.splitOnce(":") : (spec, "")
            tests.append(RunTest(
                stdin: try Self.readText(input), expectedStdout: expected.isEmpty ? nil : try Self.readText(expected),
                compare: compare, name: input))
        }
        if let testFolder {
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: testFolder) else {
                throw UnreadableFile(path: testFolder)
            }
            for name in names.filter({ $0.hasSuffix(".in") }).sorted() {
                let stem = String(name.dropLast(3))
                let expected = testFolder + "/" + stem + ".out"
                tests.append(RunTest(
                    stdin: try Self.readText(testFolder + "/" + name),
                    expectedStdout: FileManager.default.fileExists(atPath: expected) ? try Self.readText(expected) : nil,
                    compare: compare, name: stem))
            }
            if tests.isEmpty { throw UnreadableFile(path: testFolder + "/*.in") }
        }
        return tests.isEmpty ? nil : tests
    }

    /// Refuses, in the options' words, a limit outside the service's range
    /// (with --session, --memory is the session's, which has the same range).
    private static func check(_ parameters: RunParams, against limits: InitializeResult.Limits) throws(LimitRefusal) {
        try LimitOption.timeout.check(parameters.timeoutMs, against: limits.timeoutMs)
        try LimitOption.cpuTime.check(parameters.cpuTimeMs, against: limits.cpuTimeMs)
        try LimitOption.memory.check(parameters.memoryMb, against: limits.memoryMb)
        try LimitOption.outputLimit.check(parameters.maxOutputBytes, against: limits.maxOutputBytes)
    }

    private func runInput(programCount: Int) throws -> RunInput {
        if let stdin { return .text(try Self.readText(stdin)) }
        // Stdin already held the program, or cannot sensibly feed several runs at once.
        if files == ["-"] || programCount > 1 { return .none }
        return RunInput.ofStandardInput()
    }

    private static func readText(_ path: String) throws(UnreadableFile) -> String {
        String(decoding: try readBytes(path), as: UTF8.self)
    }

    /// UTF-8 goes as text, which keeps --json transcripts readable; anything
    /// else as bytes. Either way the program gets the file's bytes unchanged.
    private static func readContent(_ path: String) throws(UnreadableFile) -> FileContent {
        let bytes = try readBytes(path)
        return String(validating: bytes, as: UTF8.self).map(FileContent.text) ?? .bytes(bytes)
    }

    private static func readBytes(_ path: String) throws(UnreadableFile) -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw UnreadableFile(path: path)
        }
        return Array(data)
    }
}

struct Program: Sendable {
    var name: String
    var code: String
    /// Read from a file named on the command line (not -c, not stdin).
    var isFile: Bool
}

struct RunOptions: Sendable {
    var json: Bool
    var quiet: Bool
    /// `--save`: where displays and returned files are written.
    var save: SaveFolder?
    /// `--return`: the only files `--save` writes, whatever a verdict lists.
    var returnPatterns: [String] = []
}

struct UnreadableFile: Error, CustomStringConvertible {
    var path: String
    var description: String {
        let reason = FileManager.default.fileExists(atPath: path) ? "cannot be read" : "does not exist"
        return "\(path): \(reason)"
    }
}

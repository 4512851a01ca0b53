/// One input of a `run` with `tests` (PROTOCOL.md, "Tests"): the program
/// runs once per test, each time a fresh sandbox with the run's limits.
public struct RunTest: Sendable, Equatable, Codable {
    public var stdin: String
    /// What stdout must be for the test to pass; without it, the test only runs.
    public var expectedStdout: String?
    public var compare: TestComparison?
    public var name: String?

    public init(stdin: String, expectedStdout: String? = nil, compare: TestComparison? = nil, name: String? = nil) {
        self.stdin = stdin
        self.expectedStdout = expectedStdout
        self.compare = compare
        self.name = name
    }

    static let fields: Set = ["stdin", "expectedStdout", "compare", "name"]
    /// Longest `name`, in bytes.
    public static let maxNameBytes = 256

    /// `tests`: an array of test objects; each error names the test by its index.
    public static func parse(_ value: JSONValue) throws(RPCError) -> [RunTest] {
        guard case .array(let items) = value else { throw .invalidParams("tests: must be an array of objects, not \(value.typeName)") }
        guard !items.isEmpty else { throw .invalidParams("tests: must not be empty (leave it out to run the program once)") }
        var tests: [RunTest] = []
        tests.reserveCapacity(items.count)
        for (index, item) in items.enumerated() {
            tests.append(try RunTest(item, at: "tests[\(index)]"))
        }
        return tests
    }

    init(_ value: JSONValue, at path: String) throws(RPCError) {
        guard case .object(let members) = value else { throw .invalidParams("\(path): must be an object, not \(value.typeName)") }
        if let unknown = members.keys.sorted().first(where: { !Self.fields.contains($0) }) {
            throw .invalidParams("\(path): unknown field '\(unknown)' (a test has compare, expectedStdout, name, stdin)")
        }
        func string(_ key: String) throws(RPCError) -> String? {
            guard let member = members[key], member != .null else { return nil }
            guard case .string(let text) = member else { throw .invalidParams("\(path).\(key): must be a string, not \(member.typeName)") }
            return text
        }
        stdin = try string("stdin") ?? ""
        expectedStdout = try string("expectedStdout")
        name = try string("name")
        if let name, name.utf8.count > Self.maxNameBytes {
            throw .invalidParams("\(path).name: \(name.utf8.count) bytes, the limit is \(Self.maxNameBytes)")
        }
        if let word = try string("compare") {
            guard let comparison = TestComparison(rawValue: word) else {
                throw .invalidParams("\(path).compare: '\(word.prefix(40))' is not one of exact, trimmed, tokens")
            }
            compare = comparison
        }
    }
}

/// How a test's stdout is held against its `expectedStdout`.
public enum TestComparison: String, Sendable, Codable, CaseIterable {
    /// Byte for byte.
    case exact
    /// Each line without its trailing spaces and tabs, and without the blank
    /// lines at the end (`\r\n` read as `\n`): what most judges compare.
    case trimmed
    /// The same words (runs of characters between whitespace), in the same order.
    case tokens

    /// What a test without `compare` gets.
    public static let `default` = TestComparison.trimmed

    public func matches(_ actual: String, expected: String) -> Bool {
        switch self {
        case .exact: actual == expected
        case .trimmed: Self.trimmed(actual) == Self.trimmed(expected)
        case .tokens: actual.split(whereSeparator: \.isWhitespace).elementsEqual(expected.split(whereSeparator: \.isWhitespace))
        }
    }

    static func trimmed(_ text: String) -> [Substring] {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            var line = line
            while let last = line.last, last == " " || last == "\t" || last == "\r" { line.removeLast() }
            return line
        }
        while lines.last?.isEmpty == true { lines.removeLast() }
        return lines
    }
}

/// How one test ended: a run's verdict in brief, and whether its stdout
/// was the expected one. `stdout` and `stderr` are what the program wrote,
/// cut to the test's share of the run's output (`stdoutBytes` and
/// `stderrBytes` say how much there was).
public struct TestResult: Sendable, Equatable, Codable {
    /// A run's status, or `notRun` for a test the run never reached (it was cancelled first).
    public enum Status: String, Sendable, Codable, CaseIterable {
        case ok, error, timeout, memoryLimit, outputLimit, killed, cancelled, internalError, notRun

        public init(_ status: RunStatus) { self = Status(rawValue: status.rawValue) ?? .internalError }
    }

    public var index: Int
    public var name: String?
    public var status: Status
    /// For `timeout`: which limit.
    public var limit: TimeLimit?
    /// With `expectedStdout`: the test ended `ok` and its stdout matched.
    public var passed: Bool?
    public var stdout: String
    public var stderr: String
    public var stdoutBytes: Int
    public var stderrBytes: Int
    public var exitCode: Int?
    public var signal: Int?
    public var cpuMs: Int
    public var wallMs: Int
    public var peakMemoryKb: Int?
    /// For `internalError`: what failed.
    public var message: String?

    public init(
        index: Int, name: String? = nil, status: Status, limit: TimeLimit? = nil, passed: Bool? = nil, stdout: String = "",
        stderr: String = "", stdoutBytes: Int = 0, stderrBytes: Int = 0, exitCode: Int? = nil, signal: Int? = nil,
        cpuMs: Int = 0, wallMs: Int = 0, peakMemoryKb: Int? = nil, message: String? = nil
    ) {
        self.index = index
        self.name = name
        self.status = status
        self.limit = limit
        self.passed = passed
        self.stdout = stdout
        self.stderr = stderr
        self.stdoutBytes = stdoutBytes
        self.stderrBytes = stderrBytes
        self.exitCode = exitCode
        self.signal = signal
        self.cpuMs = cpuMs
        self.wallMs = wallMs
        self.peakMemoryKb = peakMemoryKb
        self.message = message
    }
}

/// A run's tests in numbers: how many ended each way, and of those with an
/// expectation, how many passed and failed.
public struct TestSummary: Sendable, Equatable, Codable {
    public var total: Int
    public var statuses: [String: Int]
    public var passed: Int
    public var failed: Int

    public init(_ results: [TestResult]) {
        total = results.count
        statuses = Dictionary(results.map { ($0.status.rawValue, 1) }, uniquingKeysWith: +)
        passed = results.count { $0.passed == true }
        failed = results.count { $0.passed == false }
    }
}

/// `run/test` params: one test of a run has ended (in the order given).
public struct RunTestParams: Sendable, Equatable, Codable {
    public var id: JSONValue
    public var test: TestResult

    public init(id: JSONValue, test: TestResult) {
        self.id = id
        self.test = test
    }
}

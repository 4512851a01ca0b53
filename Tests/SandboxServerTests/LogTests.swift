import Logging
import SandboxProtocol
import Synchronization
import Testing

/// Structured logs: each run's records name its connection and run; the code
/// itself is logged only when the option asks for it.
extension SandboxSuite {
    @Suite("structured logs")
    struct LogTests {
        static let marker = "print('a-secret-7f3a')"

        @Test(arguments: [false, true])
        func runRecordsCarryIdsAndTheCodeOnlyWhenAskedFor(logCode: Bool) async throws {
            let records = LogRecords()
            var logger = Logger(label: "captured") { _ in CapturingLogHandler(records: records) }
            logger.logLevel = .debug
            try await TestServer.with(TestServer.configuration { $0.logCode = logCode }, logger: logger) { (port) async throws in
                try await ProtocolClient.connect(port: port) { (client) async throws in
                    #expect(try await client.run(41, ["code": .string(Self.marker)]).status == "ok")
                }
            }
            let all = records.all
            let finished = all.first { $0.message == "run finished" }
            #expect(finished?.metadata["run"] == "41")
            #expect(finished?.metadata["status"] == "ok")
            #expect(finished?.metadata["connection"]?.hasPrefix("c") == true)
            let mentions = all.filter { record in
                record.message.contains("a-secret-7f3a") || record.metadata.values.contains { $0.contains("a-secret-7f3a") }
            }
            if logCode {
                #expect(mentions.map(\.message) == ["run accepted"])
            } else {
                #expect(mentions.isEmpty, "\(mentions)")
            }
        }
    }
}

struct LogRecord: Sendable {
    var message: String
    var metadata: [String: String]
}

final class LogRecords: Sendable {
    private let records = Mutex<[LogRecord]>([])
    func add(_ record: LogRecord) { records.withLock { $0.append(record) } }
    var all: [LogRecord] { records.withLock { $0 } }
}

/// Keeps every record, with its metadata flattened to strings.
struct CapturingLogHandler: LogHandler {
    let records: LogRecords
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        records.add(LogRecord(message: "\(event.message)", metadata: merged.mapValues { "\($0)" }))
    }
}

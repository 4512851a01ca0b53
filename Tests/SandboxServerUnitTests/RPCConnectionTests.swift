import Foundation
import Logging
import SandboxProtocol
import SandboxRuntime
import Synchronization
import Testing

@testable import SandboxServer

/// One connection's protocol handling, from the text it receives to the text
/// it queues, on a fake provider: no socket, no sandbox.
@Suite("RPCConnection")
struct RPCConnectionTests {
    /// A connection on a running scheduler and pool; `body` talks to it and reads what it sent.
    func withConnection(
        _ configure: (inout ServerConfiguration) -> Void = { _ in },
        _ body: (RPCConnection, Replies) async throws -> Void
    ) async rethrows {
        var configuration = ServerConfiguration()
        configuration.workers = 1
        configure(&configuration)
        let logger = Logger(label: "test")
        let metrics = ServerMetrics(node: "test")
        let provider = FakeSandboxProvider()
        let pool = WarmPool(provider: provider, limits: RunAdmission.warmLimits(configuration), target: 1, logger: logger, metrics: metrics)
        let scheduler = RunScheduler(workers: 1, capacity: 4, executor: RunExecutor(pools: WarmPools(plain: pool), logger: logger), metrics: metrics)
        let info = SandboxServer(configuration: configuration, provider: provider, logger: logger).info
        let packages = PackageService(store: nil, scheduler: scheduler, logger: logger)
        let state = ServerState(
            configuration: configuration, scheduler: scheduler, admission: RunAdmission(configuration: configuration),
            info: info, limits: ClientLimits(.init(maxConnections: 8, maxConnectionsPerAddress: 8, runsPerMinute: 600)),
            metrics: metrics,
            sessions: SessionService(
                provider: provider, configuration: configuration, scheduler: scheduler, packages: packages, metrics: metrics, logger: logger),
            packages: packages, accounts: TenantAccounts(), tenants: nil, audit: nil, logger: logger)
        let outbox = Outbox(limit: 1 << 20)
        let replies = Replies()
        let writer = Task { await outbox.write { replies.append($0) } }
        let poolTask = Task { await pool.run() }
        let schedulerTask = Task { await scheduler.run() }
        let connection = RPCConnection(server: state, outbox: outbox, address: "test")
        try await body(connection, replies)
        await connection.close()
        await scheduler.shutDown(grace: .seconds(1))
        await pool.stop()
        outbox.finish()
        await writer.value
        await schedulerTask.value
        await poolTask.value
    }

    @Test func initializeAnswersWithTheProvidersPython() async throws {
        try await withConnection { connection, replies in
            await connection.receive(#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#)
            let reply = try await replies.next { $0["id"] == .integer(1) }
            #expect(reply["result"]?["python"]?["version"] == .string("3.0.fake"))
            #expect(reply["result"]?["capabilities"]?["cgroups"] == .bool(false))
        }
    }

    /// A server without a package store refuses `packages` before anything
    /// runs: a bad requirement as -32602, any other as -32008 `disabled`;
    /// an empty list is no set at all.
    @Test func packagesWithoutAStoreAreRefusedAndTheConnectionGoesOn() async throws {
        try await withConnection { connection, replies in
            await connection.receive(#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#)
            let info = try await replies.next { $0["id"] == .integer(1) }
            #expect(info["result"]?["capabilities"]?["packages"] == .bool(false))
            #expect(info["result"]?["limits"]?["packages"] == nil)
            await connection.receive(#"{"jsonrpc":"2.0","id":2,"method":"run","params":{"code":"x","packages":["requests"]}}"#)
            let disabled = try await replies.next { $0["id"] == .integer(2) }
            #expect(disabled["error"]?["code"] == .integer(-32008))
            #expect(disabled["error"]?["data"]?["reason"] == .string("disabled"))
            await connection.receive(#"{"jsonrpc":"2.0","id":3,"method":"run","params":{"code":"x","packages":"requests"}}"#)
            let notAList = try await replies.next { $0["id"] == .integer(3) }
            #expect(notAList["error"]?["code"] == .integer(-32602))
            #expect(notAList["error"]?["message"]?.stringValue?.contains("packages: must be an array of strings") == true)
            await connection.receive(#"{"jsonrpc":"2.0","id":4,"method":"run","params":{"code":"hello","packages":[]}}"#)
            #expect(try await replies.next { $0["id"] == .integer(4) }["result"]?["status"] == .string("ok"))
        }
    }

    @Test func aRunsNotificationsPrecedeItsVerdict() async throws {
        try await withConnection { connection, replies in
            await connection.receive(#"{"jsonrpc":"2.0","id":"a","method":"run","params":{"code":"hello"}}"#)
            let verdict = try await replies.next { $0["id"] == .string("a") }
            #expect(verdict["result"]?["status"] == .string("ok"))
            let all = replies.all
            let methods = all.prefix { $0["id"] != .string("a") }.compactMap { $0["method"]?.stringValue }
            #expect(methods == ["run/status", "run/output"])
            #expect(all.first { $0["method"] == .string("run/output") }?["params"]?["text"] == .string("hello"))
        }
    }

    @Test func badInputGetsTheRightErrorsAndTheConnectionGoesOn() async throws {
        try await withConnection { connection, replies in
            await connection.receive("{not json")
            #expect(try await replies.next { _ in true }["error"]?["code"] == .integer(-32700))
            await connection.receive(#"{"jsonrpc":"2.0","id":2,"method":"nope"}"#)
            #expect(try await replies.next { $0["id"] == .integer(2) }["error"]?["code"] == .integer(-32601))
            await connection.receive(#"{"jsonrpc":"2.0","id":3,"method":"run","params":{"code":"x","memoryMb":8}}"#)
            #expect(try await replies.next { $0["id"] == .integer(3) }["error"]?["code"] == .integer(-32602))
            await connection.receive(#"{"jsonrpc":"2.0","id":4,"method":"run","params":{"code":"hang"}}"#)
            await connection.receive(#"{"jsonrpc":"2.0","id":4,"method":"run","params":{"code":"x"}}"#)
            let duplicate = try await replies.next { $0["id"] == .integer(4) && $0["error"] != nil }
            #expect(duplicate["error"]?["code"] == .integer(-32600))
            await connection.receive(#"{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":4}}"#)
            let cancelled = try await replies.next { $0["id"] == .integer(4) && $0["result"] != nil }
            #expect(cancelled["result"]?["status"] == .string("cancelled"))
        }
    }
}

/// What a connection sent, parsed, with a way to wait for a message.
final class Replies: Sendable {
    private let messages = Mutex<[JSONValue]>([])

    @Sendable func append(_ text: String) {
        let value = (try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))) ?? .null
        messages.withLock { $0.append(value) }
    }

    var all: [JSONValue] { messages.withLock { $0 } }

    /// The first message that matches, waiting up to 30 s for it: these
    /// suites run beside the sandbox suites, which can keep both cores busy
    /// for seconds (a CI run once took over 5 s to answer `initialize`).
    func next(within wait: Duration = .seconds(30), _ matches: (JSONValue) -> Bool) async throws -> JSONValue {
        let deadline = ContinuousClock.now + wait
        while true {
            // Looked for once more after the deadline: the wait may have been the one starved.
            let expired = ContinuousClock.now >= deadline
            if let found = all.first(where: matches) { return found }
            if expired { throw TimeoutError(waited: wait, seen: all.count) }
            try await Task.sleep(for: .milliseconds(1))
        }
    }

    struct TimeoutError: Error, CustomStringConvertible {
        let waited: Duration
        let seen: Int
        var description: String { "no matching message within \(waited) (\(seen) messages sent)" }
    }
}

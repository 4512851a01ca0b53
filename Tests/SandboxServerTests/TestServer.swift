import Foundation
import Logging
import SandboxProtocol
import SandboxRuntime
import SandboxServer

/// A real sandboxd on a loopback port, in this process, for one test.
enum TestServer {
    /// Small enough that tests finish quickly, big enough for their runs.
    static func configuration(_ adjust: (inout ServerConfiguration) -> Void = { _ in }) -> ServerConfiguration {
        var configuration = ServerConfiguration()
        configuration.port = 0
        configuration.workers = 2
        configuration.warm = 2
        configuration.shutdownGrace = .seconds(5)
        // Test servers preload nothing, so each starts in a fraction of the
        // time; the scientific stack preloaded is tested on the runtime
        // (RichResultsTests, the malicious fixtures) and by ScientificStackTests.
        configuration.sandbox.preload = []
        // No package store unless a test asks for one (PackageServerTests):
        // the default one is the host's, and installs from the index.
        configuration.packages.enabled = false
        // Usage kept in memory unless a test asks for a store (UsageTests):
        // the default file is the host's, shared by every sandboxd of its user.
        configuration.state = .memory
        adjust(&configuration)
        return configuration
    }

    /// Starts a server, runs `body` with its port, then shuts the server down
    /// and waits until it has stopped (its sandboxes included).
    @discardableResult
    static func with<T: Sendable>(
        _ configuration: ServerConfiguration = configuration(),
        logger: Logger? = nil,
        _ body: @Sendable (Int) async throws -> T
    ) async throws -> T {
        var logger = logger ?? Logger(label: "test.sandboxd")
        if logger.label == "test.sandboxd" { logger.logLevel = .warning }
        let server = try await SandboxServer.prepare(configuration, logger: logger)
        return try await serve(server, body)
    }

    /// A real server whose sandboxes come from `provider` (a seam: a test's
    /// provider can answer what no real sandbox would), on a loopback port.
    @discardableResult
    static func with<T: Sendable>(
        provider: any SandboxProvider, _ configuration: ServerConfiguration = configuration(),
        _ body: @Sendable (Int) async throws -> T
    ) async throws -> T {
        var logger = Logger(label: "test.sandboxd")
        logger.logLevel = .warning
        return try await serve(SandboxServer(configuration: configuration, provider: provider, logger: logger), body)
    }

    private static func serve<T: Sendable>(_ server: SandboxServer, _ body: @Sendable (Int) async throws -> T) async throws -> T {
        let (ports, portSink) = AsyncStream.makeStream(of: Int.self)
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                try await server.run { port in portSink.yield(port) }
                return nil
            }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else { throw TestFailure("the server did not start") }
            do {
                let value = try await body(port)
                group.cancelAll()
                try await group.waitForAll()
                return value
            } catch {
                group.cancelAll()
                throw error
            }
        }
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

import Foundation
import SandboxProtocol
import TestSupport
import Testing

/// Replays protocol/examples/*.jsonl against a live server, by the rules of
/// protocol/examples/README.md.
extension SandboxSuite {
    @Suite("Protocol example transcripts")
    struct TranscriptTests {
        static let directory = Checkout.url("protocol/examples")

        static let files: [String] = {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
            return names.filter { $0.hasSuffix(".jsonl") }.sorted()
        }()

        @Test func everyTranscriptIsReplayed() {
            #expect(Self.files.count >= 10, "protocol/examples has \(Self.files.count) transcripts")
        }

        @Test(arguments: files)
        func transcript(_ name: String) async throws {
            let text = try String(contentsOf: Self.directory.appendingPathComponent(name), encoding: .utf8)
            let lines = try text.split(separator: "\n").filter { !$0.allSatisfy(\.isWhitespace) }.map {
                try JSONDecoder().decode(JSONValue.self, from: Data($0.utf8))
            }
            // Packages come from the wheels the tests build (tinytop, tinyleaf), into a store of this test's own.
            let folder = try PackageTestFolder()
            let configuration = try PackageServerTests.configuration(folder) { $0.workers = 2 }
            try await TestServer.with(configuration) { (port) async throws in
                try await ProtocolClient.connect(port: port) { (client) async throws in
                    let sent = try await TranscriptReplayer(client: client, name: name).replay(lines)
                    try SchemaCheck.validate(SchemaCheck.messages(sent: sent, received: await client.inbox.log))
                }
            }
        }
    }
}

struct TranscriptReplayer {
    let client: ProtocolClient
    let name: String

    /// Returns the messages sent, as sent.
    @discardableResult
    func replay(_ lines: [JSONValue]) async throws -> [JSONValue] {
        var sent: [JSONValue] = []
        // Values a `$capture` pattern took (a session's id), by name, for the `{"$use": name}` of later sends.
        var captured: [String: JSONValue] = [:]
        for (number, line) in lines.enumerated() {
            let place = "\(name):\(number + 1)"
            if let message = line["send"] {
                let message = Self.substituted(message, captured)
                try await client.send(message)
                sent.append(message)
            } else if let text = line["sendText"]?.stringValue {
                try await client.sendText(text)
            } else if let pattern = line["expect"] {
                if let message = try await expect(pattern, at: place) {
                    Self.capture(pattern, message, into: &captured)
                }
            } else {
                throw TestFailure("\(place): a line needs send, sendText or expect")
            }
        }
        try await Task.sleep(for: .milliseconds(500))
        let leftovers = await client.inbox.pending.filter { !Self.isQueuedStatus($0) }
        #expect(leftovers.isEmpty, "\(name): the server sent more than the transcript states: \(leftovers)")
        try await checkSequenceNumbers()
        return sent
    }

    /// `{"$use": name}` replaced by what `{"$capture": name}` took.
    static func substituted(_ message: JSONValue, _ captured: [String: JSONValue]) -> JSONValue {
        switch message {
        case .object(let members):
            if members.count == 1, let name = members["$use"]?.stringValue, let value = captured[name] { return value }
            return .object(members.mapValues { substituted($0, captured) })
        case .array(let items): return .array(items.map { substituted($0, captured) })
        default: return message
        }
    }

    static func capture(_ pattern: JSONValue, _ value: JSONValue, into captured: inout [String: JSONValue]) {
        switch (pattern, value) {
        case (.object(let members), _) where members.count == 1 && members["$capture"] != nil:
            if let name = members["$capture"]?.stringValue { captured[name] = value }
        case (.object(let expected), .object(let actual)):
            for (key, member) in expected { if let inner = actual[key] { capture(member, inner, into: &captured) } }
        case (.array(let expected), .array(let actual)):
            for (member, inner) in zip(expected, actual) { capture(member, inner, into: &captured) }
        default: break
        }
    }

    /// The message that matched, for its captures (none for output, matched by stream).
    @discardableResult
    private func expect(_ pattern: JSONValue, at place: String) async throws -> JSONValue? {
        let key = Self.key(of: pattern)
        let isOutput = pattern["method"]?.stringValue == Method.runOutput
        if isOutput, let expectedText = pattern["params"]?["text"], expectedText.stringValue == nil {
            // A text pattern: wait for the run's response, then match all of that stream's output.
            let id = pattern["params"]?["id"] ?? .null
            let deadline = ContinuousClock.now + .seconds(30)
            while await !client.inbox.contains(where: { $0["method"] == nil && $0["id"] == id }) {
                guard ContinuousClock.now < deadline else { throw TestFailure("\(place): no response for \(id)") }
                try await Task.sleep(for: .milliseconds(5))
            }
            var joined = ""
            while await client.inbox.contains(where: { Self.key(of: $0) == key }) {
                let message = try await take(key: key, at: place)
                #expect(Self.matches(Self.withoutText(pattern), message), "\(place): \(message) does not match \(pattern)")
                joined += message["params"]?["text"]?.stringValue ?? ""
            }
            #expect(Self.matches(expectedText, .string(joined)), "\(place): output \(joined.debugDescription) does not match \(expectedText)")
            return nil
        }
        if isOutput, let expectedText = pattern["params"]?["text"]?.stringValue {
            var joined = ""
            while joined != expectedText {
                let message = try await take(key: key, at: place)
                #expect(Self.matches(Self.withoutText(pattern), message), "\(place): \(message) does not match \(pattern)")
                joined += message["params"]?["text"]?.stringValue ?? ""
                guard expectedText.hasPrefix(joined) else {
                    Issue.record("\(place): output \(joined.debugDescription) is not a prefix of \(expectedText.debugDescription)")
                    return nil
                }
            }
            return nil
        }
        let message = try await take(key: key, at: place)
        #expect(Self.matches(pattern, message), "\(place): received \(message), expected \(pattern)")
        return message
    }

    private func take(key: JSONValue, at place: String) async throws -> JSONValue {
        while true {
            let message: JSONValue
            do {
                message = try await client.inbox.take(within: .seconds(30)) { Self.key(of: $0) == key }
            } catch {
                throw TestFailure("\(place): nothing arrived for \(key): \(error)")
            }
            if !Self.isQueuedStatus(message) { return message }
        }
    }

    /// Each run's seq is 0, 1, 2, ... in arrival order across its output and
    /// displays; a response starts a new sequence for its id.
    private func checkSequenceNumbers() async throws {
        var next: [JSONValue: Int] = [:]
        for message in await client.inbox.log {
            if [Method.runOutput, Method.runDisplay].contains(message["method"]?.stringValue), let id = message["params"]?["id"] {
                #expect(message["params"]?["seq"]?.intValue == next[id, default: 0], "\(name): seq out of order in \(message)")
                next[id, default: 0] += 1
            } else if message["method"] == nil, let id = message["id"] {
                next[id] = 0
            }
        }
    }

    static func isQueuedStatus(_ message: JSONValue) -> Bool {
        message["method"]?.stringValue == Method.runStatus && message["params"]?["state"]?.stringValue == "queued"
    }

    /// Responses and run/status share a run's id as key; run/output adds its stream.
    static func key(of message: JSONValue) -> JSONValue {
        guard let method = message["method"]?.stringValue else { return .array([message["id"] ?? .null]) }
        let id = message["params"]?["id"] ?? .null
        if method == Method.runOutput { return .array([id, message["params"]?["stream"] ?? .null]) }
        return .array([id])
    }

    static func withoutText(_ pattern: JSONValue) -> JSONValue {
        guard case .object(var members) = pattern, case .object(var params)? = members["params"] else { return pattern }
        params["text"] = nil
        members["params"] = .object(params)
        return .object(members)
    }

    static func matches(_ pattern: JSONValue, _ value: JSONValue) -> Bool {
        if case .object(let members) = pattern, members.count == 1 {
            if members["$capture"] != nil { return value.stringValue != nil }
            if let regex = members["$regex"]?.stringValue {
                guard let text = value.stringValue else { return false }
                return text.range(of: regex, options: .regularExpression) != nil
            }
            if let type = members["$type"]?.stringValue { return hasType(value, type) }
        }
        switch (pattern, value) {
        case (.object(let expected), .object(let actual)):
            return expected.allSatisfy { key, member in actual[key].map { matches(member, $0) } ?? false }
        case (.array(let expected), .array(let actual)):
            return expected.count == actual.count && zip(expected, actual).allSatisfy { matches($0, $1) }
        case (.integer(let expected), .number(let actual)): return Double(expected) == actual
        case (.number(let expected), .integer(let actual)): return expected == Double(actual)
        default: return pattern == value
        }
    }

    static func hasType(_ value: JSONValue, _ type: String) -> Bool {
        switch (type, value) {
        case ("integer", .integer), ("number", .integer), ("number", .number), ("string", .string), ("boolean", .bool),
             ("null", .null), ("object", .object), ("array", .array): true
        case ("integer", .number(let number)): number.rounded() == number
        default: false
        }
    }
}

/// Every message of a conversation checked against protocol/schema/ (with
/// Debian's python3-jsonschema; `scripts/setup` installs it).
enum SchemaCheck {
    static let schemaDirectory = SandboxSuite.TranscriptTests.directory.deletingLastPathComponent().appendingPathComponent("schema")
    static let validator = Checkout.url("Tests/Fixtures/schema/validate.py")

    /// Pairs each message with its schema: server messages by kind (a result
    /// by the method of its request), client requests that were answered with
    /// a result, and the client's notifications.
    static func messages(sent: [JSONValue], received: [JSONValue]) -> [(schema: String, message: JSONValue)] {
        var methods: [JSONValue: String] = [:]
        for message in sent {
            if let id = message["id"], let method = message["method"]?.stringValue { methods[id] = method }
        }
        let answered = Set(received.compactMap { $0["result"] != nil ? $0["id"] : nil })
        var checks: [(String, JSONValue)] = []
        for message in received {
            switch (message["method"]?.stringValue, message["error"], message["id"].flatMap { methods[$0] }) {
            case (Method.runStatus?, _, _): checks.append(("run-status.notification.json", message))
            case (Method.runOutput?, _, _): checks.append(("run-output.notification.json", message))
            case (Method.runDisplay?, _, _): checks.append(("run-display.notification.json", message))
            case (Method.runStdinWanted?, _, _): checks.append(("run-stdin-wanted.notification.json", message))
            case (Method.runTest?, _, _): checks.append(("run-test.notification.json", message))
            case (nil, _?, _): checks.append(("error.response.json", message))
            case (nil, nil, Method.initialize?): checks.append(("initialize.response.json", message))
            case (nil, nil, Method.run?): checks.append(("run.response.json", message))
            case (Method.sessionEnded?, _, _): checks.append(("session-ended.notification.json", message))
            case (nil, nil, Method.sessionOpen?): checks.append(("session-open.response.json", message))
            case (nil, nil, Method.sessionClose?): checks.append(("session-close.response.json", message))
            case (nil, nil, Method.codeComplete?): checks.append(("code-complete.response.json", message))
            case (nil, nil, Method.codeInspect?): checks.append(("code-inspect.response.json", message))
            case (nil, nil, Method.codeIsComplete?): checks.append(("code-is-complete.response.json", message))
            case (nil, nil, Method.sessionFork?): checks.append(("session-fork.response.json", message))
            case (nil, nil, Method.sessionFilesList?): checks.append(("session-files-list.response.json", message))
            case (nil, nil, Method.sessionFilesRead?): checks.append(("session-files-read.response.json", message))
            case (nil, nil, Method.sessionFilesWrite?): checks.append(("session-files-write.response.json", message))
            case (nil, nil, Method.sessionFilesRemove?): checks.append(("session-files-remove.response.json", message))
            default: checks.append(("unknown message", message))
            }
        }
        for message in sent {
            switch message["method"]?.stringValue {
            case Method.runStdin?: checks.append(("run-stdin.notification.json", message))
            case Method.cancelRequest?: checks.append(("cancel-request.notification.json", message))
            case Method.initialize? where message["id"].map(answered.contains) == true:
                checks.append(("initialize.request.json", message))
            case Method.run? where message["id"].map(answered.contains) == true:
                checks.append(("run.request.json", message))
            case Method.sessionOpen? where message["id"].map(answered.contains) == true:
                checks.append(("session-open.request.json", message))
            case Method.sessionClose? where message["id"].map(answered.contains) == true:
                checks.append(("session-close.request.json", message))
            case Method.codeComplete? where message["id"].map(answered.contains) == true:
                checks.append(("code-complete.request.json", message))
            case Method.codeInspect? where message["id"].map(answered.contains) == true:
                checks.append(("code-inspect.request.json", message))
            case Method.codeIsComplete? where message["id"].map(answered.contains) == true:
                checks.append(("code-is-complete.request.json", message))
            case Method.sessionFork? where message["id"].map(answered.contains) == true:
                checks.append(("session-fork.request.json", message))
            case Method.sessionFilesList? where message["id"].map(answered.contains) == true:
                checks.append(("session-files-list.request.json", message))
            case Method.sessionFilesRead? where message["id"].map(answered.contains) == true:
                checks.append(("session-files-read.request.json", message))
            case Method.sessionFilesWrite? where message["id"].map(answered.contains) == true:
                checks.append(("session-files-write.request.json", message))
            case Method.sessionFilesRemove? where message["id"].map(answered.contains) == true:
                checks.append(("session-files-remove.request.json", message))
            default: break
            }
        }
        return checks
    }

    static func validate(_ checks: [(schema: String, message: JSONValue)]) throws {
        let unknown = checks.filter { $0.schema == "unknown message" }
        #expect(unknown.isEmpty, "messages of no known kind: \(unknown.map(\.message))")
        let input = checks.filter { $0.schema != "unknown message" }
            .map { JSONValue.object(["schema": .string($0.schema), "message": $0.message]).description }
            .joined(separator: "\n")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [validator.path, schemaDirectory.path]
        let stdin = Pipe()
        let output = Pipe()
        process.standardInput = stdin
        process.standardOutput = output
        process.standardError = output
        try process.run()
        stdin.fileHandleForWriting.write(Data(input.utf8))
        try stdin.fileHandleForWriting.close()
        let report = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "schema check failed (python3-jsonschema installed?):\n\(report)")
    }
}

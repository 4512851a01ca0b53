import Foundation
import SandboxProtocol
import Testing

/// `session/files/*` (PROTOCOL.md §4.16) through a real server and real
/// sessions: the four methods against what cells see, their order behind a
/// running cell, and hostile paths and files a program planted (symbolic
/// links out of the folder, a FIFO, a file over the limit). Every message
/// is checked against the schemas.
extension SandboxSuite {
    @Suite("Session files")
    struct SessionFilesTests {
        static func files(
            _ client: ProtocolClient, _ id: JSONValue, _ method: SessionFilesParams.Method, _ params: [String: JSONValue]
        ) async throws -> JSONValue {
            try await client.request(id, method.name, params)
            return try await client.response(id)
        }

        static func reason(_ reply: JSONValue) -> String? {
            reply["error"]?["code"] == .integer(Int64(RPCErrorCode.fileError.rawValue)) ? reply["error"]?["data"]?["reason"]?.stringValue : nil
        }

        static func checkSchemas(_ client: ProtocolClient) async throws {
            try SchemaCheck.validate(SchemaCheck.messages(sent: client.sent.withLock { $0 }, received: await client.inbox.log))
        }

        @Test func writeReadListAndRemoveAsCellsSeeThem() async throws {
            try await TestServer.with { (port) async throws in
                try await ProtocolClient.connect(port: port) { (client) async throws in
                    let session = try await SessionServerTests.open(client, "open")
                    let s = JSONValue.string(session)
                    let written = try await Self.files(client, "w1", .write, ["session": s, "path": "data/in.txt", "content": "héllo\n"])
                    #expect(written["result"] == ["path": "data/in.txt", "size": 7, "created": true], "\(written)")
                    let again = try await Self.files(client, "w2", .write, [
                        "session": s, "path": "data/in.txt", "content": ["base64": .string(Base64.encode(Array("héllo again\n".utf8)))],
                    ])
                    #expect(again["result"]?["created"] == false)
                    let cell = try await client.run(1, [
                        "session": s,
                        "code": "text = open('data/in.txt').read()\nopen('out.bin', 'wb').write(bytes([0, 255, 1]))\nprint(repr(text))",
                    ])
                    #expect(cell.stdout == "'héllo again\\n'\n", "\(cell.response)")
                    let binary = try await Self.files(client, "r1", .read, ["session": s, "path": "out.bin"])
                    #expect(binary["result"] == ["path": "out.bin", "size": 3, "base64": "AP8B"], "\(binary)")
                    let text = try await Self.files(client, "r2", .read, ["session": s, "path": "data/in.txt"])
                    #expect(text["result"]?["text"] == "héllo again\n" && text["result"]?["size"] == 13, "\(text)")
                    let listed = try await Self.files(client, "l1", .list, ["session": s])
                    let entries = listed["result"]?["entries"]?.arrayValue ?? []
                    let names = entries.compactMap { $0["name"]?.stringValue }
                    #expect(names.contains("data") && names.contains("out.bin") && names == names.sorted(), "\(listed)")
                    #expect(entries.first { $0["name"] == "data" }?["type"] == "directory")
                    #expect(entries.first { $0["name"] == "out.bin" }?["size"] == 3)
                    let inside = try await Self.files(client, "l2", .list, ["session": s, "path": "data"])
                    #expect(inside["result"]?["entries"]?.arrayValue?.count == 1 && inside["result"]?["truncated"] == false, "\(inside)")
                    let removed = try await Self.files(client, "x1", .remove, ["session": s, "path": "data"])
                    #expect(removed["result"] == ["path": "data", "removed": "directory"], "\(removed)")
                    let gone = try await Self.files(client, "r3", .read, ["session": s, "path": "data/in.txt"])
                    #expect(Self.reason(gone) == "notFound", "\(gone)")
                    #expect(gone["error"]?["data"]?["path"] == "data/in.txt")
                    let notFolder = try await Self.files(client, "l3", .list, ["session": s, "path": "out.bin"])
                    #expect(Self.reason(notFolder) == "notADirectory", "\(notFolder)")
                    let folder = try await Self.files(client, "r4", .read, ["session": s, "path": "."])
                    #expect(folder["error"]?["code"] == -32602, "\(folder)")
                    // The session's names were not touched, and no cell number was used up.
                    let after = try await client.run(2, ["session": s, "code": "print(text == 'héllo again\\n')\n1/0"])
                    #expect(after.stdout == "True\n" && after.stderr.contains("<cell 2>"), "\(after.response)")
                    try await Self.checkSchemas(client)
                }
            }
        }

        @Test func aRequestWaitsBehindTheRunningCell() async throws {
            try await TestServer.with { (port) async throws in
                try await ProtocolClient.connect(port: port) { (client) async throws in
                    let session = JSONValue.string(try await SessionServerTests.open(client, "open"))
                    try await client.request(1, Method.run, [
                        "session": session, "code": "import time\ntime.sleep(0.5)\nopen('late.txt', 'w').write('written late')",
                    ])
                    try await client.request("r", SessionFilesParams.Method.read.name, ["session": session, "path": "late.txt"])
                    let read = try await client.response("r")
                    #expect(read["result"]?["text"] == "written late", "\(read)")
                    // The run's verdict came first.
                    let log = await client.inbox.log
                    let verdict = log.firstIndex { $0["id"] == 1 && $0["result"] != nil }
                    let answer = log.firstIndex { $0["id"] == "r" }
                    #expect(verdict != nil && answer != nil && verdict! < answer!)
                }
            }
        }

        @Test func hostilePathsAndPlantedFilesAreRefused() async throws {
            let configuration = TestServer.configuration { $0.maxReturnBytes = 1 << 20 }
            try await TestServer.with(configuration) { (port) async throws in
                try await ProtocolClient.connect(port: port) { (client) async throws in
                    let s = JSONValue.string(try await SessionServerTests.open(client, "open"))
                    for (index, path) in ["../etc/passwd", "/etc/passwd", "a//b", "a/./b", "", "x\u{0}y"].enumerated() {
                        let reply = try await Self.files(client, .integer(Int64(100 + index)), .read, ["session": s, "path": .string(path)])
                        #expect(reply["error"]?["code"] == -32602, "\(path): \(reply)")
                    }
                    let unknown = try await Self.files(client, "u", .list, ["session": "s-000000000000000000000000"])
                    #expect(unknown["error"]?["code"] == -32602, "\(unknown)")
                    let planted = try await client.run(1, ["session": s, "code": """
                        import os, socket
                        os.symlink('/etc', 'etc_link')
                        os.symlink('/etc/passwd', 'passwd_link')
                        os.symlink('loop', 'loop')
                        listening = socket.socket(socket.AF_UNIX)
                        listening.bind('pipe')
                        os.mkdir('real')
                        open('big.bin', 'wb').write(b'x' * (2 << 20))
                        """])
                    #expect(planted.status == "ok", "\(planted.response)")
                    let cases: [(SessionFilesParams.Method, String, String)] = [
                        (.read, "etc_link/passwd", "symlink"), (.read, "passwd_link", "symlink"), (.list, "etc_link", "symlink"),
                        (.read, "loop", "symlink"), (.write, "etc_link/x", "symlink"), (.write, "passwd_link", "symlink"),
                        (.read, "pipe", "notRegularFile"), (.read, "real", "isADirectory"), (.write, "real", "isADirectory"),
                        (.read, "big.bin", "tooLarge"),
                    ]
                    for (index, (method, path, expected)) in cases.enumerated() {
                        var params: [String: JSONValue] = ["session": s, "path": .string(path)]
                        if method == .write { params["content"] = "planted" }
                        let reply = try await Self.files(client, .integer(Int64(200 + index)), method, params)
                        #expect(Self.reason(reply) == expected, "\(method) \(path): \(reply)")
                        if expected == "tooLarge" {
                            #expect(reply["error"]?["data"]?["size"] == .integer(2 << 20) && reply["error"]?["data"]?["limit"] == .integer(1 << 20))
                        }
                    }
                    // Removing a link removes the link, never what it names.
                    let unlinked = try await Self.files(client, "x", .remove, ["session": s, "path": "etc_link"])
                    #expect(unlinked["result"]?["removed"] == "symlink", "\(unlinked)")
                    let listed = try await Self.files(client, "l", .list, ["session": s])
                    let types = Dictionary(uniqueKeysWithValues: (listed["result"]?["entries"]?.arrayValue ?? []).compactMap { entry in
                        entry["name"]?.stringValue.map { ($0, entry["type"]?.stringValue ?? "") }
                    })
                    #expect(types["passwd_link"] == "symlink" && types["pipe"] == "other" && types["etc_link"] == nil, "\(listed)")
                    let intact = try await client.run(2, ["session": s, "code": "import os\nprint(os.path.exists('/etc/passwd'), os.path.isdir('/etc'))"])
                    #expect(intact.stdout == "True True\n", "\(intact.response)")
                    try await Self.checkSchemas(client)
                }
            }
        }

        /// A process of the session's swaps a name between a file and a link
        /// out of the folder (and a folder on the way between a folder and a
        /// link) while reads come: each read gets the file or a refusal,
        /// never what a link names.
        @Test func aLinkSwappedInDuringRequestsIsNeverFollowed() async throws {
            try await TestServer.with { (port) async throws in
                try await ProtocolClient.connect(port: port) { (client) async throws in
                    let s = JSONValue.string(try await SessionServerTests.open(client, "open"))
                    let swapper = """
                        import os
                        os.makedirs('real', exist_ok=True)
                        open('real/passwd', 'w').write('mine\\n')
                        while True:
                            for name, target in (('swap', '/etc/passwd'), ('dir', '/etc')):
                                try:
                                    os.symlink(target, name + '.new')
                                    os.replace(name + '.new', name)
                                    os.unlink(name)
                                    if name == 'swap':
                                        open('swap.new', 'w').write('mine\\n')
                                        os.replace('swap.new', 'swap')
                                    else:
                                        os.symlink('real', 'dir.new')
                                        os.replace('dir.new', 'dir')
                                except OSError:
                                    pass
                        """
                    let started = try await client.run(1, ["session": s, "code": .string(
                        "import subprocess, sys\nswapper = subprocess.Popen([sys.executable, '-c', \(JSONValue.string(swapper).description)])")])
                    #expect(started.status == "ok", "\(started.response)")
                    var seen: [String: Int] = [:]
                    for index in 0..<40 {
                        let path = index % 2 == 0 ? "swap" : "dir/passwd"
                        let reply = try await Self.files(client, .integer(Int64(100 + index)), .read, ["session": s, "path": .string(path)])
                        let text = reply["result"]?["text"]?.stringValue
                        #expect(text == nil || text == "mine\n", "\(path) read another file: \(reply)")
                        #expect(!(text ?? "").contains("root:"))
                        let outcome = text != nil ? "read" : Self.reason(reply) ?? "\(reply)"
                        // A link in place of `dir` is refused as a link, or as no folder (O_DIRECTORY | O_NOFOLLOW).
                        #expect(["read", "symlink", "notFound", "notADirectory"].contains(outcome), "\(path): \(reply)")
                        seen[outcome, default: 0] += 1
                    }
                    #expect((seen["symlink"] ?? 0) > 0, "the swapper never had a link in place: \(seen)")
                    _ = try await client.run(2, ["session": s, "code": "swapper.kill()"])
                }
            }
        }

        @Test func aSessionThatEndedIsSaidToHaveEnded() async throws {
            try await TestServer.with { (port) async throws in
                try await ProtocolClient.connect(port: port) { (client) async throws in
                    let s = JSONValue.string(try await SessionServerTests.open(client, "open", ["onFailure": "end"]))
                    _ = try await client.run(1, ["session": s, "code": "import os\nos._exit(3)"])
                    _ = try await client.inbox.take { $0["method"] == .string(Method.sessionEnded) }
                    let reply = try await Self.files(client, "r", .list, ["session": s])
                    #expect(reply["error"]?["code"] == .integer(Int64(RPCErrorCode.sessionEnded.rawValue)), "\(reply)")
                }
            }
        }
    }
}

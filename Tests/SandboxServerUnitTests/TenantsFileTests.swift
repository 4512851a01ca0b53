import Foundation
import Testing

@testable import SandboxServer

/// `--tenants FILE` as read at start and on SIGHUP: good files give their
/// tenants; every bad one is refused whole, with its line and the reason.
@Suite("Tenants file")
struct TenantsFileTests {
    static let maxima = TenantLimits(timeoutMs: 60_000, cpuTimeMs: 60_000, memoryMb: 1024, maxOutputBytes: 16 << 20)

    static func parse(_ text: String) throws(TenantsFile.Problem) -> [Tenant] {
        try TenantsFile.parse(Array(text.utf8), file: "tenants.json", serverMaxima: maxima)
    }

    static func refusal(_ text: String) -> TenantsFile.Problem? {
        do {
            _ = try parse(text)
            return nil
        } catch {
            return error
        }
    }

    @Test func aGoodFileGivesEachTenantItsSettings() throws {
        let digest = String(repeating: "ab", count: 32)
        let tenants = try Self.parse("""
            {"tenants": [
              {"name": "school", "token": "school-secret-1", "maxConcurrentRuns": 4, "maxQueuedRuns": 20, "runsPerMinute": 120,
               "maxSessions": 8, "cpuSecondsPerDay": 3600, "packages": ["NumPy", "pandas"],
               "limits": {"timeoutMs": 5000, "memoryMb": 256}},
              {"name": "agents.prod", "tokenSha256": "\(digest.uppercased())", "packages": false},
              {"name": "open_lab", "token": "lab-secret"}
            ]}
            """)
        #expect(tenants.map(\.name) == ["school", "agents.prod", "open_lab"])
        let school = tenants[0]
        #expect(school.tokenDigests == [TokenDigest(token: "school-secret-1")])
        #expect(school.maxConcurrentRuns == 4 && school.maxQueuedRuns == 20 && school.runsPerMinute == 120 && school.maxSessions == 8 && school.cpuSecondsPerDay == 3600)
        #expect(school.packages == .only(["numpy", "pandas"]) && school.packages.allows("NUMPY") && !school.packages.allows("scipy"))
        #expect(school.limits == TenantLimits(timeoutMs: 5000, memoryMb: 256))
        #expect(tenants[1].tokenDigests == [TokenDigest(hex: digest)!] && tenants[1].packages == .none)
        #expect(tenants[2].packages == .any && tenants[2].limits == TenantLimits() && tenants[2].maxConcurrentRuns == nil)
    }

    @Test(arguments: [
        // (file, line, words the reason must hold)
        ("{\"tenants\": [\n{\"name\": \"a\", \"token\": \"t1\"},\n{\"name\": \"a\", \"token\": \"t2\"}]}", 3, "named twice (first on line 2)"),
        ("{\"tenants\": [\n{\"name\": \"a\", \"token\": \"same\"},\n{\"name\": \"b\",\n \"token\": \"same\"}]}", 3, "has the same token as \"a\" (line 2)"),
        ("{\"tenants\": [{\"name\": \"a\",\n \"token\": \"t\", \"maxSessions\": 0}]}", 2, "maxSessions must be a whole number from 1"),
        ("{\"tenants\": [{\"name\": \"a\", \"token\": \"t\",\n \"runsPerMinute\": 2.5}]}", 2, "runsPerMinute must be a whole number"),
        ("{\"tenants\": [{\"name\": \"a\", \"token\": \"t\",\n\n \"maxConcurentRuns\": 2}]}", 3, "unknown field \"maxConcurentRuns\""),
        ("{\"tenants\": [{\"name\": \"a\", \"token\": \"t\", \"limits\": {\n\"memoryMb\": 4096}}]}", 2, "memoryMb 4096 is above the server's maximum 1024 (--max-memory-mb)"),
        ("{\"tenants\": [{\"name\": \"a\", \"token\": \"t\", \"limits\": {\"wallMs\": 1}}]}", 1, "unknown limit \"wallMs\""),
        ("{\"tenants\": [{\"name\": \"a\", \"token\": \"t\", \"limits\": {\"memoryMb\": 8}}]}", 1, "below the protocol's minimum 16"),
        ("{\"tenants\": [{\"name\": \"a\", \"token\": \"t\", \"tokenSha256\": \"\(String(repeating: "0", count: 64))\"}]}", 1, "has both"),
        ("{\"tenants\": [{\"name\": \"a\"}]}", 1, "needs \"token\" or \"tokenSha256\""),
        ("{\"tenants\": [{\"name\": \"a\", \"tokenSha256\": \"abc\"}]}", 1, "64 hexadecimal digits"),
        ("{\"tenants\": [{\"name\": \"a\", \"token\": \"has space\"}]}", 1, "without spaces"),
        ("{\"tenants\": [{\"name\": \"a b\", \"token\": \"t\"}]}", 1, "letters, digits"),
        ("{\"tenants\": [{\"token\": \"t\"}]}", 1, "needs a \"name\""),
        ("{\"tenants\": [{\"name\": \"a\", \"token\": \"t\",\n \"packages\": [\"numpy\", \"no such!\"]}]}", 2, "packages lists distribution names"),
        ("{\"tenants\": [{\"name\": \"a\", \"token\": \"t\",\n \"packages\": \"all\"}]}", 2, "true, false or a list"),
        ("{\"tenants\": [{\"name\": \"a\",\n \"token\": \"t\",\n \"token\": \"u\"}]}", 3, "\"token\" appears twice in tenants.0"),
        ("{\"tenants\": []}", 1, "is empty"),
        ("{\"tenant\": []}", 1, "unknown field \"tenant\""),
        ("[]", 1, "must be an object"),
        ("{\"tenants\": {}}", 1, "must be a list"),
        ("{\"tenants\": [7]}", 1, "a tenant must be an object"),
    ] as [(String, Int, String)])
    func aBadFileIsRefusedWithItsLineAndReason(file: String, line: Int, reason: String) {
        let problem = Self.refusal(file)
        #expect(problem?.line == line && problem?.reason.contains(reason) == true, "\(String(describing: problem))")
        #expect(problem?.description.hasPrefix("tenants.json:\(line): ") == true)
    }

    @Test func textThatIsNotJSONIsRefusedWithFoundationsWords() {
        let problem = Self.refusal("{\"tenants\": [\n{\"name\": \"a\",, }]}")
        #expect(problem?.reason.hasPrefix("is not JSON: ") == true && problem?.line == 2, "\(String(describing: problem))")
        #expect(Self.refusal("") != nil && Self.refusal("\u{0}") != nil)
    }

    @Test func aHugeFileOrTooManyTenantsIsRefusedBeforeAnythingIsUsed() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tenants-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let huge = folder.appendingPathComponent("huge.json")
        try Data(repeating: UInt8(ascii: " "), count: TenantsFile.maxBytes + 1).write(to: huge)
        #expect(throws: TenantsFile.Problem(file: huge.path, reason: "is larger than 4 MiB")) {
            try TenantsFile.load(path: huge.path, serverMaxima: Self.maxima)
        }
        let many = (0...TenantsFile.maxTenants).map { "{\"name\": \"t\($0)\", \"token\": \"k\($0)\"}" }
        #expect(Self.refusal("{\"tenants\": [\(many.joined(separator: ","))]}")?.reason == "10001 tenants; at most 10000")
        let missing = folder.appendingPathComponent("missing.json").path
        #expect(throws: TenantsFile.Problem(file: missing, reason: "cannot be read (No such file or directory)")) {
            try TenantsFile.load(path: missing, serverMaxima: Self.maxima)
        }
    }

    @Test func aTokenMatchesItsDigestOnly() {
        let digest = TokenDigest(token: "secret")
        // echo -n secret | sha256sum
        #expect(digest == TokenDigest(hex: "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b"))
        #expect(digest == TokenDigest(token: "secret") && digest != TokenDigest(token: "secret "))
        #expect(TokenDigest(hex: String(repeating: "g", count: 64)) == nil && TokenDigest(hex: "") == nil)
    }
}

@Suite("TenantDirectory")
struct TenantDirectoryTests {
    @Test func aTokenFindsItsTenantAndNoOther() throws {
        let tenants = try TenantsFileTests.parse("""
            {"tenants": [{"name": "a", "token": "alpha-token"},
                         {"name": "b", "tokenSha256": "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b"}]}
            """)
        let directory = TenantDirectory(tenants)
        #expect(directory.tenant(presenting: "alpha-token")?.name == "a")
        #expect(directory.tenant(presenting: "secret")?.name == "b")
        #expect(directory.tenant(presenting: "alpha-token ") == nil && directory.tenant(presenting: "") == nil)
        #expect(directory.tenant(presenting: "secret")?.tokenDigests == [TokenDigest(token: "secret")])
        let single = TenantDirectory.single(tokens: ["one", "two"])
        #expect(single.tenant(presenting: "two")?.name == "default" && single.tenant(presenting: "three") == nil)
    }
}

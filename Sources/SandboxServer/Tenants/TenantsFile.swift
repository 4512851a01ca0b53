import Foundation
import SandboxProtocol

/// A tenants file (`--tenants FILE`), read and checked whole: a file with
/// anything wrong is refused with its line and the reason, and nothing of
/// it is used (at start, sandboxd does not start; on SIGHUP, the tenants
/// before stay).
///
///     {"tenants": [{"name": "school", "token": "…", "maxConcurrentRuns": 4,
///       "runsPerMinute": 120, "maxSessions": 8, "cpuSecondsPerDay": 3600,
///       "packages": ["numpy"], "limits": {"timeoutMs": 5000, "memoryMb": 256}}]}
public enum TenantsFile {
    /// Larger files are refused before they are parsed.
    public static let maxBytes = 4 << 20
    public static let maxTenants = 10_000
    static let maxTokenBytes = 4096
    /// Each count a tenant sets is at least 1 and at most this.
    static let largestCount = 1_000_000_000

    /// Why a file was refused: where, and what is wrong.
    public struct Problem: Error, Equatable, CustomStringConvertible {
        public var file: String
        public var line: Int?
        public var reason: String

        public var description: String { "\(file)\(line.map { ":\($0)" } ?? ""): \(reason)" }
    }

    /// Reads and checks `path`; `serverMaxima` are the server's own maxima,
    /// which a tenant's `limits` may lower but not raise.
    public static func load(path: String, serverMaxima: TenantLimits) throws(Problem) -> [Tenant] {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw Problem(file: path, reason: "cannot be read (\(String(cString: strerror(errno))))")
        }
        defer { try? handle.close() }
        // One more byte than allowed tells a file that is too large without reading all of it.
        let data = (try? handle.read(upToCount: maxBytes + 1)) ?? Data()
        guard data.count <= maxBytes else { throw Problem(file: path, reason: "is larger than \(maxBytes >> 20) MiB") }
        return try parse(Array(data), file: path, serverMaxima: serverMaxima)
    }

    /// `text` as a JSON string, at most 80 characters of it: a key or name
    /// the file got wrong is shown escaped, never as the control characters it may hold.
    static func quoted(_ text: String) -> String {
        JSONValue.string(String(text.prefix(80))).description
    }

    /// `text` with its control characters escaped: Foundation's words for a
    /// syntax error quote the file, which may hold any of them.
    static func printable(_ text: String) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.flatMap { scalar -> [Unicode.Scalar] in
            scalar.value < 0x20 || scalar.value == 0x7F ? Array(scalar.escaped(asASCII: true).unicodeScalars) : [scalar]
        }))
    }

    public static func parse(_ text: [UInt8], file: String, serverMaxima: TenantLimits) throws(Problem) -> [Tenant] {
        let document: JSONValue
        do {
            document = try JSONDecoder().decode(JSONValue.self, from: Data(text))
        } catch {
            let reason = syntaxReason(text) ?? syntaxReason(error)
            throw Problem(file: file, line: line(around: reason, in: text), reason: "is not JSON: \(printable(reason))")
        }
        let lines = JSONLines(text)
        if let duplicate = lines.duplicateKey {
            throw Problem(file: file, line: duplicate.line, reason: "\(quoted(duplicate.key)) appears twice in \(describe(duplicate.path))")
        }
        var reader = Reader(file: file, lines: lines, serverMaxima: serverMaxima)
        return try reader.tenants(of: document)
    }

    /// JSONSerialization's words for a syntax error, which carry its place (JSONDecoder's do not).
    private static func syntaxReason(_ text: [UInt8]) -> String? {
        do {
            _ = try JSONSerialization.jsonObject(with: Data(text), options: [.fragmentsAllowed])
            return nil
        } catch {
            return (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String
        }
    }

    private static func syntaxReason(_ error: any Error) -> String {
        if case DecodingError.dataCorrupted(let context) = error {
            if let underlying = context.underlyingError as NSError?,
               let detail = underlying.userInfo[NSDebugDescriptionErrorKey] as? String {
                return detail
            }
            return context.debugDescription
        }
        return "\(error)"
    }

    /// The line of the offset Foundation names ("… around character 27."), if it names one.
    private static func line(around reason: String, in text: [UInt8]) -> Int? {
        guard let mark = reason.range(of: "around character ") else { return nil }
        guard let offset = Int(reason[mark.upperBound...].prefix { $0.isNumber }) else { return nil }
        return 1 + text.prefix(offset).count { $0 == UInt8(ascii: "\n") }
    }

    static func describe(_ path: [String]) -> String {
        path.isEmpty ? "the file" : path.joined(separator: ".")
    }

    /// Reads the document into tenants, refusing at the first problem.
    private struct Reader {
        let file: String
        let lines: JSONLines
        let serverMaxima: TenantLimits

        func problem(_ path: [String], _ reason: String) -> Problem {
            Problem(file: file, line: lines.line(of: path), reason: reason)
        }

        mutating func tenants(of document: JSONValue) throws(Problem) -> [Tenant] {
            guard case .object(let top) = document else { throw problem([], "must be an object: {\"tenants\": [...]}") }
            if let unknown = top.keys.sorted().first(where: { $0 != "tenants" }) {
                throw problem([unknown], "unknown field \(quoted(unknown)): the file holds \"tenants\" only")
            }
            guard case .array(let entries) = top["tenants"] ?? .null else {
                throw problem(["tenants"], "\"tenants\" must be a list of tenants")
            }
            guard !entries.isEmpty else { throw problem(["tenants"], "\"tenants\" is empty: no client could use the service") }
            guard entries.count <= maxTenants else {
                throw problem(["tenants"], "\(entries.count) tenants; at most \(maxTenants)")
            }
            var tenants: [Tenant] = []
            var names: [String: Int] = [:]
            var owners: [TokenDigest: Int] = [:]
            for (position, entry) in entries.enumerated() {
                let path = ["tenants", String(position)]
                let tenant = try self.tenant(entry, at: path)
                if let first = names[tenant.name] {
                    throw problem(path + ["name"], "tenant \"\(tenant.name)\" is named twice (first on line \(lines.line(of: ["tenants", String(first)]) ?? 0))")
                }
                for digest in tenant.tokenDigests {
                    if let first = owners[digest] {
                        throw problem(path, "tenant \"\(tenant.name)\" has the same token as \"\(tenants[first].name)\" (line \(lines.line(of: ["tenants", String(first)]) ?? 0))")
                    }
                    owners[digest] = position
                }
                names[tenant.name] = position
                tenants.append(tenant)
            }
            return tenants
        }

        static let fields: Set<String> = [
            "name", "token", "tokenSha256", "maxConcurrentRuns", "maxQueuedRuns", "runsPerMinute", "maxSessions", "cpuSecondsPerDay", "packages", "limits",
        ]

        func tenant(_ entry: JSONValue, at path: [String]) throws(Problem) -> Tenant {
            guard case .object(let fields) = entry else { throw problem(path, "a tenant must be an object") }
            if let unknown = fields.keys.sorted().first(where: { !Self.fields.contains($0) }) {
                throw problem(path + [unknown], "unknown field \(quoted(unknown)) (a tenant has \(Self.fields.sorted().joined(separator: ", ")))")
            }
            guard case .string(let name) = fields["name"] ?? .null else { throw problem(path, "a tenant needs a \"name\" (a string)") }
            guard Self.isName(name) else {
                throw problem(path + ["name"], "name \(quoted(name)): 1 to 64 letters, digits, '.', '_' or '-'")
            }
            let subject = path + ["name"]
            let digest: TokenDigest
            switch (fields["token"], fields["tokenSha256"]) {
            case (.string(let token)?, nil):
                guard !token.isEmpty, token.utf8.count <= maxTokenBytes, token.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value != 0x7f }) else {
                    throw problem(path + ["token"], "tenant \"\(name)\": a token is 1 to \(maxTokenBytes) bytes, without spaces or control characters")
                }
                digest = TokenDigest(token: token)
            case (nil, .string(let hex)?):
                guard let parsed = TokenDigest(hex: hex) else {
                    throw problem(path + ["tokenSha256"], "tenant \"\(name)\": tokenSha256 must be 64 hexadecimal digits")
                }
                digest = parsed
            case (nil, nil):
                throw problem(subject, "tenant \"\(name)\" needs \"token\" or \"tokenSha256\"")
            case (.some, .some):
                throw problem(subject, "tenant \"\(name)\" has both \"token\" and \"tokenSha256\"; give one")
            default:
                throw problem(subject, "tenant \"\(name)\": \"token\" and \"tokenSha256\" are strings")
            }
            return Tenant(
                name: name, tokenDigests: [digest],
                maxConcurrentRuns: try count(fields, "maxConcurrentRuns", at: path, of: name),
                maxQueuedRuns: try count(fields, "maxQueuedRuns", at: path, of: name),
                runsPerMinute: try count(fields, "runsPerMinute", at: path, of: name),
                maxSessions: try count(fields, "maxSessions", at: path, of: name),
                cpuSecondsPerDay: try count(fields, "cpuSecondsPerDay", at: path, of: name),
                packages: try packages(fields["packages"], at: path + ["packages"], of: name),
                limits: try limits(fields["limits"], at: path + ["limits"], of: name))
        }

        static func isName(_ name: String) -> Bool {
            (1...64).contains(name.utf8.count)
                && name.utf8.allSatisfy { byte in
                    (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                        || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_")
                        || byte == UInt8(ascii: "-")
                }
        }

        func count(_ fields: [String: JSONValue], _ key: String, at path: [String], of name: String, most: Int = largestCount) throws(Problem) -> Int? {
            guard let value = fields[key] else { return nil }
            guard case .integer(let number) = value, number >= 1, number <= most else {
                throw problem(path + [key], "tenant \"\(name)\": \(key) must be a whole number from 1 to \(most), not \(value.description.prefix(40))")
            }
            return Int(number)
        }

        func packages(_ value: JSONValue?, at path: [String], of name: String) throws(Problem) -> PackageAllowance {
            switch value {
            case nil, .bool(true)?: return .any
            case .bool(false)?: return .none
            case .array(let items)?:
                var names: Set<String> = []
                for (position, item) in items.enumerated() {
                    guard case .string(let package) = item, PackageRequirement.isValidName(package) else {
                        throw problem(path + [String(position)], "tenant \"\(name)\": packages lists distribution names, not \(item.description.prefix(40))")
                    }
                    names.insert(PackageRequirement.normalize(package))
                }
                return .only(names)
            default:
                throw problem(path, "tenant \"\(name)\": packages is true, false or a list of names")
            }
        }

        static let limitFields = ["timeoutMs", "cpuTimeMs", "memoryMb", "maxOutputBytes"]

        func limits(_ value: JSONValue?, at path: [String], of name: String) throws(Problem) -> TenantLimits {
            guard let value else { return TenantLimits() }
            guard case .object(let fields) = value else { throw problem(path, "tenant \"\(name)\": limits must be an object") }
            if let unknown = fields.keys.sorted().first(where: { !Self.limitFields.contains($0) }) {
                throw problem(path + [unknown], "tenant \"\(name)\": unknown limit \(quoted(unknown)) (limits are \(Self.limitFields.joined(separator: ", ")))")
            }
            func limit(_ key: String, _ server: Int?, _ option: String) throws(Problem) -> Int? {
                guard let wanted = try count(fields, key, at: path, of: name) else { return nil }
                if key == "memoryMb", wanted < RunParams.minimumMemoryMb {
                    throw problem(path + [key], "tenant \"\(name)\": memoryMb \(wanted) is below the protocol's minimum \(RunParams.minimumMemoryMb)")
                }
                if let server, wanted > server {
                    throw problem(path + [key], "tenant \"\(name)\": \(key) \(wanted) is above the server's maximum \(server) (\(option))")
                }
                return wanted
            }
            return TenantLimits(
                timeoutMs: try limit("timeoutMs", serverMaxima.timeoutMs, "--max-timeout-ms"),
                cpuTimeMs: try limit("cpuTimeMs", serverMaxima.cpuTimeMs, "--max-cpu-time-ms"),
                memoryMb: try limit("memoryMb", serverMaxima.memoryMb, "--max-memory-mb"),
                maxOutputBytes: try limit("maxOutputBytes", serverMaxima.maxOutputBytes, "--max-output-bytes"))
        }
    }
}

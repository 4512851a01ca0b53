import Foundation
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Things on the host that sandboxed code must not reach: a secret in the
/// environment and in a file, TCP and UDP listeners on loopback, a unix
/// socket by path and one by abstract name. Created once per test process.
final class HostTargets: Sendable {
    static let shared = HostTargets()

    let directory: String
    let secretPath: String
    let fileSecret: String
    let environmentName = "PYSANDBOX_TEST_SECRET"
    let environmentSecret: String
    let tcpPort: Int
    let udpPort: Int
    let unixSocketPath: String
    let abstractName: String
    private let sockets: [CInt]  // tcp, udp, unix path, unix abstract

    private init() {
        let token = UUID().uuidString.prefix(8)
        directory = "/tmp/pysandbox-secret-\(token)"
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        secretPath = directory + "/secret.txt"
        fileSecret = "HOSTFILESECRET-\(UUID().uuidString)"
        FileManager.default.createFile(atPath: secretPath, contents: Data(fileSecret.utf8))
        environmentSecret = "HOSTENVSECRET-\(UUID().uuidString)"
        setenv(environmentName, environmentSecret, 1)
        let (tcp, tcpPort) = Self.inetSocket(type: SOCK_STREAM)
        let (udp, udpPort) = Self.inetSocket(type: SOCK_DGRAM)
        unixSocketPath = directory + "/host.sock"
        abstractName = "pysandbox-host-\(token)"
        sockets = [tcp, udp, Self.unixSocket(path: unixSocketPath, abstract: false),
                   Self.unixSocket(path: abstractName, abstract: true)]
        self.tcpPort = tcpPort
        self.udpPort = udpPort
    }

    /// Paths of this host no run may see named anywhere (/proc/self/maps,
    /// mountinfo, environ): the checkout, the build folder the launcher and
    /// the fork-run library come from, the service's home and its cache.
    static let hostPaths: [String] = {
        let checkout = Checkout.root
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? ""
        let home = ProcessInfo.processInfo.environment["HOME"] ?? "/root"
        return [checkout.path, checkout.appendingPathComponent(".build").path,
                URL(fileURLWithPath: executable).deletingLastPathComponent().path,
                home, "/root", "/var/cache/pysandbox", home + "/.cache/pysandbox", "/tmp/pysandbox-cache-\(getuid())"]
    }()

    /// The `host.json` every malicious fixture receives.
    var descriptionFile: String {
        let object: [String: Any] = [
            "tcpPort": tcpPort, "udpPort": udpPort, "hostSecretPath": secretPath,
            "envSecretName": environmentName, "unixSocketPath": unixSocketPath, "abstractSocketName": abstractName,
            "hostPaths": Self.hostPaths,
        ]
        let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }

    /// Connections and datagrams that reached any listener since the last call.
    func drainContacts() -> [String] {
        var contacts: [String] = []
        let names = ["tcp", "udp", "unix path", "unix abstract"]
        for (socket, name) in zip(sockets, names) {
            var buffer = [UInt8](repeating: 0, count: 2048)
            if name == "udp" {
                while recv(socket, &buffer, buffer.count, Int32(MSG_DONTWAIT)) >= 0 { contacts.append(name) }
            } else {
                while true {
                    let accepted = accept(socket, nil, nil)  // the listener is non-blocking
                    guard accepted >= 0 else { break }
                    contacts.append(name)
                    close(accepted)
                }
            }
        }
        return contacts
    }

    /// Files that appeared beside the secret, or a changed secret.
    func tampering() -> [String] {
        var problems: [String] = []
        let names = Set((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
        if names != ["secret.txt", "host.sock"] { problems.append("secret dir now holds \(names.sorted())") }
        if (try? String(contentsOfFile: secretPath, encoding: .utf8)) != fileSecret { problems.append("secret file changed") }
        for path in ["/root/pwned", "/home/pwned", "/tmp/pwned", "/pwned", "/tmp/planted.txt"]
        where FileManager.default.fileExists(atPath: path) {
            problems.append("\(path) exists")
        }
        return problems
    }

    private static func inetSocket(type: __socket_type) -> (CInt, Int) {
        let fd = socket(AF_INET, Int32(type.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if type == SOCK_STREAM { listen(fd, 64) }
        var bound = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        withUnsafeMutablePointer(to: &bound) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = getsockname(fd, $0, &length) }
        }
        return (fd, Int(UInt16(bigEndian: bound.sin_port)))
    }

    private static func unixSocket(path: String, abstract: Bool) -> CInt {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = (abstract ? [0] : []) + Array(path.utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in bytes.enumerated() where index < raw.count { raw[index] = byte }
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (abstract ? 0 : 1))
        withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = bind(fd, $0, length) }
        }
        listen(fd, 64)
        return fd
    }
}

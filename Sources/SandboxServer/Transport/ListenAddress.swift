import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// Where sandboxd listens could not be bound: the port is in use, the
/// host is not this machine's, or binding is not allowed.
public struct ListenError: Error, Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int
    /// Why, in words ("address already in use").
    public var reason: String
    /// Another process listens there (EADDRINUSE): often an earlier sandboxd, still draining.
    public var isAddressInUse: Bool

    public var description: String {
        let advice = isAddressInUse ? " (another sandboxd?); choose another with --port" : ""
        return "cannot listen on \(host):\(port): \(reason)\(advice)"
    }

    init(host: String, port: Int, errno code: Int32) {
        self.host = host
        self.port = port
        let text = String(cString: strerror(code))
        reason = text.prefix(1).lowercased() + text.dropFirst()
        isAddressInUse = code == EADDRINUSE
    }

    init(host: String, port: Int, reason: String) {
        self.host = host
        self.port = port
        self.reason = reason
        isAddressInUse = false
    }

    /// NIO's failure to bind `host:port`, as a `ListenError`; nil for any other error.
    init?(_ error: any Error, host: String, port: Int) {
        guard let failure = error as? IOError, failure.errnoCode == EADDRINUSE || failure.errnoCode == EADDRNOTAVAIL
            || failure.errnoCode == EACCES
        else { return nil }
        self.init(host: host, port: port, errno: failure.errnoCode)
    }
}

/// Binds the address sandboxd will listen on, the way Hummingbird will
/// (SO_REUSEADDR, the host's first address), and lets it go: a port in use
/// is found before any sandbox starts. Otherwise the HTTP server's bind
/// fails while the warm pools' fork servers are starting, and their
/// cancelled starts are logged as errors before the bind's own.
enum ListenAddress {
    static func check(host: String, port: Int) throws(ListenError) {
        guard port != 0 else { return }  // any free port
        let address: SocketAddress
        do {
            address = try SocketAddress.makeAddressResolvingHost(host, port: port)
        } catch {
            throw ListenError(host: host, port: port, reason: "cannot resolve '\(host)'")
        }
        let family = address.protocol.rawValue
        let descriptor = socket(family, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw ListenError(host: host, port: port, errno: errno) }
        defer { close(descriptor) }
        var reuse: Int32 = 1
        setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
        let bound = address.withSockAddr { pointer, size in bind(descriptor, pointer, socklen_t(size)) == 0 }
        guard bound else { throw ListenError(host: host, port: port, errno: errno) }
    }
}

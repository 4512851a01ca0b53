import Foundation
@testable import SandboxServer

/// `--trusted-proxy` ranges and `X-Forwarded-For`, as the service reads a
/// request's client address. Lines: the ranges (comma-separated), the
/// peer, then one `X-Forwarded-For` header a line. The client address is
/// the peer or one of the header's hops, and the peer itself unless it is a
/// trusted proxy.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTrustedProxies(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let text = String(decoding: UnsafeRawBufferPointer(start: start, count: count), as: UTF8.self)
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    let entries = (lines.first ?? "").split(separator: ",").map(String.init)
    for entry in entries {
        if let range = TrustedProxies.Range(entry) {
            guard (0...range.network.count * 8).contains(range.prefix) else { fatalError("prefix out of range: \(entry)") }
            _ = range.contains(range.network)
        }
    }
    guard let proxies = try? TrustedProxies(entries) else { return 0 }
    let peer = lines.count > 1 ? lines[1] : "127.0.0.1"
    let headers = Array(lines.dropFirst(2))
    let client = proxies.clientAddress(peer: peer, forwardedFor: headers)
    if !proxies.trusts(peer) {
        guard client == peer else { fatalError("an untrusted peer chose its address: \(client)") }
    } else {
        let hops = headers.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }
        guard client == peer || hops.contains(client) else { fatalError("a client address from nowhere: \(client)") }
    }
    return 0
}

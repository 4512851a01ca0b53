import Foundation
import SandboxProtocol

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Why a WebSocket upgrade was refused. HummingbirdWebSocket answers every
/// refused upgrade with a bare 400, so the same URL is asked again as plain
/// HTTP, where sandboxd answers with the real status and a message
/// (PROTOCOL.md, "Access").
enum RefusalProbe {
    static func reason(url: String, token: String?) async -> (status: Int, text: String)? {
        guard var components = URLComponents(string: url) else { return nil }
        components.scheme = components.scheme == "wss" ? "https" : "http"
        guard let httpURL = components.url else { return nil }
        var request = URLRequest(url: httpURL, timeoutInterval: 5)
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        guard let (data, response) = try? await URLSession.shared.data(for: request),
              let status = (response as? HTTPURLResponse)?.statusCode
        else { return nil }
        let message = (try? JSONDecoder().decode(JSONValue.self, from: data))?["error"]?["message"]?.stringValue
        return (status, "HTTP \(status)" + (message.map { ": \($0)" } ?? ""))
    }
}

import Foundation
import SandboxProtocol

/// A WebSocket text frame as the service reads it: `Envelope.parse`, then
/// the params of the method it names (`run`, `initialize`, `session/open`,
/// `session/close`, `code/*`, `session/fork`, `session/files/*`). Whatever the frame, the answer the service would send
/// is JSON it can write.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzEnvelope(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let text = String(decoding: UnsafeRawBufferPointer(start: start, count: count), as: UTF8.self)
    switch Envelope.parse(text) {
    case .success(.request(_, let method, let params)), .success(.notification(let method, let params)):
        do throws(RPCError) {
            switch method {
            case Method.run: _ = try RunParams(params: params)
            case Method.initialize: _ = try InitializeParams(params: params)
            case Method.sessionOpen: _ = try SessionOpenParams(params: params)
            case Method.sessionClose: _ = try SessionCloseParams(params: params)
            case Method.sessionFork: _ = try SessionForkParams(params: params)
            case Method.codeComplete: _ = try CodeAssistParams(.complete, params: params)
            case Method.codeInspect: _ = try CodeAssistParams(.inspect, params: params)
            case Method.codeIsComplete: _ = try CodeAssistParams(.isComplete, params: params)
            case _ where method.hasPrefix("session/files/"):
                if let kind = SessionFilesParams.Method(rawValue: String(method.dropFirst("session/files/".count))) {
                    _ = try SessionFilesParams(kind, params: params)
                }
            default: break
            }
        } catch {
            answerable(ServerMessage.error(id: .null, error))
        }
    case .failure(let rejected):
        answerable(ServerMessage.error(id: rejected.id, rejected.error))
    }
    return 0
}

private func answerable(_ answer: String) {
    guard (try? JSONDecoder().decode(JSONValue.self, from: Data(answer.utf8))) != nil else {
        fatalError("the service's answer is not JSON: \(answer)")
    }
}

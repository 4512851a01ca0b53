import SandboxProtocol
import SandboxRuntime

/// The protocol's side of a package set that cannot be had (PROTOCOL.md,
/// "Packages"): one rule for all of them, an error response to the `run`
/// or `session/open`, never a verdict. A requirement refused before
/// anything was fetched is -32602; the rest are -32008, and `data.reason`
/// says which, with the requirement concerned when there is one.
extension PackageError {
    var rpcError: RPCError {
        if case .badRequirement(let error) = self { return error.rpcError }
        var data: [String: JSONValue] = ["reason": .string(reason)]
        if let requirement { data["requirement"] = .string(requirement) }
        return RPCError(.packagesUnavailable, description, data: .object(data))
    }

    /// `data.reason`: the case's name.
    var reason: String {
        switch self {
        case .badRequirement: "badRequirement"
        case .disabled: "disabled"
        case .notAllowed: "notAllowed"
        case .unknownPackage: "unknownPackage"
        case .noSuchVersion: "noSuchVersion"
        case .noWheel: "noWheel"
        case .unsatisfiable: "unsatisfiable"
        case .setTooLarge: "setTooLarge"
        case .layerTooLarge: "layerTooLarge"
        case .indexUnreachable: "indexUnreachable"
        case .timedOut: "timedOut"
        case .cancelled: "cancelled"
        case .installerFailed: "installerFailed"
        case .unavailable: "unavailable"
        }
    }

    var requirement: String? {
        switch self {
        case .badRequirement(let error): error.requirement
        case .notAllowed(let name), .unknownPackage(let name, _), .noWheel(let name, _): name
        case .noSuchVersion(let requirement, _): requirement
        default: nil
        }
    }
}

extension PackageRequirementError {
    var rpcError: RPCError {
        RPCError(
            .invalidParams, "packages: \(description)",
            data: .object(["reason": .string("badRequirement"), "requirement": .string(requirement)]))
    }
}

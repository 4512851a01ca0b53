import SandboxProtocol

/// Why a package set could not be had. Each names the requirement or
/// package concerned when there is one, and says what to do about it.
public enum PackageError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Refused before anything was fetched (the protocol's -32602).
    case badRequirement(PackageRequirementError)
    /// The operator turned packages off (`--packages none`).
    case disabled
    /// Not on the operator's `--allow-packages` list.
    case notAllowed(name: String)
    /// No package of that name where packages come from.
    case unknownPackage(name: String, detail: String)
    /// The package exists, but no release matches the specifier.
    case noSuchVersion(requirement: String, detail: String)
    /// Only source distributions (or wheels for other interpreters or
    /// platforms): nothing is ever built on the host.
    case noWheel(name: String, detail: String)
    /// The requirements contradict each other or the system's packages.
    case unsatisfiable(detail: String)
    /// More packages in the resolved set than the service installs at once.
    case setTooLarge(packages: Int, limit: Int)
    /// The installed layer is larger than one layer may be.
    case layerTooLarge(bytes: Int64, limit: Int64)
    case indexUnreachable(detail: String)
    /// Resolving and installing took longer than the install time limit.
    case timedOut(seconds: Int)
    case cancelled
    /// Anything else the installer said, with its last words.
    case installerFailed(detail: String)
    /// The store itself cannot work (its directory, the installer, the interpreter).
    case unavailable(detail: String)

    public var description: String {
        switch self {
        case .badRequirement(let error): error.description
        case .disabled: "packages are turned off on this service"
        case .notAllowed(let name): "package '\(name)' is not on this service's list of allowed packages"
        case .unknownPackage(let name, let detail): "no package named '\(name)' where this service gets packages (\(detail))"
        case .noSuchVersion(let requirement, let detail): "no release matches '\(requirement)' (\(detail))"
        case .noWheel(let name, let detail):
            "package '\(name)' has no wheel for this interpreter and platform; source distributions are never built here (\(detail))"
        case .unsatisfiable(let detail): "the requirements cannot be satisfied together: \(detail)"
        case .setTooLarge(let packages, let limit): "the set needs \(packages) packages installed; the limit is \(limit)"
        case .layerTooLarge(let bytes, let limit): "the set takes \(bytes / 1_048_576) MiB installed; the limit is \(limit / 1_048_576) MiB"
        case .indexUnreachable(let detail): "the package index cannot be reached: \(detail)"
        case .timedOut(let seconds): "installing the set took longer than \(seconds) s and was stopped"
        case .cancelled: "the install was cancelled"
        case .installerFailed(let detail): "the installer failed: \(detail)"
        case .unavailable(let detail): "packages are unavailable: \(detail)"
        }
    }
}

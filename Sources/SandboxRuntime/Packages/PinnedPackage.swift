/// A package at one exact version: what a layer holds.
public struct PinnedPackage: Sendable, Hashable, Codable, Comparable, CustomStringConvertible {
    /// PEP 503-normalized.
    public var name: String
    public var version: String

    public init(name: String, version: String) {
        self.name = name
        self.version = version
    }

    public var description: String { "\(name)==\(version)" }

    public static func < (lhs: PinnedPackage, rhs: PinnedPackage) -> Bool {
        (lhs.name, lhs.version) < (rhs.name, rhs.version)
    }
}

/// A system package (Debian's) that a layer holds another version of: the
/// layer's comes first on `sys.path`, so a run with the layer sees the
/// layer's. A caller that preloads the system's copy (a fork server that
/// imported numpy) must refuse such a set or serve it without that preload.
public struct ShadowedPackage: Sendable, Hashable, Codable {
    public var name: String
    public var systemVersion: String
    public var layerVersion: String

    public init(name: String, systemVersion: String, layerVersion: String) {
        self.name = name
        self.systemVersion = systemVersion
        self.layerVersion = layerVersion
    }
}

/// What the installer resolved a requirement set to, against the system's
/// packages: only what the system lacks, or has at a version that does not fit.
public struct ResolvedSet: Sendable, Equatable {
    /// Sorted.
    public var packages: [PinnedPackage]
    public var shadows: [ShadowedPackage]

    public init(packages: [PinnedPackage], shadows: [ShadowedPackage]) {
        self.packages = packages.sorted()
        self.shadows = shadows.sorted { $0.name < $1.name }
    }
}

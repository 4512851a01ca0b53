import Foundation
/// An installed, sealed package set: a folder to put first on `sys.path`
/// (its `site-packages`), never written after it was renamed into place.
public struct PackageLayer: Sendable, Equatable {
    /// SHA-256 of what the layer was built from (see `PackageStore.layerKey`): its folder's name.
    public var key: String
    /// `layers/KEY` in the store.
    public var path: String
    /// What the runs import from: bind it read-only and put it before the system's site directories.
    public var sitePackages: String { path + "/site-packages" }
    /// What it holds, sorted; empty when the system had everything asked for.
    public var packages: [PinnedPackage]
    public var shadows: [ShadowedPackage]
    /// On disk.
    public var bytes: Int64

    /// Where a sandbox sees `sitePackages`: the bootstrap puts it on
    /// `sys.path` before the system's site directories when it exists.
    public static let inside = "/opt/pysandbox/packages"

    /// Its top-level modules, as `import` names: packages (folders with an
    /// `__init__.py`), modules and extension modules; none private (`_x`).
    public var importNames: [String] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: sitePackages)) ?? []
        var names = Set<String>()
        for entry in entries where !entry.hasPrefix("_") && !entry.hasPrefix(".") {
            if entry.hasSuffix(".py") {
                names.insert(String(entry.dropLast(3)))
            } else if entry.hasSuffix(".so"), let stem = entry.split(separator: ".").first {
                names.insert(String(stem))
            } else if FileManager.default.fileExists(atPath: sitePackages + "/" + entry + "/__init__.py") {
                names.insert(entry)
            }
        }
        return names.filter { $0.allSatisfy { $0 == "_" || $0.isLetter || $0.isNumber } }.sorted()
    }

    /// Whether the layer holds another version of a module named `names`
    /// (top-level import names, as `--preload` gives them), which a fork
    /// server that imported the system's copy would hide.
    public func shadows(anyOf names: Set<String>) -> Bool {
        shadows.contains { names.contains(PackageLayer.importName($0.name)) }
    }

    /// A distribution's usual top-level module: `scikit-learn` is not, but
    /// the shadows that matter (numpy, pandas, matplotlib) are.
    static func importName(_ distribution: String) -> String {
        distribution.replacingOccurrences(of: "-", with: "_")
    }
}

/// A layer held for a run or a session: while any lease on it is held, it
/// is never evicted. Give it back with `PackageStore.release`.
public struct PackageLease: Sendable, Hashable {
    public let id: UInt64
    public let layer: PackageLayer

    public static func == (lhs: PackageLease, rhs: PackageLease) -> Bool { lhs.id == rhs.id }
    public func hash(into hasher: inout Hasher) { hasher.combine(id) }
}

/// `layer.json` in each layer: what it holds and what it was built for.
struct LayerManifest: Codable, Equatable {
    var format = 1
    var key: String
    var interpreter: String
    var packages: [PinnedPackage]
    var shadows: [ShadowedPackage]
    var bytes: Int64
}

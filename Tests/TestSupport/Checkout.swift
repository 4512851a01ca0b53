import Foundation

/// The checkout the tests run from: the one place that knows where it is
/// (this file's path, two folders up from its own). Every test target that
/// reads the checkout's files depends on this one (`TestSupport`).
public enum Checkout {
    public static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// A path in the checkout, as a URL.
    public static func url(_ relative: String) -> URL { root.appendingPathComponent(relative) }

    /// A path in the checkout.
    public static func path(_ relative: String) -> String { url(relative).path }
}

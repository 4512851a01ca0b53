import Foundation

/// The checkout the tests run from: the one place that knows where it is
/// (this file's path, two folders up from its own).
enum Checkout {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// A path in the checkout, as a URL.
    static func url(_ relative: String) -> URL { root.appendingPathComponent(relative) }

    /// A path in the checkout.
    static func path(_ relative: String) -> String { url(relative).path }
}

import Foundation

/// The MIME types a display may carry (`capabilities.display`); the
/// server drops any others from a bundle.
public enum DisplayMIME {
    public static let plainText = "text/plain"
    public static let png = "image/png"
    public static let jpeg = "image/jpeg"
    public static let svg = "image/svg+xml"
    public static let html = "text/html"
    public static let markdown = "text/markdown"
    public static let json = "application/json"

    public static let supported = [plainText, png, jpeg, svg, html, markdown, json]
    /// Sent as base64 text.
    public static let binary: Set = [png, jpeg]
}

/// Standard base64 (RFC 4648 §4, with padding), as JSON carries bytes here.
public enum Base64 {
    public static func encode(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
    }

    /// nil unless `text` is canonical padded base64 (no line breaks, no other characters).
    public static func decode(_ text: String) -> [UInt8]? {
        guard let data = Data(base64Encoded: text) else { return nil }
        return Array(data)
    }
}

/// What a returned file holds, told from its bytes (never from its name,
/// which the program chose): it decides how the result shows the file.
enum ReturnedFileKind: Sendable, Equatable {
    /// UTF-8 without NUL bytes: shown as text.
    case text(String)
    /// An image MCP clients show.
    case image(mimeType: String, name: String)
    /// Anything else, named by its first bytes when they tell a common format.
    case binary(name: String)

    init(_ bytes: [UInt8]) {
        for image in Self.images where image.matches(bytes) {
            self = .image(mimeType: image.mimeType, name: image.name)
            return
        }
        if !bytes.contains(0), let text = String(validating: bytes, as: UTF8.self) {
            self = .text(text)
            return
        }
        self = .binary(name: Self.binaries.first { $0.matches(bytes) }?.name ?? "binary data")
    }

    /// For people: "text", "PNG image", "PDF document", "binary data".
    var name: String {
        switch self {
        case .text: "text"
        case .image(_, let name), .binary(let name): name
        }
    }

    /// A format told by the bytes at the start of a file (and, for RIFF, at offset 8).
    private struct Signature {
        var prefix: [UInt8]
        var at8: [UInt8] = []
        var mimeType = ""
        var name: String

        func matches(_ bytes: [UInt8]) -> Bool {
            bytes.starts(with: prefix) && (at8.isEmpty || (bytes.count >= 8 + at8.count && Array(bytes[8..<8 + at8.count]) == at8))
        }
    }

    /// The image types MCP clients commonly show.
    private static let images = [
        Signature(prefix: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], mimeType: "image/png", name: "PNG image"),
        Signature(prefix: [0xFF, 0xD8, 0xFF], mimeType: "image/jpeg", name: "JPEG image"),
        Signature(prefix: Array("GIF87a".utf8), mimeType: "image/gif", name: "GIF image"),
        Signature(prefix: Array("GIF89a".utf8), mimeType: "image/gif", name: "GIF image"),
        Signature(prefix: Array("RIFF".utf8), at8: Array("WEBP".utf8), mimeType: "image/webp", name: "WebP image"),
    ]

    /// Formats a Python program often writes, named so an agent knows what it got.
    private static let binaries = [
        Signature(prefix: Array("%PDF-".utf8), name: "PDF document"),
        Signature(prefix: [0x50, 0x4B, 0x03, 0x04], name: "ZIP archive (also .xlsx, .docx)"),
        Signature(prefix: [0x1F, 0x8B], name: "gzip data"),
        Signature(prefix: Array("SQLite format 3\0".utf8), name: "SQLite database"),
        Signature(prefix: [0x93] + Array("NUMPY".utf8), name: "NumPy array (.npy)"),
        Signature(prefix: Array("PAR1".utf8), name: "Parquet file"),
    ]
}

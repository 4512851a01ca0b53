import Foundation
import SandboxProtocol

/// The one representation of a display that `--save` writes: the richest
/// the bundle has that reads well (png > jpeg > svg > html > markdown >
/// json > plain text), with its file extension and bytes.
struct DisplayFile {
    var mimeType: String
    var fileExtension: String
    var bytes: [UInt8]

    static let preference: [(mimeType: String, fileExtension: String)] = [
        (DisplayMIME.png, "png"), (DisplayMIME.jpeg, "jpeg"), (DisplayMIME.svg, "svg"), (DisplayMIME.html, "html"),
        (DisplayMIME.markdown, "md"), (DisplayMIME.json, "json"), (DisplayMIME.plainText, "txt"),
    ]

    /// nil when the bundle has nothing the CLI can write. A representation
    /// of the wrong shape (an image that is not base64) is passed over for the next.
    init?(_ data: [String: JSONValue]) {
        for (mimeType, fileExtension) in Self.preference {
            guard let value = data[mimeType], let bytes = Self.bytes(of: value, as: mimeType) else { continue }
            (self.mimeType, self.fileExtension, self.bytes) = (mimeType, fileExtension, bytes)
            return
        }
        return nil
    }

    private static func bytes(of value: JSONValue, as mimeType: String) -> [UInt8]? {
        if DisplayMIME.binary.contains(mimeType) { return value.stringValue.flatMap(Base64.decode) }
        if mimeType == DisplayMIME.json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            return (try? encoder.encode(value)).map { Array($0) + [0x0A] }
        }
        guard let text = value.stringValue else { return nil }
        // A text file ends with a line break; markup is written as the program made it.
        return Array((mimeType == DisplayMIME.plainText ? text.endingInNewline : text).utf8)
    }
}

extension String {
    var endingInNewline: String { isEmpty || hasSuffix("\n") ? self : self + "\n" }
}

import ArgumentParser

/// A number of bytes as given on the command line: a plain count (65536)
/// or one with a binary suffix, K for KiB and M for MiB (64K, 10M; "KiB",
/// "MiB", "KB" and "MB" are read the same, as is G for GiB).
struct ByteCount: Sendable, ExpressibleByArgument {
    var bytes: Int

    init(bytes: Int) {
        self.bytes = bytes
    }

    init?(argument: String) {
        var text = Substring(argument.uppercased())
        for unit in ["IB", "B"] where text.hasSuffix(unit) && text.count > unit.count {
            text = text.dropLast(unit.count)
            break
        }
        let shift: Int
        switch text.last {
        case "K": shift = 10
        case "M": shift = 20
        case "G": shift = 30
        default: shift = 0
        }
        if shift > 0 { text = text.dropLast() }
        // Digits only: no sign, no fraction.
        guard !text.isEmpty, text.allSatisfy(\.isASCII), text.allSatisfy(\.isNumber), let count = Int(text) else { return nil }
        let (bytes, overflow) = count.multipliedReportingOverflow(by: 1 << shift)
        guard !overflow else { return nil }
        self.bytes = bytes
    }

    static var defaultCompletionKind: CompletionKind { .default }

    /// A byte count as the CLI shows it: in MiB or KiB when it is a whole
    /// number of them, else in bytes.
    static func describe(_ bytes: Int) -> String {
        if bytes > 0 && bytes % (1 << 20) == 0 { return "\(bytes >> 20) MiB" }
        if bytes > 0 && bytes % (1 << 10) == 0 { return "\(bytes >> 10) KiB" }
        return bytes == 1 ? "1 byte" : "\(bytes) bytes"
    }
}

/// How large a `run_python` result may be, so that an agent can hold it and
/// its client can take it (the official Python client drops its whole
/// session on a Streamable HTTP event over 1 MiB).
///
/// Two numbers: `textBytes` bounds the program's text (stdout, stderr and
/// displays' text; a head and a tail of it, with a line saying what was left
/// out between), and `totalBytes` bounds the whole result, images' base64
/// included. Images get what the text budget and the service's own lines
/// leave (`imageBytes`), in the order they were made; one that does not fit
/// is replaced by a line saying so. Sizes are bytes as the result's JSON
/// carries them (`JSONCost`), so that the bound holds on the wire.
public struct ResultBudget: Sendable, Equatable {
    /// The text budget: head and tail of the output together.
    public var textBytes: Int
    /// The whole result: text, images' base64, the service's lines, JSON.
    public var totalBytes: Int

    public init(textBytes: Int = 32 << 10, totalBytes: Int = 512 << 10) {
        self.textBytes = textBytes
        self.totalBytes = totalBytes
    }

    /// The defaults of `sandboxd --mcp-result-*` and `sandbox mcp --result-*`.
    public static let `default` = ResultBudget()

    /// Room kept for what the service adds: the status line, notes, the
    /// line on what was left out, and the JSON around each content item.
    public static let reserveBytes = 8 << 10
    /// Less text than this could not show a head, a tail and the line between.
    public static let minimumTextBytes = 1 << 10

    /// What images' base64 may take together.
    public var imageBytes: Int { max(0, totalBytes - textBytes - Self.reserveBytes) }

    /// The most text a call may ask for (`resultTextBytes`): all the room, none left for images.
    public var maxTextBytes: Int { totalBytes - Self.reserveBytes }

    /// This budget with a call's own text budget, checked against it.
    public func asked(textBytes asked: Int?) throws(ArgumentError) -> ResultBudget {
        guard let asked else { return self }
        guard asked >= Self.minimumTextBytes, asked <= maxTextBytes else {
            throw ArgumentError("resultTextBytes: must be from \(Self.minimumTextBytes) to \(maxTextBytes), not \(asked)")
        }
        return ResultBudget(textBytes: asked, totalBytes: totalBytes)
    }

    /// What is wrong with these numbers, naming the options that set them; nil when they hold.
    public func problem(textOption: String, totalOption: String) -> String? {
        if textBytes < Self.minimumTextBytes {
            return "\(textOption): must be at least \(Self.minimumTextBytes), not \(textBytes)"
        }
        if totalBytes < textBytes + Self.reserveBytes {
            return "\(totalOption) (\(totalBytes)) must be at least \(textOption) (\(textBytes)) plus \(Self.reserveBytes)"
                + " for the status line and the line on what was left out"
        }
        return nil
    }
}

extension ServerMessage {
    /// A `run/output` notification, written directly rather than through
    /// `JSONEncoder`: it is the message a run sends most (one per change of
    /// stream when a program writes both in turn), and the encoder costs
    /// several times the rest of its way to the socket.
    public static func output(_ params: RunOutputParams) -> String {
        var json = Array(#"{"jsonrpc":"2.0","method":"run/output","params":{"id":"#.utf8)
        json.reserveCapacity(json.count + params.text.utf8.count + 64)
        switch params.id {
        case .string(let id): JSONText.appendString(id, to: &json)
        case .integer(let id): json += String(id).utf8
        default: json += params.id.description.utf8
        }
        json += #","stream":""#.utf8
        json += params.stream.rawValue.utf8
        json += #"","text":"#.utf8
        JSONText.appendString(params.text, to: &json)
        json += #","seq":"#.utf8
        json += String(params.seq).utf8
        json += "}}".utf8
        return String(decoding: json, as: UTF8.self)
    }
}

/// JSON text as `JSONEncoder.protocolEncoder` writes it: strings quoted,
/// with `"`, `\` and control characters escaped and everything else as is.
enum JSONText {
    static func appendString(_ string: String, to json: inout [UInt8]) {
        json.append(UInt8(ascii: "\""))
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "\""): json += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
            case UInt8(ascii: "\\"): json += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
            case UInt8(ascii: "\n"): json += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            case UInt8(ascii: "\r"): json += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
            case UInt8(ascii: "\t"): json += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                json += Array(#"\u00"#.utf8) + [hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
            default: json.append(byte)
            }
        }
        json.append(UInt8(ascii: "\""))
    }
}

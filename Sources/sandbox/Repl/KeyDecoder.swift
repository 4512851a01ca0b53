/// A key a person pressed at the terminal, as the line editor needs it.
enum Key: Equatable {
    case character(Unicode.Scalar)
    case enter, backspace, delete, tab
    case left, right, up, down, home, end
    /// Ctrl-C, Ctrl-D, Ctrl-K, Ctrl-U, …: the letter's byte (0x03 for Ctrl-C).
    case control(UInt8)
}

/// Turns the bytes of a terminal in raw mode into keys: UTF-8 characters,
/// and the escape sequences of arrows, Home, End and Delete (both the
/// `ESC [` and `ESC O` forms). Unknown sequences are dropped whole.
struct KeyDecoder {
    private enum State {
        case ground
        case escape
        /// After `ESC [` or `ESC O`: the parameter bytes so far.
        case sequence([UInt8])
        /// A UTF-8 character's bytes so far, and how many it has.
        case character([UInt8], length: Int)
    }

    private var state = State.ground

    mutating func take(_ byte: UInt8) -> Key? {
        switch state {
        case .ground:
            return ground(byte)
        case .escape:
            state = byte == UInt8(ascii: "[") || byte == UInt8(ascii: "O") ? .sequence([]) : .ground
            return nil
        case .sequence(let parameters):
            // Parameter bytes are digits and ';'; a byte from 0x40 to 0x7E ends the sequence.
            guard (0x40...0x7E).contains(byte) else {
                state = .sequence(parameters + [byte])
                return nil
            }
            state = .ground
            return Self.key(final: byte, parameters: String(decoding: parameters, as: UTF8.self))
        case .character(var bytes, let length):
            guard byte & 0xC0 == 0x80 else {
                state = .ground
                return ground(byte)
            }
            bytes.append(byte)
            guard bytes.count == length else {
                state = .character(bytes, length: length)
                return nil
            }
            state = .ground
            return String(validating: bytes, as: UTF8.self)?.unicodeScalars.first.map(Key.character)
        }
    }

    private mutating func ground(_ byte: UInt8) -> Key? {
        switch byte {
        case 0x1B: state = .escape; return nil
        case 0x0D, 0x0A: return .enter
        case 0x7F, 0x08: return .backspace
        case 0x09: return .tab
        case 0x00..<0x20: return .control(byte)
        case 0x20..<0x80: return .character(Unicode.Scalar(byte))
        default:
            let length = byte >= 0xF0 ? 4 : byte >= 0xE0 ? 3 : byte >= 0xC0 ? 2 : 0
            if length > 0 { state = .character([byte], length: length) }
            return nil
        }
    }

    private static func key(final: UInt8, parameters: String) -> Key? {
        switch (Character(Unicode.Scalar(final)), parameters) {
        case ("A", _): .up
        case ("B", _): .down
        case ("C", _): .right
        case ("D", _): .left
        case ("H", _), ("~", "1"), ("~", "7"): .home
        case ("F", _), ("~", "4"), ("~", "8"): .end
        case ("~", "3"): .delete
        default: nil
        }
    }
}

// For this package's targets (the server's cookie header, the CLI's NAME=PATH), not the protocol's clients.
extension String {
    /// The text before the first `separator` and after it; all of it and "" when there is none.
    package func splitOnce(_ separator: Character) -> (String, String) {
        guard let index = firstIndex(of: separator) else { return (self, "") }
        return (String(self[..<index]), String(self[index...].dropFirst()))
    }
}

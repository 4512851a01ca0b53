/// The layout of the bench's tables: a label padded to `labelWidth`, then
/// each column right-aligned in 12 characters.
struct BenchTable {
    let labelWidth: Int

    func row(_ label: String, _ columns: [String]) -> String {
        label.padding(toLength: labelWidth, withPad: " ", startingAt: 0)
            + columns.map { String(repeating: " ", count: max(0, 12 - $0.count)) + $0 }.joined()
    }

    static func ms(_ duration: Duration) -> String { String(format: "%.2f ms", milliseconds(duration)) }

    /// p50, p90 and p99.
    static func spread(_ samples: [Duration]) -> [String] { [0.5, 0.9, 0.99].map { ms(percentile(samples, $0)) } }
}

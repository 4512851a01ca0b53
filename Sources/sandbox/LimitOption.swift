import SandboxProtocol

/// A limit the CLI takes in its own units (seconds, MiB, bytes) and sends in
/// the protocol's (ms, MiB, bytes). Checked against the service's range
/// (`initialize`'s limits) before anything is sent, so that a refusal names
/// the option and speaks its units, not the protocol's field.
struct LimitOption: Sendable {
    enum Unit: Sendable {
        /// Sent as milliseconds, given and shown as seconds.
        case seconds
        case mebibytes
        case bytes
    }

    /// The command-line option, e.g. `--timeout`.
    var flag: String
    /// The protocol's field, e.g. `timeoutMs`.
    var field: String
    var unit: Unit

    static let timeout = LimitOption(flag: "--timeout", field: "timeoutMs", unit: .seconds)
    static let cpuTime = LimitOption(flag: "--cpu-time", field: "cpuTimeMs", unit: .seconds)
    static let memory = LimitOption(flag: "--memory", field: "memoryMb", unit: .mebibytes)
    static let outputLimit = LimitOption(flag: "--output-limit", field: "maxOutputBytes", unit: .bytes)
    static let idleTimeout = LimitOption(flag: "--idle-timeout", field: "idleTimeoutMs", unit: .seconds)

    /// A value of the protocol's field in this option's units: "1000 s", "1.5 s", "64 MiB", "64 KiB".
    func describe(_ value: Int) -> String {
        switch unit {
        case .seconds: Self.seconds(value)
        case .mebibytes: "\(value) MiB"
        case .bytes: ByteCount.describe(value)
        }
    }

    /// Checks `requested` (in the protocol's units) against the service's
    /// range; passes when nothing was asked or the service does not say.
    func check(_ requested: Int?, against range: LimitPair?) throws(LimitRefusal) {
        guard let requested, let range else { return }
        if requested > range.max {
            throw LimitRefusal(option: self, requested: requested, bound: range.max, isMaximum: true)
        }
        if let least = range.min, requested < least {
            throw LimitRefusal(option: self, requested: requested, bound: least, isMaximum: false)
        }
    }

    /// Milliseconds as seconds, without trailing zeros: 60000 → "60 s", 1500 → "1.5 s", 1 → "0.001 s".
    static func seconds(_ milliseconds: Int) -> String {
        let whole = milliseconds / 1000
        let fraction = milliseconds % 1000
        guard fraction != 0 else { return "\(whole) s" }
        var digits = String(fraction)
        digits = String(repeating: "0", count: 3 - digits.count) + digits
        while digits.hasSuffix("0") { digits.removeLast() }
        return "\(whole).\(digits) s"
    }

    /// Seconds as whole milliseconds, at least 1; beyond Int's range, Int.max (the check then refuses it).
    static func milliseconds(_ seconds: Double) -> Int {
        let milliseconds = (seconds * 1000).rounded()
        return milliseconds < Double(Int.max) ? max(1, Int(milliseconds)) : Int.max
    }
}

/// A limit the service does not allow, in the words of the option that set it.
struct LimitRefusal: Error, CustomStringConvertible {
    var option: LimitOption
    var requested: Int
    var bound: Int
    var isMaximum: Bool

    var description: String {
        let which = isMaximum ? "above the service's maximum" : "below the service's minimum"
        return "\(option.flag) \(option.describe(requested)) is \(which) of \(option.describe(bound))"
    }

    init(option: LimitOption, requested: Int, bound: Int, isMaximum: Bool) {
        self.option = option
        self.requested = requested
        self.bound = bound
        self.isMaximum = isMaximum
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// The CLI's own settings from its environment (`SANDBOX_URL`, `SANDBOX_TOKEN`).
enum EnvironmentVariable {
    /// The variable's value; nil when it is unset or empty.
    static func value(_ name: String) -> String? {
        guard let value = getenv(name) else { return nil }
        let text = String(cString: value)
        return text.isEmpty ? nil : text
    }
}

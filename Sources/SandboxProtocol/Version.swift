/// The package, released as one: sandboxd (`sandboxd --version`, its
/// `serverInfo.version`), the `sandbox` CLI and `sandbox-bench` share its version.
public enum PySandbox {
    public static let version = "0.16.0"
}

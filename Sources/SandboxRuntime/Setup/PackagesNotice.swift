import Foundation
import Logging

/// What `pip install` says in a sandbox. pip refuses to install into an
/// interpreter whose standard library holds PEP 668's `EXTERNALLY-MANAGED`
/// marker, and prints its `Error`; Debian's says to use apt or a venv,
/// which no run can. Every sandbox gets this one in its place instead: how
/// packages are provided here.
struct PackagesNotice: Sendable {
    /// The marker on the host, bound read-only over the interpreter's own.
    var marker: String
    /// Where the interpreter reads it.
    var inside: String

    static let text = """
        [externally-managed]
        Error=This sandbox cannot install packages: it has no network, and its
         Python is shared read-only by every run. A program can import the
         standard library and the packages the operator of this service
         installed on it (for example Debian's python3-numpy, python3-pandas
         and python3-matplotlib; `sandbox info` lists the scientific ones).
         To use another package, name it in the run's packages instead
         (sandbox run --package NAME; the editor's Packages field;
         "packages": ["NAME"] in the protocol): the service installs it
         once, outside the sandbox, and mounts it read-only. Where this
         service installs none, ask its operator.

        """

    /// Writes the marker into the service's cache; nil (and pip's own words) when it cannot.
    static func prepare(interpreter: Interpreter, logger: Logger) -> PackagesNotice? {
        guard let standardLibrary = interpreter.standardLibrary, standardLibrary.hasPrefix("/"),
              !standardLibrary.contains(":"), let directory = ServiceCache.directory(named: "packages")
        else { return nil }
        let marker = directory + "/EXTERNALLY-MANAGED"
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: marker), options: .atomic)
            try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: marker)
        } catch {
            logger.warning("could not write the packages notice; pip in a run gives its own reason", metadata: ["error": "\(error)"])
            return nil
        }
        return PackagesNotice(marker: marker, inside: standardLibrary + "/EXTERNALLY-MANAGED")
    }
}

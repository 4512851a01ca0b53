import Foundation

/// The Python program the sandbox starts: the files of
/// `Sources/SandboxRuntime/Python/bootstrap/`, embedded at build time and
/// joined into one `-c` source, in the order below (each part sees the
/// names of those before it). Once the interpreter is loaded it writes one
/// NUL byte to stdout (the sandbox is ready), then waits for the run
/// request on fd 3, writes the files and `main.py` into the working
/// directory, and runs the code as `__main__` so that tracebacks read
/// `File "main.py", line N` and show none of its own frames. It gives the
/// program a `display()` builtin and an inline matplotlib backend, whose
/// results it writes to stdout as frames (`StdoutFrames`), and when the
/// program ends it sends back the files `returnFiles` asked for.
///
/// Everything before the read happens ahead of demand (a warm sandbox), so it
/// imports nothing beyond what the interpreter itself loads. When the program
/// ends, it finishes as the interpreter would (threads joined, atexit
/// handlers run, stdout and stderr flushed) but skips tearing down its
/// modules: the sandbox is destroyed right after, and teardown took
/// milliseconds of every run.
///
/// The service's settings are data, not code: arguments after the source,
/// in pairs of a name and a value (`sandbox_site.py`'s `read_settings`),
/// which the bootstrap removes from `sys.argv`.
enum Bootstrap {
    /// The interpreter's arguments after `-c` for an interpreter whose `site`
    /// directories are `sitePackages`; `fontCache` is matplotlib's font list
    /// built at service start, if it is installed (`ScientificStack`).
    static func arguments(sitePackages: [String], fontCache: String?) -> [String] {
        [source] + settings(sitePackages: sitePackages, fontCache: fontCache)
    }

    /// The same for a fork server (`--isolation fork`, `fork_server.py`):
    /// between loading and waiting for the program it imports `preload`
    /// and then serves runs, each a fork of itself that goes on to the run
    /// part while the fork server waits for the next (sandbox/fork_run/).
    /// `setModules`: the modules of a package set the operator preloads
    /// (`--preload-packages`); one that fails to import is the run's to find.
    static func forkServerArguments(sitePackages: [String], fontCache: String?, preload: [String], setModules: [String] = []) -> [String] {
        [forkServerSource] + settings(sitePackages: sitePackages, fontCache: fontCache)
            + preload.flatMap { ["preload", $0] } + setModules.flatMap { ["set-module", $0] }
    }

    /// pip's stand-in comes first on the path (`PipShim`), then the run's
    /// package set (`RunLimits.packageLayer`, or one `pip install` mounts
    /// later): a version it holds of a system package is the one asked for.
    static func settings(sitePackages: [String], fontCache: String?) -> [String] {
        [PipShim.inside, PackageLayer.inside].flatMap { ["package-layer", $0] }
            + sitePackages.flatMap { ["site-packages", $0] }
            + (fontCache.map { ["font-cache", $0] } ?? [])
    }

    /// The parts every sandbox runs first: `site`'s work, the ordered
    /// streams, rich results.
    private static let startParts = [
        PackageResources.sandbox_site_py, PackageResources.ordered_streams_py, PackageResources.rich_results_py,
    ]
    /// The run's parts: the request, returned files, sessions, then the start of the run.
    private static let runParts = [
        PackageResources.run_py, PackageResources.returned_files_py, PackageResources.session_py,
        PackageResources.start_run_py,
    ]

    static let source = joined(startParts + runParts)
    static let forkServerSource = joined(startParts + [PackageResources.fork_server_py] + runParts)

    /// `returned_files.py` alone (its matcher is checked against the service's).
    static let returnedFiles = joined([PackageResources.returned_files_py])

    private static func joined(_ parts: [[UInt8]]) -> String {
        parts.map { String(decoding: $0, as: UTF8.self) }.joined(separator: "\n")
    }

    /// The request on fd 3: a header line with the byte length of each part,
    /// then the parts: the run's settings (its frame nonce, the display and
    /// return limits, whether pip may ask the service, the request's kind
    /// and the `returnFiles` patterns, NUL-separated), the code, then
    /// each file's path and content. Plain lengths rather than JSON, so the
    /// bootstrap needs no `json` import.
    static func request(_ request: RunRequest, frameMarker: [UInt8]) -> [UInt8] {
        let nonce = frameMarker.dropFirst(markerPrefix.count).dropLast()
        let settings = Array(nonce) + [0] + Array(String(request.limits.maxDisplayBytes).utf8)
            + [0] + Array(String(request.limits.maxReturnBytes).utf8) + [0] + [UInt8(ascii: request.answersPip ? "1" : "0")]
            + [0] + Array(request.kind.rawValue.utf8)
            + request.returnFiles.flatMap { [0] + Array($0.utf8) }
        let parts: [[UInt8]] = [settings, Array(request.code.utf8)]
            + request.files.sorted { $0.key < $1.key }.flatMap { [Array($0.key.utf8), $0.value] }
        var body = Array((parts.map { String($0.count) }.joined(separator: " ") + "\n").utf8)
        for part in parts { body += part }
        return body
    }

    private static let markerPrefix = Array("\0pysandbox:".utf8)

    /// A fresh frame marker for one run: `NUL pysandbox: nonce :`, the nonce
    /// 32 random hex digits.
    static func frameMarker() -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        let nonce = (0..<2).map { _ in generator.next() as UInt64 }.map { String($0, radix: 16) }
            .map { String(repeating: "0", count: 16 - $0.count) + $0 }.joined()
        return markerPrefix + Array(nonce.utf8) + [UInt8(ascii: ":")]
    }
}

import Foundation
import SandboxProtocol
import SandboxRuntime
import Testing

/// numpy, pandas and matplotlib in runs (preloaded by the fork server, and
/// imported by a new interpreter with `--isolation exec`), displays, and
/// files in and out.
extension SandboxSuite {
    @Suite("Scientific stack and rich results")
    struct RichResultsTests {
        /// Everything a run produced, in order.
        private func items(_ sandbox: Sandbox, _ request: RunRequest) async throws -> ([RunOutput], Verdict) {
            let run = try sandbox.start(request)
            var items: [RunOutput] = []
            for await item in run.output { items.append(item) }
            return (items, await run.verdict())
        }

        private static let stack = """
            import os, threading
            import numpy as np, pandas as pd, matplotlib, matplotlib.pyplot as plt
            a = np.arange(9.0).reshape(3, 3)
            print(float((a @ a.T).trace()), pd.DataFrame({"x": [1, 2, 3]})["x"].sum())
            plt.plot([1, 2])
            plt.savefig("p.png")
            print(matplotlib.get_backend(), os.path.getsize("p.png") > 1000)
            print("threads", len(os.listdir("/proc/self/task")), threading.active_count())
            config = os.environ["MPLCONFIGDIR"]
            if os.path.isdir(config):
                lists = [name for name in os.listdir(config) if name.startswith("fontlist")]
                print("font lists linked", lists != [] and all(os.path.islink(os.path.join(config, name)) for name in lists))
            """

        @Test(arguments: [Isolation.fork, .exec])
        func numpyPandasAndMatplotlibWorkWithOneThreadAndTheSharedFontList(isolation: Isolation) async throws {
            let sandbox = isolation == .fork ? try await SharedSandbox.get() : try await SharedSandbox.execIsolation()
            if isolation == .fork { #expect(sandbox.preload == ["numpy", "pandas", "matplotlib.pyplot"]) }
            let result = try await sandbox.collect(RunRequest(code: Self.stack))
            #expect(result.verdict.status == .ok, "\(result.stderr)")
            #expect(result.stderr == "", "no warnings: nothing written outside /tmp, no font scan")
            #expect(result.stdout.contains("204.0 6\n"))
            #expect(result.stdout.contains("module://pysandbox_inline True\n"))
            #expect(result.stdout.contains("threads 1 1\n"))
            if isolation == .exec {
                // A run that imports matplotlib itself links the list built at service start.
                #expect(result.stdout.contains("font lists linked True\n"), "\(result.stdout)")
            }
        }

        @Test func plotsAndTablesAreDisplaysInTheOrderTheProgramShowedThem() async throws {
            let code = """
                import matplotlib.pyplot as plt, pandas as pd
                print("before")
                plt.plot([1, 3, 2])
                plt.show()
                print("between")
                display(pd.DataFrame({"city": ["Lyon", "Oslo"], "people": [522, 709]}))
                plt.figure()
                plt.bar(["a"], [1])
                print("after")
                """
            let (items, verdict) = try await items(try await SharedSandbox.get(), RunRequest(code: code))
            #expect(verdict.status == .ok)
            var sequence: [String] = []
            var displays: [Display] = []
            for item in items {
                switch item {
                case .text(let chunk): sequence += String(decoding: chunk.bytes, as: UTF8.self).split(separator: "\n").map(String.init)
                case .display(let display): sequence.append("display"); displays.append(display)
                case .stdinWanted: Issue.record("a run with no stdin never waits for it")
                }
            }
            // The figure still open at the end is displayed then, as a notebook does.
            #expect(sequence == ["before", "display", "between", "display", "after", "display"])
            #expect(displays.count == 3)
            let png = try #require(displays.first?.data["image/png"]?.stringValue.flatMap(Base64.decode))
            #expect(Array(png.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
            #expect(displays[0].data["text/plain"]?.stringValue?.hasPrefix("<Figure size") == true)
            let html = try #require(displays[1].data["text/html"]?.stringValue)
            #expect(html.contains("<table") && html.contains("Oslo"))
            #expect(displays[1].data["text/plain"]?.stringValue?.contains("Lyon") == true)
            #expect(verdict.displayBytes == displays.map(\.bytes).reduce(0, +))
            #expect(verdict.stdoutBytes == "before\nbetween\nafter\n".utf8.count)
        }

        /// A figure left open is displayed at the end: from the PNG the
        /// program saved when it has not changed since, drawn again when it has.
        @Test func aFigureSavedAndLeftOpenIsDisplayedAsItIsAtTheEnd() async throws {
            for (change, sameAsSaved) in [("", true), ("plt.title('changed after saving')", false)] {
                let code = "import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.savefig('a.png')\n\(change)"
                let result = try await SharedSandbox.get().collect(RunRequest(code: code, returnFiles: ["a.png"]))
                #expect(result.verdict.status == .ok, "\(result.stderr)")
                let saved = try #require(result.verdict.files?.first?.content)
                let shown = try #require(result.displays.first?.data["image/png"]?.stringValue.flatMap(Base64.decode))
                #expect(result.displays.count == 1)
                #expect((shown == saved) == sameAsSaved, "\(change)")
            }
        }

        @Test func displayUsesTheReprMethodsOfPillowAndAnyObject() async throws {
            let code = """
                from PIL import Image
                display(Image.new("RGB", (4, 3), "red"))
                class Card:
                    def _repr_markdown_(self): return "**bold**"
                    def _repr_json_(self): return {"n": [1, 2]}
                    def _repr_svg_(self): return '<svg xmlns="http://www.w3.org/2000/svg"/>'
                    def _repr_html_(self): raise ValueError("no html today")
                    def __repr__(self): return "Card()"
                display(Card(), 42)
                display({"text/html": "<i>raw</i>"}, raw=True)
                display({"application/json": float("nan"), "text/plain": "nan"}, raw=True)
                """
            let result = try await SharedSandbox.get().collect(RunRequest(code: code))
            #expect(result.verdict.status == .ok)
            #expect(result.displays.count == 5)
            let image = try #require(result.displays.first?.data["image/png"]?.stringValue.flatMap(Base64.decode))
            #expect(Array(image.prefix(4)) == [0x89, 0x50, 0x4E, 0x47])
            #expect(result.displays[1].data == [
                "text/plain": "Card()", "text/markdown": "**bold**", "application/json": ["n": [1, 2]],
                "image/svg+xml": #"<svg xmlns="http://www.w3.org/2000/svg"/>"#,
            ])
            #expect(result.displays[2].data == ["text/plain": "42"])
            #expect(result.displays[3].data == ["text/html": "<i>raw</i>", "text/plain": "<display: text/html>"])
            // NaN is not JSON: that representation is dropped, the display stays.
            #expect(result.displays[4].data == ["text/plain": "nan"])
            #expect(result.stderr.contains("Card._repr_html_ failed: ValueError('no html today')"))
        }

        @Test func displaysCountTowardTheOutputLimitAndOneMayNotPassItsOwn() async throws {
            var limits = RunLimits()
            limits.maxOutputBytes = 50_000
            let big = try await SharedSandbox.get().collect(RunRequest(
                code: "display({'text/plain': 'x' * 60_000}, raw=True)\nprint('not reached')", limits: limits))
            #expect(big.verdict.status == .outputLimit)
            #expect(big.verdict.truncated)
            #expect(big.displays.isEmpty)
            limits = RunLimits()
            limits.maxDisplayBytes = 10_000
            let tooLarge = try await SharedSandbox.get().collect(RunRequest(
                code: "display({'text/plain': 'x' * 20_000}, raw=True)\nimport time\ntime.sleep(5)", limits: limits))
            #expect(tooLarge.verdict.status == .outputLimit)
            #expect(tooLarge.displays.isEmpty)
            #expect(tooLarge.verdict.wallMs < 4000)
            // Announced by its size, a 50 MB image costs the program no copies: the
            // output limit ends the run, not the memory its base64 and JSON would take.
            let image = try await SharedSandbox.get().collect(RunRequest(
                code: "image = bytes(50 << 20)\ndisplay({'text/plain': 'big', 'image/png': image}, raw=True)\nimport time\ntime.sleep(5)"))
            #expect(image.verdict.status == .outputLimit, "\(image.verdict)")
            #expect((image.verdict.peakMemoryKb ?? 0) < 120 << 10, "\(image.verdict)")
        }

        @Test func forgedFramesAreCheckedLikeAnyInput() async throws {
            // The program can find its frame marker; what it forges is no more than display() could do.
            let preamble = "import os\nmarker = display.__globals__['FRAME_MARKER']\n"
            let wrongNonce = try await SharedSandbox.get().collect(RunRequest(
                code: preamble + "os.write(1, marker[:-3] + b'zz:display 2\\n{}')"))
            #expect(wrongNonce.verdict.status == .ok)
            #expect(wrongNonce.displays.isEmpty)
            #expect(wrongNonce.stdout.hasSuffix("zz:display 2\n{}"))
            let malformed = try await SharedSandbox.get().collect(RunRequest(
                code: preamble + "os.write(1, marker + b'display lots\\n')\nimport time\ntime.sleep(5)"))
            #expect(malformed.verdict.status == .outputLimit)
            #expect(malformed.verdict.wallMs < 4000)
            let escaping = try await SharedSandbox.get().collect(RunRequest(
                code: preamble + #"""
                    payload = b'{"files": [{"path": "../../etc/passwd", "base64": "AA=="}, {"path": "ok", "base64": "AA=="}, {"path": "unasked", "base64": "AA=="}], "omitted": []}'
                    os.write(1, marker + b"files %d\n" % len(payload) + payload)
                    os._exit(0)
                    """#, returnFiles: ["ok"]))
            #expect(escaping.verdict.files == [ReturnedFile(path: "ok", content: [0])])
            let broken = try await SharedSandbox.get().collect(RunRequest(
                code: preamble + "os.write(1, marker + b'display 10\\n{\"data\":1}')\nprint('fine')"))
            #expect(broken.verdict.status == .ok)
            #expect(broken.displays.isEmpty)
            #expect(broken.stdout == "fine\n")
        }

        @Test(arguments: [Isolation.fork, .exec])
        func binaryFilesGoInAndMatchingFilesComeBack(isolation: Isolation) async throws {
            let sandbox = isolation == .fork ? try await SharedSandbox.get() : try await SharedSandbox.execIsolation()
            let input: [UInt8] = [0, 255, 0xC3, 0x28, 10, 13]
            let code = """
                import os
                data = open("in/data.bin", "rb").read()
                os.makedirs("out/deep")
                open("out/copy.bin", "wb").write(data[::-1])
                open("out/deep/note.txt", "w").write("ok")
                os.symlink("/etc/hostname", "out/link.txt")
                os.symlink("/tmp/out", "out/loop")  # a directory link: not walked into
                os.chdir("/")
                """
            var request = RunRequest(
                code: code, files: ["in/data.bin": input], returnFiles: ["out/**/*.bin", "out/**/*.txt", "*.csv", "main.py"])
            request.limits.maxReturnBytes = 1 << 20
            let result = try await sandbox.collect(request)
            #expect(result.verdict.status == .ok, "\(result.stderr)")
            let files = Dictionary(uniqueKeysWithValues: (result.verdict.files ?? []).map { ($0.path, $0.content) })
            #expect(files == ["out/copy.bin": input.reversed(), "out/deep/note.txt": Array("ok".utf8), "main.py": Array(code.utf8)])
            #expect(Set(result.verdict.omittedFiles ?? []) == [
                OmittedFile(path: "out/link.txt", reason: .symlink), OmittedFile(path: "*.csv", reason: .noMatch),
            ])
        }

        @Test func returnedFilesStayWithinTheirLimitAndNeedTheProgramToEnd() async throws {
            var request = RunRequest(
                code: "open('a.bin', 'wb').write(b'a' * 600)\nopen('b.bin', 'wb').write(b'b' * 600)", returnFiles: ["*.bin"])
            request.limits.maxReturnBytes = 1000
            let limited = try await SharedSandbox.get().collect(request)
            #expect(limited.verdict.files == [ReturnedFile(path: "a.bin", content: Array(repeating: 0x61, count: 600))])
            #expect(limited.verdict.omittedFiles == [OmittedFile(path: "b.bin", reason: .overLimit)])

            request = RunRequest(code: "open('a.bin', 'w').write('x')\nimport time\ntime.sleep(60)", returnFiles: ["*.bin", "x"])
            request.limits.timeout = .milliseconds(500)
            let timedOut = try await SharedSandbox.get().collect(request)
            #expect(timedOut.verdict.status == .timeout)
            #expect(timedOut.verdict.files == [])
            #expect(timedOut.verdict.omittedFiles == [
                OmittedFile(path: "*.bin", reason: .notCollected), OmittedFile(path: "x", reason: .notCollected),
            ])
            let plain = try await SharedSandbox.get().collect(RunRequest(code: "pass"))
            #expect(plain.verdict.files == nil && plain.verdict.omittedFiles == nil)
        }

        /// Only a run that names a preloaded module is forked from a fork
        /// server that imported it: such a fork costs several times as much.
        @Test func runsThatNameAPreloadedModuleAreForkedFromAPreloadingForkServer() async throws {
            let sandbox = try await SharedSandbox.get()
            for (request, wanted) in [
                (RunRequest(code: "import numpy as np"), true),
                (RunRequest(code: "from matplotlib import pyplot"), true),
                (RunRequest(code: "x = 1  # pandas later"), true),
                (RunRequest(code: "import helper", files: ["helper.py": Array("import pandas\n".utf8)]), true),
                (RunRequest(code: "numpyish = 1\nprint('numpy_')"), false),
                (RunRequest(code: "print(1)", files: ["data.txt": Array("numpy".utf8)]), false),
            ] {
                #expect(sandbox.wantsPreload(request) == wanted, "\(request.code)")
            }
            // Names spelled so that the check itself mentions none of them.
            let check = "import sys\nprint(sorted(m for m in ('num' + 'py', 'pan' + 'das', 'matplot' + 'lib.pyplot') if m in sys.modules))"
            let lean = try await sandbox.collect(check)
            #expect(lean.stdout == "[]\n")
            let preloaded = try await sandbox.collect(check + "  # numpy")
            #expect(preloaded.stdout == "['matplotlib.pyplot', 'numpy', 'pandas']\n")
        }

        @Test func returnPatternsAreChecked() async throws {
            for (pattern, message) in [
                ("/etc/*", "returnFiles: '/etc/*' must be a relative pattern"),
                ("a/../../b", "returnFiles: 'a/../../b' must not contain '..'"),
                ("", "returnFiles: '' must be a relative pattern"),
            ] {
                #expect(throws: InvalidRunRequest(message: message)) {
                    try RunRequest(code: "pass", returnFiles: [pattern]).validate()
                }
            }
        }
    }
}

import Foundation
import SandboxProtocol
import SandboxRuntime
import Testing

extension SandboxSuite {
    @Suite("Ordinary programs still work")
    struct OrdinaryPrograms {
        @Test func printsToStdout() async throws {
            let result = try await SharedSandbox.get().collect("print('hello, world')")
            #expect(result.verdict.status == .ok)
            #expect(result.verdict.exitCode == 0)
            #expect(result.stdout == "hello, world\n")
            #expect(result.stderr == "")
            #expect(result.verdict.stdoutBytes == 13)
        }

        @Test func readsStdinGivenAllAtOnce() async throws {
            let code = "name = input()\nrest = input()\nprint(f'hi {name}, {rest}')"
            let result = try await SharedSandbox.get().collect(code, stdin: .bytes(Array("ada\nlovelace\n".utf8)))
            #expect(result.stdout == "hi ada, lovelace\n")
            #expect(result.verdict.status == .ok)
        }

        @Test func inputWithoutStdinRaisesEOFError() async throws {
            let result = try await SharedSandbox.get().collect("input()")
            #expect(result.verdict.status == .error)
            #expect(result.stderr.contains("EOFError"))
        }

        @Test func interactiveStdinStreams() async throws {
            let sandbox = try await SharedSandbox.get()
            let run = try sandbox.start(RunRequest(code: "print('name?')\nprint('hello', input())\nprint('age?')\nprint(int(input()) + 1)", stdin: .interactive))
            var output = ""
            var answered = 0
            for await chunk in run.output {
                output += String(decoding: chunk.text?.bytes ?? [], as: UTF8.self)
                if answered == 0 && output.contains("name?") { run.writeStdin(Array("grace\n".utf8)); answered = 1 }
                if answered == 1 && output.contains("age?") { run.writeStdin(Array("85\n".utf8)); run.closeStdin(); answered = 2 }
            }
            #expect(output == "name?\nhello grace\nage?\n86\n")
            #expect(await run.verdict().status == .ok)
        }

        @Test func unicodeRoundTrips() async throws {
            let result = try await SharedSandbox.get().collect("s = input()\nprint(s[::-1], 'naïve ☃ 😀', len(s))", stdin: .bytes(Array("żółw🐢\n".utf8)))
            #expect(result.stdout == "🐢włóż naïve ☃ 😀 5\n")
        }

        @Test func tracebackNamesMainPyAndNothingOfTheService() async throws {
            let result = try await SharedSandbox.get().collect("def f(x):\n    return 1 / x\n\nf(0)\n")
            #expect(result.verdict.status == .error)
            #expect(result.verdict.exitCode == 1)
            let expected = """
                Traceback (most recent call last):
                  File "main.py", line 4, in <module>
                    f(0)
                  File "main.py", line 2, in f
                    return 1 / x
                           ~~^~~
                ZeroDivisionError: division by zero

                """
            #expect(result.stderr == expected)
        }

        @Test func syntaxErrorPointsAtTheLine() async throws {
            let result = try await SharedSandbox.get().collect("x = 1\nprint(x +)\n")
            #expect(result.verdict.status == .error)
            #expect(result.stderr.contains("File \"main.py\", line 2"))
            #expect(result.stderr.contains("SyntaxError"))
            #expect(!result.stderr.contains("<string>"))
        }

        @Test func exitCodesPassThrough() async throws {
            let result = try await SharedSandbox.get().collect("import sys; print('bye'); sys.exit(42)")
            #expect(result.verdict.status == .error)
            #expect(result.verdict.exitCode == 42)
            #expect(result.stdout == "bye\n")
        }

        /// The bootstrap skips interpreter teardown; everything a program can see of its exit must still happen.
        @Test func exitRunsAtexitJoinsThreadsAndFlushes() async throws {
            let code = """
                import atexit, sys, threading, time
                atexit.register(lambda: print("atexit ran"))
                def late():
                    time.sleep(0.2)
                    print("thread finished")
                threading.Thread(target=late).start()
                sys.stdout.write("unterminated")
                """
            let result = try await SharedSandbox.get().collect(code)
            #expect(result.stdout == "unterminatedthread finished\natexit ran\n")
            #expect(result.verdict.status == .ok)

            let message = try await SharedSandbox.get().collect("import sys; sys.exit('bad input')")
            #expect(message.verdict.exitCode == 1)
            #expect(message.stderr == "bad input\n")
            let wrapped = try await SharedSandbox.get().collect("import sys; sys.exit(258)")
            #expect(wrapped.verdict.exitCode == 2)
        }

        /// The interpreter runs without `site`; the bootstrap stands in for what programs notice of it.
        @Test func siteBuiltinsAndDirectoriesArePresent() async throws {
            let sandbox = try await SharedSandbox.get()
            let paths = try await sandbox.collect("import sys; print('\\n'.join(sys.path))")
            for directory in sandbox.interpreter.sitePackages {
                #expect(paths.stdout.split(separator: "\n").contains(Substring(directory)), "\(directory) missing from sys.path")
            }
            let quitter = try await sandbox.collect("print(type(help).__name__, 'copyright' in dir(__builtins__))\nexit(7)")
            #expect(quitter.stdout == "_Helper True\n")
            #expect(quitter.verdict.exitCode == 7)
            #expect(try await sandbox.collect("quit()").verdict.status == .ok)
        }

        @Test func mainGuardAndDataclassesWork() async throws {
            let code = """
                from dataclasses import dataclass
                @dataclass
                class Point:
                    x: int
                    y: int
                if __name__ == "__main__":
                    print(Point(1, 2), __file__)
                """
            let result = try await SharedSandbox.get().collect(code)
            #expect(result.stdout == "Point(x=1, y=2) main.py\n")
        }

        @Test func standardLibraryImports() async throws {
            let code = """
                import json, re, math, collections, dataclasses, asyncio, itertools, functools, random, datetime, decimal, fractions, statistics, heapq, bisect, typing, enum, textwrap, string, hashlib, base64, sqlite3
                async def main():
                    await asyncio.sleep(0.01)
                    return json.dumps({"pi": round(math.pi, 3), "m": re.findall(r"\\d+", "a1b22"), "c": collections.Counter("aab")["a"]})
                print(asyncio.run(main()))
                """
            let result = try await SharedSandbox.get().collect(code)
            #expect(result.stderr == "")
            #expect(result.stdout == "{\"pi\": 3.142, \"m\": [\"1\", \"22\"], \"c\": 2}\n")
        }

        @Test func threadsWork() async throws {
            let code = """
                import threading
                results = []
                lock = threading.Lock()
                def work(i):
                    with lock:
                        results.append(i * i)
                threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
                for t in threads: t.start()
                for t in threads: t.join()
                print(sorted(results))
                """
            let result = try await SharedSandbox.get().collect(code)
            #expect(result.stdout == "[0, 1, 4, 9, 16, 25, 36, 49]\n")
        }

        @Test func filesInTheWorkingDirectory() async throws {
            let code = """
                import os, helper
                with open("notes/out.txt", "w") as f: f.write("written")
                print(open("notes/out.txt").read(), open("data.txt").read().strip(), helper.greet(), os.getcwd(), sorted(os.listdir(".")))
                """
            let files = ["data.txt": "from the request\n", "helper.py": "def greet():\n    return 'hi from helper'\n", "notes/readme.md": "x"]
            let result = try await SharedSandbox.get().collect(code, files: files)
            #expect(result.stderr == "")
            #expect(result.stdout == "written from the request hi from helper /tmp ['data.txt', 'helper.py', 'main.py', 'notes']\n")
        }

        @Test func stdoutAndStderrStayDistinct() async throws {
            let result = try await SharedSandbox.get().collect("import sys\nprint('out')\nprint('err', file=sys.stderr)\nprint('out2')")
            #expect(result.stdout == "out\nout2\n")
            #expect(result.stderr == "err\n")
        }

        @Test func subprocessesRun() async throws {
            let result = try await SharedSandbox.get().collect("import subprocess\nprint(subprocess.run(['echo', 'child'], capture_output=True, text=True).stdout, end='')")
            #expect(result.stdout == "child\n")
            #expect(result.verdict.status == .ok)
        }

        /// multiprocessing's pools, queues and shared memory need POSIX
        /// semaphores and shared memory, which live in /dev/shm: each run
        /// has its own, empty at the start. Every way a run starts.
        @Test(arguments: ServiceMode.standard)
        func multiprocessingPoolsAndSharedMemoryWork(mode: ServiceMode) async throws {
            let code = """
                import multiprocessing, os
                from concurrent.futures import ProcessPoolExecutor
                from multiprocessing import shared_memory
                def square(x):
                    return x * x
                if __name__ == '__main__':
                    print(os.listdir('/dev/shm'))
                    with multiprocessing.Pool(2) as pool:
                        print(pool.map(square, range(5)))
                    with ProcessPoolExecutor(2) as executor:
                        print(list(executor.map(square, range(5))))
                    queue = multiprocessing.Queue()
                    child = multiprocessing.Process(target=queue.put, args=('queued',))
                    child.start(); print(queue.get()); child.join()
                    block = shared_memory.SharedMemory(create=True, size=1 << 20)
                    block.buf[:5] = b'hello'
                    seen = shared_memory.SharedMemory(block.name)
                    print(bytes(seen.buf[:5]).decode())
                    seen.close(); block.close(); block.unlink()
                    print(os.listdir('/dev/shm'))
                """
            let result = mode.inSession
                ? try await MaliciousCode.collectInSession(code, files: [:], sandbox: mode.sandbox())
                : try await mode.sandbox().collect(code, limits: MaliciousFixture.limits(preloaded: mode.preloaded))
            #expect(result.verdict.status == .ok, "\(mode): \(result.verdict) \(result.stderr)")
            #expect(result.stdout == "[]\n[0, 1, 4, 9, 16]\n[0, 1, 4, 9, 16]\nqueued\nhello\n[]\n", "\(mode): \(result.stderr)")
            #expect(await HostProcesses.leftovers() == [], "\(mode): a process of the run outlived it")
        }

        @Test func reportsResourceUsage() async throws {
            // 8 MiB of the run's own: a forked run shares the rest with its fork server.
            let result = try await SharedSandbox.get().collect("data = bytearray(8 << 20)\nx = sum(i * i for i in range(2_000_000)); print(x > 0)")
            #expect(result.verdict.cpuMs > 0)
            #expect(result.verdict.maxRssKb > 8 << 10)
            if try await SharedSandbox.get().cgroups.isActive {
                #expect((result.verdict.peakMemoryKb ?? 0) > 8 << 10, "\(result.verdict)")
            } else {
                #expect(result.verdict.peakMemoryKb == nil)
            }
            #expect(result.verdict.wallMs >= result.verdict.cpuMs / 4)
        }
    }
}

"""session/fork's helper, session_state.py: a session's names and folder
captured and restored into another `__main__` and folder, what cannot be
copied named, a capture that loops or prints, hostile states; and once each
through the entry a session executes, in processes of their own."""
import base64
import contextlib
import json
import os
import pickle
import subprocess
import sys
import tempfile
import textwrap
import time
import unittest

import bootstrap_parts

PATH = bootstrap_parts.PYTHON / "session_state" / "session_state.py"
SOURCE = PATH.read_text(encoding="utf-8")


def helper():
    namespace = {"__name__": "session_state_under_test"}
    exec(compile(SOURCE, str(PATH), "exec"), namespace)
    return namespace


@contextlib.contextmanager
def as_main(code=""):
    """A fresh module as __main__, as a session's is (its functions'
    globals are sys.modules["__main__"].__dict__), with `code` run in it."""
    real = sys.modules["__main__"]
    main = type(sys)("__main__")
    sys.modules["__main__"] = main
    try:
        exec(textwrap.dedent(code), main.__dict__)
        yield main
    finally:
        sys.modules["__main__"] = real


CELLS = """
    import math
    import threading
    x = 1
    shared = [1, 2]
    other = shared
    def f():
        return g
    class C:
        def m(self):
            return g * 2
    c = C()
    square = lambda n: n * n
    gen = (i for i in range(3))
    lock = threading.Lock()
    log = open(__import__("os").devnull, "w")
"""


class StateTestCase(unittest.TestCase):
    def setUp(self):
        self.state = helper()
        temporary = tempfile.TemporaryDirectory()
        self.addCleanup(temporary.cleanup)
        self.folder = temporary.name
        self.workdir, self.copy = self.make_folder("work"), self.make_folder("copy")

    def make_folder(self, name):
        path = os.path.join(self.folder, name)
        os.mkdir(path)
        return path

    def capture(self, main, max_bytes=1 << 20):
        return self.state["capture"](main.__dict__, self.workdir, max_bytes)

    def restore(self, answer, code=""):
        """The captured state restored into a new __main__ and the copy's folder."""
        data = base64.b64decode(answer["ok"]["state"])
        with as_main(code) as main:
            needed = set()
            reply = self.state["restore"](main.__dict__, self.copy, data, needed)
        return main, reply, needed


class NamesTests(StateTestCase):
    def test_names_functions_classes_and_modules(self):
        with as_main(CELLS) as main:
            answer = self.capture(main)
            main.log.close()
        self.assertEqual(answer["ok"]["serializer"], "dill")
        self.assertEqual(answer["ok"]["notCopied"], [
            {"name": "gen", "reason": "TypeError: cannot pickle 'generator' object"},
            # dill would open it again by name (emptying it, were it a file of the folder).
            {"name": "log", "reason": "TypeError: cannot pickle '_io.TextIOWrapper' object"},
        ])
        self.assertEqual(answer["ok"]["names"], 10)
        copy, reply, needed = self.restore(answer)
        self.assertEqual(reply["ok"]["names"], 10)
        self.assertEqual(reply["ok"]["notCopied"], answer["ok"]["notCopied"])
        self.assertIn("math", needed)
        self.assertEqual(copy.x, 1)
        self.assertIs(copy.other, copy.shared)
        self.assertIs(copy.math, sys.modules["math"])
        self.assertEqual(copy.square(3), 9)
        self.assertNotIn("gen", copy.__dict__)
        self.assertTrue(copy.lock.acquire(blocking=False))  # dill copies a lock: a new one, unlocked
        # Functions and classes are the copy's: their globals are its namespace.
        copy.g = 21
        self.assertIs(copy.f.__globals__, copy.__dict__)
        self.assertEqual((copy.f(), copy.c.m()), (21, 42))
        self.assertIsInstance(copy.c, copy.C)

    def test_with_pickle_when_dill_is_not_there(self):
        saved = sys.modules.get("dill")
        sys.modules["dill"] = None  # import dill raises ImportError
        try:
            with as_main(CELLS) as main:
                answer = self.capture(main)
                main.log.close()
            copy, reply, _ = self.restore(answer)
        finally:
            if saved is None:
                del sys.modules["dill"]
            else:
                sys.modules["dill"] = saved
        self.assertEqual(answer["ok"]["serializer"], "pickle")
        not_copied = {entry["name"]: entry["reason"] for entry in reply["ok"]["notCopied"]}
        # Functions go without dill; a class of the session (and its instance) only with it.
        self.assertEqual(sorted(not_copied), ["C", "c", "gen", "lock", "log"])
        self.assertEqual(not_copied["lock"], "TypeError: cannot pickle '_thread.lock' object")
        self.assertIn("only dill copies it", not_copied["C"])
        self.assertEqual((copy.x, copy.math, copy.square(3)), (1, sys.modules["math"], 9))
        self.assertIs(copy.other, copy.shared)
        copy.g = 5
        self.assertEqual(copy.f(), 5)

    def test_data_functions_and_modules_need_no_dill(self):
        """The usual state goes with pickle: functions by value (closures,
        defaults, attributes, shared objects kept), no dill imported."""
        with as_main("""
            import functools
            import math
            data = {"rows": [1, 2, 3]}
            alias = data
            def counter(start=10, *, step=2):
                "Counts."
                count = [start]
                def advance():
                    count[0] += step
                    return count[0] + offset
                advance.label = "adv"
                return advance
            offset = 100
            tick = counter()
            tick()
            root = functools.partial(math.pow, 2)
            def later():
                return never_set
            def empty_cell():
                if False:
                    inner = 1
                def uses():
                    return inner
                return uses
            hollow = empty_cell()
        """) as main:
            answer = self.capture(main)
        self.assertEqual(answer["ok"]["serializer"], "pickle")
        self.assertEqual(answer["ok"]["notCopied"], [])
        copy, reply, needed = self.restore(answer)
        self.assertEqual(reply["ok"]["notCopied"], [])
        self.assertIs(copy.alias, copy.data)
        self.assertEqual((copy.tick(), copy.tick.label, copy.counter.__doc__), (114, "adv", "Counts."))
        self.assertEqual(copy.counter.__kwdefaults__, {"step": 2})
        self.assertEqual(copy.root(3), 8.0)
        copy.offset = 0
        self.assertEqual(copy.counter(1)(), 3)  # the copy's globals, not the original's
        self.assertIs(copy.tick.__globals__, copy.__dict__)
        self.assertEqual(copy.tick.__qualname__, "counter.<locals>.advance")
        with self.assertRaises(NameError):
            copy.later()
        with self.assertRaises(NameError):  # an empty cell stays empty
            copy.hollow()
        self.assertNotIn("__main__", needed)

    def test_what_pickle_would_name_in_main_goes_with_dill(self):
        """A class, a function only reachable by its __main__ name (a
        cached one) and a closure that holds itself: dill copies them."""
        with as_main("""
            import functools
            @functools.lru_cache
            def cached(n):
                return n * 2
            def looping():
                def again(n):
                    return 0 if n == 0 else again(n - 1) + 1
                return again
            recursive = looping()
            class Point:
                pass
        """) as main:
            answer = self.capture(main)
        self.assertEqual(answer["ok"]["serializer"], "dill")
        copy, reply, _ = self.restore(answer)
        self.assertEqual(reply["ok"]["notCopied"], [])
        self.assertEqual((copy.cached(4), copy.recursive(3)), (8, 3))
        self.assertIsInstance(copy.Point(), copy.Point)

    def test_larger_than_max_bytes(self):
        with as_main("data = b'x' * 1000") as main:
            answer = self.capture(main, max_bytes=500)
        self.assertEqual(answer["error"]["reason"], "tooLarge")
        self.assertEqual(answer["error"]["limit"], 500)
        self.assertEqual(answer["error"]["message"], "the session's state is more than 500 bytes")

    def test_a_state_that_cannot_be_loaded_changes_nothing(self):
        evil = pickle.dumps({"version": 1, "files": [{"path": "x", "type": "file", "data": b"x"}], "names": b"",
                             "serializer": "pickle", "run": os.system})
        for data in [b"not a pickle", pickle.dumps([1]), evil]:
            with as_main("x = 1") as main:
                reply = self.state["restore"](main.__dict__, self.copy, data, set())
                self.assertEqual(reply["error"]["reason"], "failed")
                self.assertEqual(main.x, 1)
            self.assertEqual(os.listdir(self.copy), [])


class ForkTests(StateTestCase):
    def capture_in_fork(self, code):
        with as_main(code) as main:
            started = time.monotonic()
            reply = self.state["capture_in_fork"](main.__dict__, self.workdir, 1 << 20)
        return json.loads(reply.decode("ascii")), time.monotonic() - started

    def test_a_reduce_that_loops_is_stopped(self):
        self.state["CAPTURE_SECONDS"] = 0.5
        answer, seconds = self.capture_in_fork("""
            class Loop:
                def __reduce__(self):
                    while True:
                        pass
            loop = Loop()
        """)
        message = "the capture took longer than 500 ms and was stopped"
        self.assertEqual(answer, {"error": {"reason": "failed", "message": message}})
        self.assertLess(seconds, 2)

    def test_a_fork_that_dies_says_how(self):
        answer, _ = self.capture_in_fork("""
            import os, signal
            class Dies:
                def __reduce__(self):
                    os.kill(os.getpid(), signal.SIGKILL)
            dies = Dies()
        """)
        self.assertEqual(answer["error"]["message"], "the capture ended without an answer (killed by signal 9)")

    def test_what_a_reduce_changes_stays_in_the_fork(self):
        with as_main("""
            class Changes:
                def __reduce__(self):
                    global changed
                    changed = True
                    return (int, ())
            changes = Changes()
        """) as main:
            reply = self.state["capture_in_fork"](main.__dict__, self.workdir, 1 << 20)
            self.assertIn("ok", json.loads(reply))
            self.assertNotIn("changed", main.__dict__)


class FilesTests(StateTestCase):
    def make(self, path, data=b"", mode=0o644):
        full = os.path.join(os.fsencode(self.workdir), os.fsencode(path))
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as file:
            file.write(data)
        os.chmod(full, mode)

    def test_a_tree_with_links_and_odd_names(self):
        self.make("a/b.txt", b"bee", 0o640)
        self.make("a/deep/c.bin", b"\x00\xff")
        self.make(b"caf\xe9", b"odd name")
        os.chmod(os.path.join(self.workdir, "a/deep"), 0o750)
        os.symlink("a/b.txt", os.path.join(self.workdir, "link"))
        os.symlink("/etc", os.path.join(self.workdir, "etc"))
        os.mkfifo(os.path.join(self.workdir, "a/fifo"))
        with as_main() as main:
            answer = self.capture(main)
        self.assertEqual(answer["ok"]["files"], 7)  # files, folders and links
        self.assertEqual(answer["ok"]["notCopied"], [{"name": "file a/fifo", "reason": "not a regular file"}])
        _, reply, _ = self.restore(answer)
        self.assertEqual(reply["ok"]["files"], 7)

        def read(path):
            with open(os.path.join(os.fsencode(self.copy), os.fsencode(path)), "rb") as file:
                return file.read()
        self.assertEqual((read("a/b.txt"), read("a/deep/c.bin"), read(b"caf\xe9")), (b"bee", b"\x00\xff", b"odd name"))
        self.assertEqual(os.stat(os.path.join(self.copy, "a/b.txt")).st_mode & 0o777, 0o640)
        self.assertEqual(os.stat(os.path.join(self.copy, "a/deep")).st_mode & 0o777, 0o750)
        self.assertEqual(os.readlink(os.path.join(self.copy, "link")), "a/b.txt")
        self.assertEqual(os.readlink(os.path.join(self.copy, "etc")), "/etc")
        self.assertFalse(os.path.lexists(os.path.join(self.copy, "a/fifo")))

    def test_files_beyond_max_bytes_stop_the_walk(self):
        self.make("big", b"x" * 1000)
        with as_main() as main:
            self.assertEqual(self.capture(main, max_bytes=500)["error"]["reason"], "tooLarge")

    def test_hostile_paths_in_a_state(self):
        outside = self.make_folder("outside")
        entries = [
            {"path": "../outside/x", "type": "file", "data": b"x"},
            {"path": os.path.join(outside, "y"), "type": "file", "data": b"y"},
            {"path": "a/../b", "type": "file", "data": b"b"},
            {"path": "out", "type": "symlink", "target": outside},
            {"path": "out/z", "type": "file", "data": b"z"},
            {"path": "out/deeper/z", "type": "directory", "mode": 0o755},
            {"path": "ok", "type": "file", "data": b"fine", "mode": 0o600},
        ]
        data = pickle.dumps({"version": 1, "serializer": "pickle", "names": pickle.dumps({}), "modules": [],
                             "files": entries, "notCopied": []})
        with as_main() as main:
            reply = self.state["restore"](main.__dict__, self.copy, data, set())["ok"]
        self.assertEqual(reply["files"], 2)  # the link, and ok
        refused = ["../outside/x", os.path.join(outside, "y"), "a/../b", "out/z", "out/deeper/z"]
        self.assertEqual([entry["name"] for entry in reply["notCopied"]], ["file " + path for path in refused])
        self.assertEqual(os.listdir(outside), [])
        self.assertEqual(sorted(os.listdir(self.copy)), ["ok", "out"])


# What session.py does, in a process of its own: cells run in a fresh
# __main__, the helper executed with the session's names (the request on
# fd 0), then `check` evaluated in __main__ and what the helper left in
# sys.modules, on stderr as JSON.
DRIVER = r"""
import builtins, os, sys
source, workdir, cells, state, check = sys.argv[1:6]
program = compile(open(source, encoding="utf-8").read(), source, "exec")
files = {"state": open(state, "rb").read()} if state else {}
main = type(sys)("__main__")
main.__builtins__ = builtins
sys.modules["__main__"] = main
exec(cells, main.__dict__)
before = set(sys.modules)
exec(program, {"__name__": "pysandbox_state", "__builtins__": builtins, "SESSION_NAMESPACE": main.__dict__,
               "SESSION_WORKDIR": workdir, "SESSION_FILES": files})
left = sorted(set(sys.modules) - before)
print("after the answer")
import json
os.write(2, json.dumps({"check": eval(check, main.__dict__), "left": left}).encode())
"""

LOUD_CELLS = """
import math
class Loud:
    def __init__(self):
        self.value = 7
    def __reduce__(self):
        print("pickled!")
        os.write(1, b"pickled, on fd 1")
        return (Loud, (), self.__dict__)
    def __setstate__(self, state):
        print("restored!")
        sys.stderr.write("on stderr")
        os.write(1, b"restored, on fd 1")
        self.__dict__.update(state)
import os, sys
loud = Loud()
def double():
    return 2 * g
open("kept.txt", "w").write("kept")
"""


class SessionEntryTests(unittest.TestCase):
    def run_helper(self, workdir, request, cells, state="", check="None"):
        result = subprocess.run(
            ["/usr/bin/python3", "-I", "-B", "-c", DRIVER, str(PATH), workdir, cells, state, check], cwd=workdir,
            input=json.dumps(request).encode(), capture_output=True, timeout=30)
        self.assertEqual(result.returncode, 0, result.stderr.decode() + repr(result.stdout))
        answer, _, after = result.stdout.partition(b"after the answer\n")
        self.assertEqual(after, b"")
        return json.loads(answer.decode("ascii")), json.loads(result.stderr)

    def test_capture_then_restore_in_another_process(self):
        with tempfile.TemporaryDirectory() as original, tempfile.TemporaryDirectory() as copy:
            answer, report = self.run_helper(original, {"method": "capture", "maxBytes": 1 << 20}, LOUD_CELLS)
            # The fork's prints went nowhere; the session imported nothing it kept.
            self.assertEqual(report["left"], [])
            self.assertEqual((answer["ok"]["names"], answer["ok"]["files"]), (6, 1))
            state = os.path.join(copy, "..", os.path.basename(copy) + ".state")
            with open(state, "wb") as file:
                file.write(base64.b64decode(answer["ok"]["state"]))
            try:
                check = "(loud.value, double(), open('kept.txt').read(), math.sqrt(4))"
                answer, report = self.run_helper(copy, {"method": "restore"}, "g = 21", state, check)
            finally:
                os.remove(state)
        self.assertEqual(answer, {"ok": {"names": 6, "files": 1, "notCopied": []}})
        self.assertEqual(report["check"], [7, 42, "kept", 2.0])
        # Neither json nor dill nor theirs stays, but what the names need (dill imports math too).
        self.assertEqual(report["left"], ["math"])


if __name__ == "__main__":
    unittest.main()

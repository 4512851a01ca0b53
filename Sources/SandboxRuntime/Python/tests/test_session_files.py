"""The files API's helper, session_files.py: each method in a temporary
folder, the paths a program or a client could make hostile, and once
through the entry a session executes."""
import json
import os
import subprocess
import tempfile
import time
import unittest

import bootstrap_parts

PATH = bootstrap_parts.PYTHON / "session_files" / "session_files.py"
SOURCE = PATH.read_text(encoding="utf-8")


def helper():
    namespace = {"__name__": "session_files_under_test"}
    exec(compile(SOURCE, str(PATH), "exec"), namespace)
    return namespace


class FolderTestCase(unittest.TestCase):
    def setUp(self):
        self.answer = helper()["answer"]
        temporary = tempfile.TemporaryDirectory()
        self.addCleanup(temporary.cleanup)
        self.workdir = os.path.join(temporary.name, "work")
        self.outside = os.path.join(temporary.name, "outside")
        os.mkdir(self.workdir)
        os.mkdir(self.outside)
        with open(os.path.join(self.outside, "secret"), "w") as file:
            file.write("kept")

    def make(self, path, data=b""):
        full = os.path.join(self.workdir, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as file:
            file.write(data)

    def ask(self, method, path, content=None, max_bytes=100, max_entries=100):
        request = {"method": method, "path": path, "maxBytes": max_bytes, "maxEntries": max_entries}
        return self.answer(request, self.workdir, {} if content is None else {"content": content})

    def assertRefused(self, answer, reason):
        self.assertIn("error", answer, answer)
        self.assertEqual(answer["error"]["reason"], reason, answer)


class ListTests(FolderTestCase):
    def test_entries_sorted_with_their_kinds(self):
        self.make("b.txt", b"12345")
        self.make("a/inner.txt")
        os.symlink("b.txt", os.path.join(self.workdir, "link"))
        os.mkfifo(os.path.join(self.workdir, "pipe"))
        answer = self.ask("list", "")["ok"]
        self.assertFalse(answer["truncated"])
        kinds = [(entry["name"], entry["type"]) for entry in answer["entries"]]
        self.assertEqual(kinds, [("a", "directory"), ("b.txt", "file"), ("link", "symlink"), ("pipe", "other")])
        self.assertEqual(answer["entries"][1]["size"], 5)
        self.assertAlmostEqual(answer["entries"][1]["modifiedMs"] / 1000, time.time(), delta=60)
        self.assertEqual([entry["name"] for entry in self.ask("list", "a")["ok"]["entries"]], ["inner.txt"])

    def test_at_most_max_entries(self):
        for name in "cab":
            self.make(name)
        answer = self.ask("list", "", max_entries=2)["ok"]
        self.assertEqual([entry["name"] for entry in answer["entries"]], ["a", "b"])
        self.assertTrue(answer["truncated"])

    def test_a_name_that_is_not_utf8(self):
        with open(os.path.join(os.fsencode(self.workdir), b"caf\xe9.txt"), "wb"):
            pass
        entry = self.ask("list", "")["ok"]["entries"][0]
        self.assertEqual((entry["name"], entry["nameNotUTF8"]), ("caf\\xe9.txt", True))
        json.dumps(entry).encode("ascii")

    def test_no_link_followed(self):
        os.symlink(self.outside, os.path.join(self.workdir, "out"))
        os.symlink("/etc", os.path.join(self.workdir, "etc"))
        os.symlink("loop", os.path.join(self.workdir, "loop"))
        self.make("file")
        self.assertRefused(self.ask("list", "out"), "symlink")
        self.assertRefused(self.ask("list", "etc"), "symlink")
        self.assertRefused(self.ask("list", "loop"), "symlink")
        self.assertRefused(self.ask("list", "out/inner"), "symlink")
        self.assertRefused(self.ask("list", "file"), "notADirectory")
        self.assertRefused(self.ask("list", "missing"), "notFound")


class ReadTests(FolderTestCase):
    def test_text_and_bytes(self):
        self.make("d/t.txt", "héllo".encode())
        self.make("b.bin", b"\xff\x00")
        self.assertEqual(self.ask("read", "d/t.txt"), {"ok": {"size": 6, "text": "héllo"}})
        self.assertEqual(self.ask("read", "b.bin"), {"ok": {"size": 2, "base64": "/wA="}})

    def test_larger_than_max_bytes(self):
        self.make("big", b"x" * 101)
        answer = self.ask("read", "big")
        self.assertRefused(answer, "tooLarge")
        self.assertEqual((answer["error"]["size"], answer["error"]["limit"]), (101, 100))
        self.assertIn("'big'", answer["error"]["message"])

    def test_what_is_not_a_regular_file(self):
        os.mkfifo(os.path.join(self.workdir, "fifo"))
        self.make("d/x")
        started = time.monotonic()
        self.assertRefused(self.ask("read", "fifo"), "notRegularFile")
        self.assertLess(time.monotonic() - started, 1)
        self.assertRefused(self.ask("read", "d"), "isADirectory")
        answer = self.ask("read", "d/missing")
        self.assertRefused(answer, "notFound")
        self.assertEqual(answer["error"]["message"], "'d/missing' does not exist")

    def test_no_link_followed(self):
        os.symlink("/etc", os.path.join(self.workdir, "etc"))
        os.symlink(os.path.join(self.outside, "secret"), os.path.join(self.workdir, "secret"))
        os.symlink("loop", os.path.join(self.workdir, "loop"))
        self.assertRefused(self.ask("read", "etc/passwd"), "symlink")
        self.assertRefused(self.ask("read", "secret"), "symlink")
        self.assertRefused(self.ask("read", "loop"), "symlink")
        self.assertRefused(self.ask("read", "loop/x"), "symlink")

    def test_hostile_paths(self):
        for path in ["../outside/secret", "/etc/passwd", "a//b", "./a", "a/.", "", "a\0b", "\udcff"]:
            self.assertRefused(self.ask("read", path), "badPath")


class WriteTests(FolderTestCase):
    def test_creates_the_folders_and_says_whether_new(self):
        self.assertEqual(self.ask("write", "a/b/c.txt", b"one"), {"ok": {"size": 3, "created": True}})
        self.assertEqual(self.ask("write", "a/b/c.txt", b"2"), {"ok": {"size": 1, "created": False}})
        with open(os.path.join(self.workdir, "a/b/c.txt"), "rb") as file:
            self.assertEqual(file.read(), b"2")
        self.assertEqual(os.stat(os.path.join(self.workdir, "a/b/c.txt")).st_mode & 0o777, 0o644 & ~current_umask())

    def test_what_is_in_the_way(self):
        self.make("file")
        os.mkdir(os.path.join(self.workdir, "folder"))
        os.mkfifo(os.path.join(self.workdir, "fifo"))
        self.assertRefused(self.ask("write", "folder", b"x"), "isADirectory")
        self.assertRefused(self.ask("write", "file/x", b"x"), "notADirectory")
        self.assertRefused(self.ask("write", "fifo", b"x"), "notRegularFile")
        self.assertRefused(self.ask("write", "x"), "failed")  # no content came

    def test_no_link_followed(self):
        os.symlink(self.outside, os.path.join(self.workdir, "out"))
        os.symlink(os.path.join(self.outside, "secret"), os.path.join(self.workdir, "secret"))
        self.assertRefused(self.ask("write", "out/new", b"x"), "symlink")
        self.assertRefused(self.ask("write", "out/deeper/new", b"x"), "symlink")
        self.assertRefused(self.ask("write", "secret", b"x"), "symlink")
        self.assertEqual(os.listdir(self.outside), ["secret"])
        with open(os.path.join(self.outside, "secret")) as file:
            self.assertEqual(file.read(), "kept")

    def test_hostile_paths(self):
        for path in ["../x", "/tmp/x", "a//b", "a/../b", ""]:
            self.assertRefused(self.ask("write", path, b"x"), "badPath")
        self.assertEqual(os.listdir(self.workdir), [])


class RemoveTests(FolderTestCase):
    def test_a_file_a_link_and_a_folder(self):
        self.make("f")
        os.symlink(os.path.join(self.outside, "secret"), os.path.join(self.workdir, "link"))
        self.make("d/e/g")
        os.symlink(self.outside, os.path.join(self.workdir, "d/e/out"))
        self.assertEqual(self.ask("remove", "f"), {"ok": {"removed": "file"}})
        self.assertEqual(self.ask("remove", "link"), {"ok": {"removed": "symlink"}})
        self.assertEqual(self.ask("remove", "d"), {"ok": {"removed": "directory"}})
        self.assertEqual(os.listdir(self.workdir), [])
        self.assertEqual(os.listdir(self.outside), ["secret"])  # links removed, never walked
        self.assertRefused(self.ask("remove", "d"), "notFound")

    def test_no_link_followed_on_the_way(self):
        os.symlink(self.outside, os.path.join(self.workdir, "out"))
        self.assertRefused(self.ask("remove", "out/secret"), "symlink")
        self.assertRefused(self.ask("remove", "../outside/secret"), "badPath")
        self.assertEqual(os.listdir(self.outside), ["secret"])


class AnswerTests(unittest.TestCase):
    def test_what_is_not_understood_is_an_answer(self):
        answer = helper()["answer"]
        self.assertEqual(answer(None, "/", {})["error"]["reason"], "failed")
        self.assertEqual(answer({"method": "chmod", "path": "x"}, "/", {})["error"]["reason"], "failed")
        self.assertEqual(answer({"method": "list", "path": ""}, "/surely/not/here", {})["error"]["reason"], "notFound")


def current_umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


# What session.py does, in a process of its own: the helper executed with
# the session's names, the request on fd 0; then what the helper left in
# sys.modules, on stderr.
DRIVER = r"""
import builtins, os, sys
source, workdir = sys.argv[1], sys.argv[2]
program = compile(open(source, encoding="utf-8").read(), source, "exec")
main = type(sys)("__main__")
before = set(sys.modules)
exec(program, {"__name__": "pysandbox_files", "__builtins__": builtins, "SESSION_NAMESPACE": main.__dict__,
               "SESSION_WORKDIR": workdir, "SESSION_FILES": {"content": b"caf\xc3\xa9"}})
os.write(2, repr(sorted(set(sys.modules) - before)).encode())
"""


class SessionEntryTests(unittest.TestCase):
    def test_one_answer_on_fd_1_and_no_module_left(self):
        with tempfile.TemporaryDirectory() as workdir:
            def ask(request):
                result = subprocess.run(["/usr/bin/python3", "-I", "-B", "-c", DRIVER, str(PATH), workdir], cwd=workdir,
                                        input=json.dumps(request).encode(), capture_output=True, timeout=30, check=True)
                self.assertEqual(result.stderr, b"[]")
                return json.loads(result.stdout.decode("ascii"))
            self.assertEqual(ask({"method": "write", "path": "d/x.txt"}), {"ok": {"size": 5, "created": True}})
            self.assertEqual(ask({"method": "read", "path": "d/x.txt", "maxBytes": 10}),
                             {"ok": {"size": 5, "text": "café"}})
            self.assertEqual(ask({"method": "read", "path": "../x", "maxBytes": 10})["error"]["reason"], "badPath")


if __name__ == "__main__":
    unittest.main()

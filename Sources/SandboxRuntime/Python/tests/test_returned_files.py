"""returned_files.py: its glob matcher and what it sends back of a working directory."""
import base64
import json
import os
import tempfile
import unittest

import bootstrap_parts


class PatternTests(unittest.TestCase):
    def test_glob_as_the_protocol_says(self):
        pattern_regex = bootstrap_parts.load("returned_files.py")["pattern_regex"]
        # ReturnPatternCasesTests (Swift) holds the full table, against this same function.
        cases = [("*.csv", "a.csv", True), ("*.csv", "sub/a.csv", False), ("*.csv", ".hidden.csv", False),
                 (".*", ".bashrc", True), ("**/*.png", "p.png", True), ("**/*.png", "out/deep/p.png", True),
                 ("**/*.png", "out/.cache/p.png", False), ("out/**", "out", False), ("r[!0-9].txt", "r7.txt", False),
                 ("a[b", "a[b", True), ("f(1)+.txt", "f(1)+.txt", True)]
        for pattern, path, matches in cases:
            self.assertEqual(bool(pattern_regex(pattern).match(path)), matches, (pattern, path))


class CollectTests(unittest.TestCase):
    def setUp(self):
        self.parts = bootstrap_parts.load("returned_files.py")
        self.sent = []
        self.parts["_send_frame"] = lambda kind, payload: self.sent.append((kind, json.loads(payload)))
        self.folder = tempfile.TemporaryDirectory()
        self.addCleanup(self.folder.cleanup)
        root = self.folder.name
        os.makedirs(os.path.join(root, "out/deep"))
        for path, content in {"a.csv": b"1\n", "b.csv": b"22\n", "out/deep/p.png": b"png", ".env": b"secret"}.items():
            with open(os.path.join(root, path), "wb") as file:
                file.write(content)
        os.symlink("/etc/passwd", os.path.join(root, "link.csv"))
        os.symlink("/etc", os.path.join(root, "etc"))
        os.mkfifo(os.path.join(root, "fifo.csv"))

    def collect(self, patterns, limit=1 << 20):
        cwd = os.getcwd()
        try:
            self.parts["return_files"](self.folder.name, patterns, limit)
        finally:
            self.assertEqual(os.getcwd(), cwd, "the working directory is restored")
        (kind, frame), = self.sent
        self.assertEqual(kind, b"files")
        files = {item["path"]: base64.b64decode(item["base64"]) for item in frame["files"]}
        return files, [(item["path"], item["reason"]) for item in frame["omitted"]]

    def test_matches_come_back_and_links_and_fifos_do_not(self):
        files, omitted = self.collect(["*.csv", "**/*.png", "*.txt", "etc/*"])
        self.assertEqual(files, {"a.csv": b"1\n", "b.csv": b"22\n", "out/deep/p.png": b"png"})
        self.assertEqual(omitted, [("fifo.csv", "notRegularFile"), ("link.csv", "symlink"), ("*.txt", "noMatch"),
                                   ("etc/*", "noMatch")])

    def test_the_byte_limit_holds(self):
        files, omitted = self.collect(["a.csv", "b.csv"], limit=4)
        self.assertEqual(files, {"a.csv": b"1\n"})
        self.assertEqual(omitted, [("b.csv", "overLimit")])

    def test_a_dot_file_comes_back_only_when_named(self):
        self.assertEqual(self.collect(["*"])[0].keys(), {"a.csv", "b.csv"})
        self.sent.clear()
        self.assertEqual(self.collect([".env"])[0], {".env": b"secret"})


if __name__ == "__main__":
    unittest.main()

"""pip's stand-in (pip/__init__.py): its command line, without the service."""
import contextlib
import importlib.util
import io
import json
import os
import sys
import tempfile
import unittest

import bootstrap_parts


class PipShimTests(unittest.TestCase):
    def setUp(self):
        modules = set(sys.modules)
        self.addCleanup(lambda: [sys.modules.pop(name) for name in set(sys.modules) - modules])
        spec = importlib.util.spec_from_file_location("pysandbox_pip", bootstrap_parts.PYTHON / "pip" / "__init__.py")
        self.pip = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(self.pip)
        saved = os.environ.pop("SANDBOX_PIP_CHANNEL", None)
        if saved is not None:
            self.addCleanup(os.environ.__setitem__, "SANDBOX_PIP_CHANNEL", saved)

    def main(self, *args):
        stdout, stderr = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            status = self.pip.main(list(args))
        return status, stdout.getvalue(), stderr.getvalue()

    def test_install_arguments(self):
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as file:
            file.write("# pinned\nrequests>=2  # http\n\npandas\n")
        self.addCleanup(os.unlink, file.name)
        arguments = self.pip._install_arguments
        self.assertEqual(arguments(["-q", "--upgrade", "numpy", "--timeout", "5", "-r", file.name, "--retries=3"]),
                         ["numpy", "requests>=2", "pandas"])
        for refused in (["--index-url", "x"], ["-e", "."], ["-r"]):
            with self.assertRaises(ValueError):
                arguments(refused)

    def test_install_without_a_channel_says_so(self):
        status, stdout, stderr = self.main("install", "numpy")
        self.assertEqual(status, 1)
        self.assertIn("Installing numpy through the service", stdout)
        self.assertIn("pip install is not available inside this run", stderr)
        self.assertIn("(unavailable)", stderr)

    def test_install_asks_on_the_channel_and_reads_the_answer(self):
        out_read, out_write = os.pipe()
        answer_read, answer_write = os.pipe()
        saved_stdout = os.dup(1)
        os.write(answer_write, json.dumps({"ok": True, "installed": [{"name": "numpy", "version": "2.0"}]}).encode() + b"\n")
        os.environ["SANDBOX_PIP_CHANNEL"] = "%d %d abc" % (os.getpid(), answer_read)
        try:
            os.dup2(out_write, 1)
            status, stdout, _ = self.main("install", "numpy==2.0")
        finally:
            os.dup2(saved_stdout, 1)
            for fd in (saved_stdout, out_write, answer_read, answer_write):
                os.close(fd)
        with os.fdopen(out_read, "rb") as sent:
            frame = sent.read()
        self.assertEqual(status, 0)
        self.assertIn("Successfully installed numpy-2.0", stdout)
        payload = json.dumps({"requirements": ["numpy==2.0"]}).encode()
        self.assertEqual(frame, b"\0pysandbox:abc:packages %d\n" % len(payload) + payload)

    def test_other_commands(self):
        self.assertEqual(self.main("uninstall", "x")[0], 1)
        status, stdout, _ = self.main("help")
        self.assertEqual((status, stdout.startswith("Usage: pip install")), (0, True))
        self.assertEqual(self.main("bogus")[0], 2)
        self.assertIn("PySandbox", self.main("--version")[1])
        status, _, stderr = self.main("show", "surely-not-installed-here")
        self.assertEqual((status, "not found" in stderr), (1, True))

    def test_magic_never_raises(self):
        stderr = io.StringIO()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(stderr):
            self.assertIsNone(self.pip.magic("install --index-url x y"))
        self.assertIn("not available here", stderr.getvalue())

    def test_pips_own_entry_point_is_the_stand_in(self):
        self.assertIs(sys.modules["pip._internal.cli.main"].main, self.pip.main)


if __name__ == "__main__":
    unittest.main()

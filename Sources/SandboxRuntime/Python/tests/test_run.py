"""The run part's functions, called directly: settings, the request, files, pip magics, exit statuses."""
import contextlib
import io
import os
import tempfile
import unittest

import bootstrap_parts


class SettingsTests(unittest.TestCase):
    def test_pairs_of_arguments_become_lists(self):
        parts = bootstrap_parts.load("sandbox_site.py")
        arguments = bootstrap_parts.settings_arguments(
            site_packages=["/usr/lib/python3/dist-packages", "/a b"], package_layer=["/opt/pysandbox/shims"],
            font_cache="/opt/fonts", preload=["numpy"], set_modules=["x", "y"])
        self.assertEqual(parts["read_settings"](arguments), {
            "site-packages": ["/usr/lib/python3/dist-packages", "/a b"], "package-layer": ["/opt/pysandbox/shims"],
            "font-cache": ["/opt/fonts"], "preload": ["numpy"], "set-module": ["x", "y"]})
        self.assertEqual(parts["read_settings"]([]), {
            "site-packages": [], "package-layer": [], "font-cache": [], "preload": [], "set-module": []})

    def test_an_unknown_setting_is_an_error(self):
        parts = bootstrap_parts.load("sandbox_site.py")
        with self.assertRaises(KeyError):
            parts["read_settings"](["bogus", "1"])


class MissingModuleHintTests(unittest.TestCase):
    def hint(self, error):
        parts = bootstrap_parts.load("sandbox_site.py")
        stderr = io.StringIO()
        with contextlib.redirect_stderr(stderr):
            parts["_missing_module_hint"](error)
        return stderr.getvalue()

    def test_names_the_pypi_package(self):
        said = self.hint(ModuleNotFoundError("No module named 'sklearn'", name="sklearn.linear_model"))
        self.assertIn("'sklearn' is not installed here", said)
        self.assertIn("--package scikit-learn", said)
        self.assertIn("--package some-thing", self.hint(ModuleNotFoundError("x", name="Some_Thing")))

    def test_says_nothing_of_the_standard_library_or_other_errors(self):
        self.assertEqual(self.hint(ModuleNotFoundError("x", name="_private")), "")
        self.assertEqual(self.hint(ModuleNotFoundError("x", name="json.bogus")), "")
        self.assertEqual(self.hint(ImportError("x", name="numpy")), "")
        self.assertEqual(self.hint(ValueError("numpy")), "")


class RequestTests(unittest.TestCase):
    def test_parse_request_reads_what_bootstrap_request_writes(self):
        parts = bootstrap_parts.load("sandbox_site.py", "ordered_streams.py", "rich_results.py", "run.py")
        request = bootstrap_parts.request("print(1)", {"b/x.txt": b"\xff\x00", "a.csv": b"1,2\n"}, max_display=77,
                                          max_return=99, return_files=["*.csv", "out/**"])
        saved = os.environ.get("SANDBOX_PIP_CHANNEL")
        try:
            os.environ["SANDBOX_PIP_CHANNEL"] = "stale"
            code, files, returns, kind = parts["parse_request"](request, 3)
            self.assertEqual(kind, "program")
            self.assertNotIn("SANDBOX_PIP_CHANNEL", os.environ)
            self.assertEqual(code, b"print(1)")
            self.assertEqual(files, {"a.csv": b"1,2\n", "b/x.txt": b"\xff\x00"})
            self.assertEqual(returns, (["*.csv", "out/**"], 99))
            self.assertEqual(parts["FRAME_MARKER"], bootstrap_parts.marker())
            self.assertEqual(parts["MAX_DISPLAY_BYTES"], 77)
            parts["parse_request"](bootstrap_parts.request("", pip=True), 4)
            self.assertEqual(os.environ["SANDBOX_PIP_CHANNEL"], "%d 4 0123456789abcdef0123456789abcdef" % os.getpid())
        finally:
            os.environ.pop("SANDBOX_PIP_CHANNEL", None)
            if saved is not None:
                os.environ["SANDBOX_PIP_CHANNEL"] = saved


class FilesTests(unittest.TestCase):
    def test_files_are_placed_and_escapes_refused(self):
        parts = bootstrap_parts.load("run.py")
        with tempfile.TemporaryDirectory() as folder:
            cwd = os.getcwd()
            os.chdir(folder)
            try:
                parts["place_files"]({"a/b/c.txt": b"deep", "top.bin": b"\0\1"})
                with open("a/b/c.txt", "rb") as file:
                    self.assertEqual(file.read(), b"deep")
                self.assertEqual(os.stat("top.bin").st_mode & 0o777, 0o644 & ~_umask())
                for path in ("/etc/x", "../up", "a/../../up"):
                    with self.assertRaises(SystemExit) as refused:
                        parts["place_files"]({path: b"x"})
                    self.assertIn("refused file path", str(refused.exception.code))
            finally:
                os.chdir(cwd)


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


class PipMagicsTests(unittest.TestCase):
    def test_pip_lines_become_calls_and_other_lines_stay(self):
        pip_magics = bootstrap_parts.load("run.py")["pip_magics"]
        code = "%pip install numpy\n  !pip3 list\nx = '%pip'\n%pipe\nprint('pip')"
        self.assertEqual(pip_magics(code).split("\n"), [
            "__import__('pip').magic(' install numpy')", "  __import__('pip').magic(' list')", "x = '%pip'", "%pipe",
            "print('pip')"])


class ExitStatusTests(unittest.TestCase):
    def test_as_the_interpreter_exits(self):
        exit_status = bootstrap_parts.load("run.py")["exit_status"]
        self.assertEqual(exit_status(None), 0)
        self.assertEqual(exit_status(3), 3)
        self.assertEqual(exit_status(256 + 7), 7)
        self.assertEqual(exit_status(-1), 255)
        self.assertEqual(exit_status(1 << 70), 255)
        stderr = io.StringIO()
        with contextlib.redirect_stderr(stderr):
            self.assertEqual(exit_status("bye"), 1)
        self.assertEqual(stderr.getvalue(), "bye\n")


if __name__ == "__main__":
    unittest.main()

"""The other programs: the interpreter probe, and the fork server's warm-up."""
import json
import subprocess
import sys
import unittest

import bootstrap_parts


class InterpreterProbeTests(unittest.TestCase):
    def test_answers_one_line_of_json(self):
        probe = (bootstrap_parts.PYTHON / "interpreter_probe.py").read_text(encoding="utf-8")
        output = subprocess.run([sys.executable, "-I", "-S", "-c", probe, "json", "surely_not_a_module"],
                                capture_output=True, check=True, text=True).stdout
        answer = json.loads(output)
        self.assertEqual(set(answer), {"executable", "version", "prefixes", "sitePackages", "scientificModules",
                                       "standardLibrary"})
        self.assertEqual(answer["scientificModules"], ["json"])
        self.assertEqual(answer["version"], sys.version.split()[0])


class ForkServerTests(unittest.TestCase):
    def test_warm_up_runs_what_a_run_runs_first(self):
        parts = bootstrap_parts.load("sandbox_site.py", "ordered_streams.py", "rich_results.py", "fork_server.py")
        parts["warm_up"]()
        parts["warm_up_plots"]()  # nothing without a preloaded matplotlib


if __name__ == "__main__":
    unittest.main()

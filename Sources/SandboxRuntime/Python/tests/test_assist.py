"""The editor's helper, assist.py: what is completed and inspected, and
is-complete's rules, on namespaces made here (the service's tests drive it
in sandboxes and sessions)."""
import json
import subprocess
import sys
import unittest

import bootstrap_parts

SOURCE = (bootstrap_parts.PYTHON / "assist" / "assist.py").read_text(encoding="utf-8")


def helper():
    namespace = {"__name__": "assist_under_test"}
    exec(compile(SOURCE, "assist.py", "exec"), namespace)
    return namespace


class CompletionTests(unittest.TestCase):
    def setUp(self):
        self.assist = helper()

    def complete(self, code, namespace=None, cursor=None):
        cursor = len(code) if cursor is None else cursor
        return self.assist["complete"](code, cursor, {} if namespace is None else namespace)

    def test_attributes_of_a_dotted_name(self):
        import os.path
        answer = self.complete("os.path.jo", {"os": os})
        self.assertEqual(answer["matches"], ["join"])
        self.assertEqual((answer["cursorStart"], answer["cursorEnd"]), (8, 10))
        self.assertEqual(answer["metadata"]["types"], ["function"])

    def test_names_builtins_and_keywords(self):
        answer = self.complete("wh", {"whale": 1})
        self.assertEqual(answer["matches"], ["whale", "while"])
        self.assertEqual(answer["metadata"]["types"], ["instance", "keyword"])

    def test_private_names_only_when_asked(self):
        class Thing:
            _hidden = 1
            shown = 2
        self.assertEqual(self.complete("t.", {"t": Thing()})["matches"], ["shown"])
        self.assertIn("_hidden", self.complete("t._", {"t": Thing()})["matches"])

    def test_nothing_in_strings_comments_or_after_calls(self):
        for code in ["x = 'os.pa", "# os.pa", "f().ba", "[1].ap", "1.", ""]:
            self.assertEqual(self.complete(code, {"os": __import__("os")})["matches"], [], code)

    def test_the_cursor_not_the_end(self):
        answer = self.complete("import math\nmath.sq(2) + 1", cursor=len("import math\nmath.sq"),
                               namespace={"math": __import__("math")})
        self.assertEqual(answer["matches"], ["sqrt"])

    def test_a_failing_lookup_says_why(self):
        class Broken:
            def __dir__(self):
                raise RuntimeError("no")
        answer = self.complete("b.x", {"b": Broken()})
        self.assertEqual(answer["matches"], [])
        self.assertIn("RuntimeError", answer["metadata"]["error"])

    def test_kinds_do_not_run_properties(self):
        ran = []

        class Lazy:
            @property
            def value(self):
                ran.append(1)
                return 1
        answer = self.complete("lazy.va", {"lazy": Lazy()})
        self.assertEqual(answer["matches"], ["value"])
        self.assertEqual(ran, [])


class NamespaceOfCodeTests(unittest.TestCase):
    def test_imports_and_bound_names_without_running_the_code(self):
        namespace = helper()["namespace_of"]("import os.path as p\nfrom math import sqrt\nx = 1\ndef f(a): pass\nraise SystemExit\nbroken(")
        self.assertEqual(namespace["p"].__name__, "posixpath")
        self.assertIs(namespace["sqrt"], __import__("math").sqrt)
        self.assertEqual((namespace["x"], namespace["f"], namespace["a"]), (None, None, None))

    def test_a_missing_module_is_a_name(self):
        namespace = helper()["namespace_of"]("import surely_not_a_module as s")
        self.assertIn("s", namespace)


class InspectionTests(unittest.TestCase):
    def test_the_called_name_inside_parentheses(self):
        assist = helper()
        self.assertEqual(assist["name_at"]("print(x, ", 9), ["print"])
        self.assertEqual(assist["name_at"]("os.path.join", 3), ["os", "path"])
        self.assertIsNone(assist["name_at"]("x = [1, ", 8))
        answer = assist["inspect_name"]("len(", 4, {}, 0)
        self.assertTrue(answer["found"])
        self.assertIn("Signature: len(obj, /)", answer["data"]["text/plain"])


class IsCompleteTests(unittest.TestCase):
    def test_the_rules(self):
        is_complete = helper()["is_complete"]
        for code, expected in [
            ("x = 1", {"status": "complete"}),
            ("for x in y:", {"status": "incomplete", "indent": "    "}),
            ("if x:\n    y", {"status": "incomplete", "indent": "    "}),
            ("if x:\n    y\n", {"status": "complete"}),
            ("x = [\n  1,", {"status": "incomplete", "indent": "  "}),
            ("x = )", {"status": "invalid"}),
            ("'''open", {"status": "incomplete", "indent": ""}),
        ]:
            self.assertEqual(is_complete(code), expected, code)


class ProgramTests(unittest.TestCase):
    def test_as_a_program_it_answers_one_json_object(self):
        request = {"method": "complete", "code": "import this\nimport math\nmath.fl"}
        result = subprocess.run([sys.executable, "-I", "-c", SOURCE], input=json.dumps(request).encode(),
                                capture_output=True, check=True)
        # What an import prints is not the answer.
        self.assertEqual(json.loads(result.stdout)["matches"], ["floor"])


if __name__ == "__main__":
    unittest.main()

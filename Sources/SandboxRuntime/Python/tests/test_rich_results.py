"""rich_results.py: display()'s MIME bundles and frames, without matplotlib."""
import contextlib
import io
import json
import unittest

import bootstrap_parts


class Rich:
    def _repr_html_(self):
        return "<b>rich</b>"

    def _repr_png_(self):
        return b"\x89PNG"

    def _repr_markdown_(self):
        raise NotImplementedError

    def __repr__(self):
        return "Rich()"


class Broken:
    def _repr_html_(self):
        raise RuntimeError("no")


class Bundled:
    def _repr_mimebundle_(self, include=None, exclude=None):
        return {"text/html": "<i>b</i>", "application/x-unknown": "dropped"}, {"text/html": {"isolated": True}}


class DisplayTests(unittest.TestCase):
    def setUp(self):
        self.parts = bootstrap_parts.load("sandbox_site.py", "ordered_streams.py", "rich_results.py")
        # What parse_request sets for a run.
        self.parts.update(MAX_DISPLAY_BYTES=1000, FRAME_MARKER=bootstrap_parts.marker())
        self.sent = []
        self.parts["_send_frame"] = lambda kind, payload: self.sent.append((kind, payload))

    def displayed(self, *objects, **options):
        self.sent.clear()
        self.parts["display"](*objects, **options)
        return [(kind.decode(), json.loads(payload) if kind == b"display" else payload) for kind, payload in self.sent]

    def test_each_repr_method_gives_its_mime_type(self):
        [(kind, frame)] = self.displayed(Rich())
        self.assertEqual(kind, "display")
        self.assertEqual(frame, {"data": {"text/html": "<b>rich</b>", "image/png": "iVBORw==", "text/plain": "Rich()"}})

    def test_a_failing_method_is_reported_and_skipped(self):
        stderr = io.StringIO()
        with contextlib.redirect_stderr(stderr):
            [(_, frame)] = self.displayed(Broken())
        self.assertIn("Broken._repr_html_ failed", stderr.getvalue())
        self.assertEqual(list(frame["data"]), ["text/plain"])

    def test_mimebundle_and_raw_bundles(self):
        [(_, frame)] = self.displayed(Bundled())
        self.assertEqual(frame["data"]["text/html"], "<i>b</i>")
        self.assertNotIn("application/x-unknown", frame["data"])
        self.assertEqual(frame["metadata"], {"text/html": {"isolated": True}})
        [(_, raw)] = self.displayed({"application/json": {"a": [1]}}, raw=True)
        self.assertEqual(raw["data"], {"application/json": {"a": [1]}, "text/plain": "<display: application/json>"})

    def test_one_past_the_limit_is_announced_by_its_size(self):
        self.assertEqual(self.displayed({"text/plain": "x" * 1001}, raw=True), [("display_too_large", b"1001")])


class FontCacheTests(unittest.TestCase):
    def test_only_the_inline_backend_is_made_here(self):
        imports = bootstrap_parts.load("rich_results.py")["_RichResultImports"]
        self.assertIsNone(imports.find_spec("json"))
        self.assertEqual(imports.find_spec("pysandbox_inline").name, "pysandbox_inline")


if __name__ == "__main__":
    unittest.main()

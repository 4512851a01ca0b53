"""What a notebook gives a program (a part of the bootstrap: see
sandbox_site.py): `display()`, which sends an object's rich
representations (the IPython `_repr_*_` convention) as a frame on stdout,
and matplotlib's `plt.show()` doing the same for each figure. A meta-path
hook makes the inline backend module on demand and, before matplotlib's
first import, links the font list built at service start into its
(writable) config directory, so no run ever scans fonts.
"""
import builtins, os, sys

FRAME_MARKER = None  # set for each run from its request
MAX_DISPLAY_BYTES = None  # likewise

def _send_frame(kind, payload):
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass
    if FRAME_MARKER is None:
        return
    _write_all(1, FRAME_MARKER + kind + b" %d\n" % len(payload) + payload)

_MIME_METHODS = (("image/png", "_repr_png_"), ("image/jpeg", "_repr_jpeg_"), ("image/svg+xml", "_repr_svg_"),
                 ("text/html", "_repr_html_"), ("text/markdown", "_repr_markdown_"), ("application/json", "_repr_json_"))
_MIME_TYPES = {"text/plain"}.union(mime for mime, _ in _MIME_METHODS)

def _figure_png(figure):
    # A figure unchanged since the program saved it as PNG is shown as saved
    # (the inline backend keeps that PNG); any other is drawn as it is, not
    # cropped to its contents (bbox_inches="tight", as notebooks do, draws it
    # twice: twice the time of the plot itself).
    saved = getattr(figure.canvas, "last_png", None)
    if saved is not None and not figure.stale:
        return saved
    import io
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()

def _mime_bundle(value):
    data, metadata = {}, {}
    kind = type(value)
    figures = sys.modules.get("matplotlib.figure")
    if figures is not None and isinstance(value, figures.Figure):
        data["image/png"] = _figure_png(value)
    method = getattr(kind, "_repr_mimebundle_", None)
    if callable(method):
        try:
            bundle = method(value, include=None, exclude=None)
        except Exception as error:
            print(f"display: {kind.__name__}._repr_mimebundle_ failed: {error!r}", file=sys.stderr)
            bundle = None
        if isinstance(bundle, tuple) and len(bundle) == 2:
            bundle, extra = bundle
            metadata.update(extra or {})
        for mime, content in (bundle or {}).items():
            if mime in _MIME_TYPES and content is not None:
                data.setdefault(mime, content)
    for mime, name in _MIME_METHODS:
        method = getattr(kind, name, None)
        if mime in data or not callable(method):
            continue
        try:
            content = method(value)
        except NotImplementedError:
            continue
        except Exception as error:
            print(f"display: {kind.__name__}.{name} failed: {error!r}", file=sys.stderr)
            continue
        if isinstance(content, tuple) and len(content) == 2:
            content, extra = content
            if extra:
                metadata[mime] = extra
        if content is not None:
            data[mime] = content
    data.setdefault("text/plain", repr(value))
    return data, metadata

def _normalized(data):
    import binascii
    bundle = {}
    for mime, content in data.items():
        if mime not in _MIME_TYPES:
            continue
        if mime in ("image/png", "image/jpeg"):
            if isinstance(content, (bytes, bytearray, memoryview)):
                content = binascii.b2a_base64(content, newline=False).decode("ascii")
        elif mime != "application/json" and isinstance(content, (bytes, bytearray)):
            content = bytes(content).decode("utf-8", "replace")
        if mime == "application/json" or isinstance(content, str):
            bundle[mime] = content
    if not isinstance(bundle.get("text/plain"), str):
        bundle["text/plain"] = "<display: " + ", ".join(sorted(bundle)) + ">"
    return bundle

def display(*objects, raw=False, metadata=None):
    """Show each object as a rich result (an image, a table, HTML) where the
    client shows output, as IPython's display() does: from its _repr_png_,
    _repr_jpeg_, _repr_svg_, _repr_html_, _repr_markdown_, _repr_json_ or
    _repr_mimebundle_ methods, and repr() as text. With raw=True each
    object is a MIME bundle already: {"text/html": "<b>hi</b>"}."""
    import json
    for value in objects:
        if raw:
            data, extra = dict(value), {}
        else:
            data, extra = _mime_bundle(value)
        if metadata:
            extra.update(metadata)
        if _too_large_to_display(data):
            return
        frame = {"data": _normalized(data)}
        if extra:
            frame["metadata"] = extra
        try:
            payload = json.dumps(frame, allow_nan=False, default=repr)
        except (TypeError, ValueError):
            frame["data"].pop("application/json", None)
            frame.pop("metadata", None)
            payload = json.dumps(frame, allow_nan=False, default=repr)
        _send_frame(b"display", payload.encode("utf-8"))

def _too_large_to_display(data):
    # A display past the limit ends the run (outputLimit) however it is sent:
    # announced by its size alone, it costs no copies in base64 and JSON (a
    # 50 MB image would take the program 200 MB more to send whole).
    size = sum(len(content) * 4 // 3 if isinstance(content, (bytes, bytearray, memoryview)) else
               len(content) if isinstance(content, str) else 0 for content in data.values())
    if MAX_DISPLAY_BYTES is None or size <= MAX_DISPLAY_BYTES:
        return False
    _send_frame(b"display_too_large", b"%d" % size)
    return True

def _show_figures(*args, **kwargs):
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is None:
        return
    from matplotlib._pylab_helpers import Gcf
    for manager in Gcf.get_all_fig_managers():
        display(manager.canvas.figure)
    pyplot.close("all")

class _RichResultImports:
    font_cache = []  # the font list built at service start, if any (its settings' font-cache)

    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if name == "matplotlib" and cls.font_cache:
            cls.link_font_cache(cls.font_cache.pop())
        elif name == "pysandbox_inline":
            from importlib.machinery import ModuleSpec
            return ModuleSpec(name, cls)
        return None

    @staticmethod
    def link_font_cache(cache):
        config = os.environ.get("MPLCONFIGDIR")
        try:
            os.makedirs(config, exist_ok=True)
            for name in os.listdir(cache):
                os.symlink(os.path.join(cache, name), os.path.join(config, name))
        except (OSError, TypeError):
            pass  # matplotlib then builds its font list itself

    @staticmethod
    def create_module(spec):
        return None

    @staticmethod
    def exec_module(module):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.backend_bases import FigureManagerBase

        class FigureCanvas(FigureCanvasAgg):
            # Agg, keeping the PNG of the figure's last savefig: a program that
            # saves its plot and ends is not drawn a second time for its display.
            last_png = None

            # The options print_figure gives every renderer (dpi, facecolor, ...)
            # are ignored, as Agg's own print_png does: print_figure applies them.
            def print_png(self, target, *, metadata=None, pil_kwargs=None, **ignored):
                import io
                buffer = io.BytesIO()
                super().print_png(buffer, metadata=metadata, pil_kwargs=pil_kwargs)
                self.last_png = buffer.getvalue()
                if isinstance(target, (str, bytes, os.PathLike)):
                    with open(target, "wb") as file:
                        file.write(self.last_png)
                else:
                    target.write(self.last_png)

            def print_figure(self, *args, **kwargs):
                self.last_png = None
                result = super().print_figure(*args, **kwargs)
                if self.last_png is not None:
                    # Saving restores the figure's settings, which marks it
                    # stale; it is as saved until something changes it.
                    self.figure.stale = False
                return result

        module.FigureCanvas = FigureCanvas
        module.FigureManager = FigureManagerBase
        module.show = _show_figures


if __name__ == "__main__":
    _RichResultImports.font_cache = SETTINGS["font-cache"]
    builtins.display = display
    sys.meta_path.insert(0, _RichResultImports)

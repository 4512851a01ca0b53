"""What a real MCP client (the official `mcp` package) sees of run_python.

Each check takes an initialized mcp.ClientSession, calls the tool the way an
agent would, and raises AssertionError with what it got when the tool does
not behave. stdio_client.py and http_client.py run them over their transports.
"""

import base64
import binascii
import contextlib
import json
import re

import anyio

TOOL = "run_python"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# The service's default result budgets (ResultBudget.default): output text, and the whole result.
TEXT_BUDGET = 32 * 1024
RESULT_BUDGET = 512 * 1024
STDERR_LABEL = "[stderr]\n"
OMITTED = re.compile(r"\[… ([\d,]+) characters \(([\d,]+) bytes, ([^)]*)\) of output")


def text_of(result):
    return "\n".join(item.text for item in result.content if item.type == "text")


def describe(result):
    parts = []
    for item in result.content:
        if item.type == "text":
            parts.append(f"text {item.text!r}")
        else:
            parts.append(f"{item.type} {getattr(item, 'mime_type', '?')} ({len(getattr(item, 'data', ''))} chars)")
    return f"is_error={result.is_error}: " + "; ".join(parts)


async def call(session, arguments):
    return await session.call_tool(TOOL, arguments)


def expect(condition, what, result=None):
    if not condition:
        raise AssertionError(what + ("" if result is None else f"\n  got {describe(result)}"))


async def lists_the_tool(session):
    tools = (await session.list_tools()).tools
    # run_python first; session_file_checks.py looks at the session tools after it.
    expect([tool.name for tool in tools] == [TOOL, "list_files", "read_file", "write_file", "reset_session"],
           f"tools/list: {[tool.name for tool in tools]}")
    tool = tools[0]
    schema = tool.input_schema
    expect(schema.get("required") == ["code"], f"input schema: {schema}")
    expect(set(schema["properties"]) == {"code", "stdin", "timeoutMs", "memoryMb", "session", "packages", "files",
                                         "returnFiles", "tests", "resultTextBytes"},
           f"input schema: {schema}")
    properties = schema["properties"]
    expect(properties["files"].get("type") == "object" and properties["returnFiles"].get("items") == {"type": "string"}
           and properties["memoryMb"].get("type") == "integer", f"files, returnFiles, memoryMb: {properties}")
    packages = schema["properties"]["packages"]
    expect(packages.get("type") == "array" and packages.get("items") == {"type": "string"}, f"packages: {packages}")
    for words in ["PyPI", "requirement", "first call", "session"]:
        expect(words in packages.get("description", ""), f"packages' description does not say {words!r}: {packages}")
    for words in ["no network", "/tmp", "numpy", "matplotlib", "plt.show()", "display(", "last expression"]:
        expect(words in tool.description, f"the description does not say {words!r}: {tool.description}")


async def prints(session):
    result = await call(session, {"code": "print(6*7)"})
    expect(result.is_error is not True, "print(6*7) is not an error", result)
    expect(result.content[0].type == "text" and result.content[0].text == "42\n", "stdout comes first", result)
    expect("Status: ok" in text_of(result), "the status says ok", result)


async def both_streams_in_the_order_written(session):
    code = "import sys\nprint('A')\nprint('B', file=sys.stderr)\nprint('C')\nprint('D', file=sys.stderr)\nraise ValueError('E')"
    result = await call(session, {"code": code})
    texts = [item.text for item in result.content if item.type == "text"]
    expect(texts[:3] == ["A\n", STDERR_LABEL + "B\n", "C\n"], "A B C in the order written", result)
    expect(len(texts) > 3 and texts[3].startswith(STDERR_LABEL + "D\nTraceback") and "ValueError: E" in texts[3],
           "D, then the traceback after everything", result)


async def reads_stdin(session):
    result = await call(session, {"code": "print(input()[::-1])", "stdin": "stressed\n"})
    expect("desserts" in text_of(result), "stdin reaches the program", result)


async def plots_as_png(session):
    code = "import matplotlib.pyplot as plt\nprint('before')\nplt.plot([1, 2])\nplt.show()\nprint('after')"
    result = await call(session, {"code": code, "timeoutMs": 30000})
    expect(result.is_error is not True, "a plot is not an error", result)
    kinds = [item.type for item in result.content]
    expect(kinds[:3] == ["text", "image", "text"], "the image sits between the lines printed around it", result)
    image = result.content[1]
    expect(image.mime_type == "image/png", "the plot is a PNG", result)
    try:
        png = base64.b64decode(image.data, validate=True)
    except binascii.Error as error:
        raise AssertionError(f"the image is not base64: {error}")
    expect(png.startswith(PNG_SIGNATURE) and len(png) > 1000, f"the image decodes as PNG ({len(png)} bytes)")


async def shows_other_displays_as_text(session):
    result = await call(session, {"code": "display({'answer': 42})"})
    expect(any(item.type == "text" and "{'answer': 42}" in item.text for item in result.content),
           "a display with no image comes as its text/plain", result)


async def failing_program_is_a_normal_result(session):
    result = await call(session, {"code": "def f():\n    raise ValueError('boom')\nf()"})
    expect(result.is_error is not True, "a traceback is a normal result, not a tool error", result)
    text = text_of(result)
    expect("Traceback" in text and "ValueError: boom" in text, "the traceback is in the result", result)
    expect("Status: error" in text and "code 1" in text, "the status says error and the exit code", result)


async def timeout_is_a_normal_result(session):
    result = await call(session, {"code": "while True: pass", "timeoutMs": 300})
    expect(result.is_error is not True, "a timeout is a normal result", result)
    expect("Status: timeout" in text_of(result), "the status says timeout", result)


async def data_url_like_code_runs_verbatim(session):
    # The SDK's Value decoder would read this string as a data URL.
    result = await call(session, {"code": "data: list = [1, 2]\nprint(sum(data), 'data:,x')"})
    expect(text_of(result).startswith("3 data:,x"), "code that looks like a data URL reaches Python as written", result)


async def bad_input_is_a_tool_error(session):
    for arguments, words in [
        ({}, "code: required"),
        ({"code": 5}, "code: must be a string"),
        ({"code": "print(1)", "session": 3}, "session: must be"),
        ({"code": "print(1)", "timeoutMs": "soon"}, "timeoutMs: must be a positive integer"),
        ({"code": "print(1)", "language": "python"}, "unknown argument 'language'"),
        ({"code": "print(1)", "timeoutMs": 10 ** 9}, "timeoutMs"),
    ]:
        result = await call(session, arguments)
        expect(result.is_error is True, f"{arguments} is a tool error", result)
        expect(words in text_of(result) and "not run" in text_of(result), f"{arguments}: the message says {words!r}", result)


async def server_refusal_is_a_tool_error(session):
    # Past the test servers' maxCodeBytes (64 KiB; MCPTests sets it): refused with -32003.
    result = await call(session, {"code": "#" * 100_000 + "\nprint(1)"})
    expect(result.is_error is True, "a refused run is a tool error", result)
    text = text_of(result)
    expect("refused" in text and "Code too large" in text and "not run" in text, "the message says why", result)


def wire_size(result):
    """Bytes of the result as JSON, about what the transport carries."""
    return len(json.dumps(result.model_dump(mode="json", by_alias=True, exclude_none=True), ensure_ascii=False).encode())


def bounded(result, what, text_budget=TEXT_BUDGET):
    """Checks that `result` is within the budgets, with one line on what was left out. Returns the output's
    texts before that line, the line, and the texts after it (the status line not among them)."""
    expect(result.is_error is not True, f"{what}: not a tool error", result)
    size = wire_size(result)
    expect(size <= RESULT_BUDGET, f"{what}: the result takes {size} bytes, over the budget of {RESULT_BUDGET}", result)
    texts = [item.text if item.type == "text" else None for item in result.content]
    expect(texts[-1] is not None and texts[-1].startswith("Status: "), f"{what}: the status line comes last", result)
    notes = [index for index, text in enumerate(texts) if text is not None and text.startswith("[… ")]
    expect(len(notes) == 1, f"{what}: one line says what was left out", result)
    before, note, after = texts[:notes[0]], texts[notes[0]], texts[notes[0] + 1:-1]
    shown = sum(len(json.dumps(text, ensure_ascii=False).encode()) - 2 for text in before + after if text is not None)
    expect(shown <= text_budget, f"{what}: {shown} bytes of output shown, over {text_budget}", result)
    for words in ["session: true", "/tmp", "print(open('/tmp/out.txt').read()[", "resultTextBytes"]:
        expect(words in note, f"{what}: the omitted line says how to see the rest ({words!r})", result)
    return before, note, after


def left_out(note):
    match = OMITTED.search(note)
    expect(match is not None, f"the omitted line counts characters, bytes and lines: {note}")
    return int(match.group(1).replace(",", "")), int(match.group(2).replace(",", "")), match.group(3)


def output_length(texts):
    return sum(len(text[len(STDERR_LABEL):] if text.startswith(STDERR_LABEL) else text) for text in texts if text is not None)


async def output_past_the_output_limit_is_bounded(session):
    """The service's output limit (1 MiB here) stops the program; the result still fits."""
    result = await call(session, {"code": "print('HEAD' + 'x' * 2_000_000 + 'TAIL')"})
    before, note, after = bounded(result, "2 MB at a 1 MiB output limit")
    expect(before[0].startswith("HEADxxx") and after[-1].endswith("xxx"), "the head and the tail of what was written", result)
    expect("Status: outputLimit" in text_of(result), "the status says outputLimit", result)
    again = await call(session, {"code": "print(6*7)"})
    expect(again.content[0].text == "42\n", "the next call runs", again)


CORE = [lists_the_tool, prints, both_streams_in_the_order_written, reads_stdin, plots_as_png, shows_other_displays_as_text,
        failing_program_is_a_normal_result, timeout_is_a_normal_result, data_url_like_code_runs_verbatim,
        bad_input_is_a_tool_error, server_refusal_is_a_tool_error, output_past_the_output_limit_is_bounded]


# Large output: MCPTests' servers for these allow 32 MiB of output a run.

async def two_megabytes_on_one_line(session):
    result = await call(session, {"code": "print('HEAD' + 'x' * 2_000_000 + 'TAIL')", "timeoutMs": 60000})
    before, note, after = bounded(result, "2 MB on one line")
    expect(before[0].startswith("HEADxxx") and after[-1].endswith("xxxTAIL\n"), "the head and the tail", result)
    characters, size, lines = left_out(note)
    expect(characters + output_length(before + after) == 2_000_009, f"shown and left out add up: {note}", result)
    expect(size == characters and lines == "all within one line", f"the omitted line: {note}", result)
    expect("Status: ok" in text_of(result), "the status says ok", result)
    again = await call(session, {"code": "print(6*7)"})
    expect(again.content[0].text == "42\n", "the session is usable after", again)


TWENTY_MEGABYTES = """
import sys
import matplotlib.pyplot as plt
for i in range(100_000):
    print(f'line {i:06d} ' + 'y' * 88)
plt.plot([1, 2])
plt.show()
for i in range(100_000, 200_000):
    print(f'line {i:06d} ' + 'y' * 88)
print('done', file=sys.stderr)
"""


async def twenty_megabytes_of_lines_with_a_plot_between(session):
    result = await call(session, {"code": TWENTY_MEGABYTES, "timeoutMs": 60000})
    before, note, after = bounded(result, "20 MB of lines")
    expect(before[0].startswith("line 000000 yyy") and before[-1].endswith("y\n"), "the head, ending at a line end", result)
    expect(after[-2].endswith("line 199999 " + "y" * 88 + "\n") and after[-1] == STDERR_LABEL + "done\n",
           "the tail: the last lines, then stderr", result)
    expect(after[1].startswith("line ") and after[0] is None, "the plot made in the part left out follows the line", result)
    expect(result.content[len(before) + 1].type == "image" and "The image made in that part follows." in note,
           "the plot is kept", result)
    characters, _, lines = left_out(note)
    expect(characters + output_length(before + after) == 200_000 * 101 + 5, f"shown and left out add up: {note}", result)
    shown_lines = sum(text.count("\n") for text in before + after if text is not None) - 1  # the label's
    expect(lines == f"{200_001 - shown_lines:,} lines", f"the lines left out: {note}", result)
    again = await call(session, {"code": "print(6*7)"})
    expect(again.content[0].text == "42\n", "the session is usable after", again)


async def a_call_may_ask_for_less_text(session):
    code = "for i in range(100_000): print(i)"
    result = await call(session, {"code": code, "resultTextBytes": 4096})
    before, note, after = bounded(result, "resultTextBytes 4096", text_budget=4096)
    expect(before[0].startswith("0\n1\n") and after[-1].endswith("99999\n"), "the head and the tail", result)
    expect("first and the last 2 KiB" in note, f"the line says how much is shown: {note}", result)
    refused = await call(session, {"code": code, "resultTextBytes": RESULT_BUDGET})
    expect(refused.is_error is True and "resultTextBytes: must be from 1024" in text_of(refused), "past the total: refused", refused)


LARGE = [two_megabytes_on_one_line, twenty_megabytes_of_lines_with_a_plot_between, a_call_may_ask_for_less_text]


# The budgets the service was given: `sandbox mcp --result-text-bytes 4096 --result-bytes 65536`, or sandboxd's
# --mcp-result-text-bytes and --mcp-result-bytes (MCPTests sets them).
SMALL_TEXT_BUDGET = 4096
SMALL_RESULT_BUDGET = 64 * 1024


async def the_service_sets_the_budgets(session):
    tool = (await session.list_tools()).tools[0]
    maximum = tool.input_schema["properties"]["resultTextBytes"].get("maximum")
    expect(maximum == SMALL_RESULT_BUDGET - 8 * 1024, f"resultTextBytes goes up to the total less 8 KiB, not {maximum}")
    expect(f"at most {SMALL_TEXT_BUDGET} bytes of output" in tool.description, f"the description says so: {tool.description}")
    result = await call(session, {"code": "for i in range(100_000): print(i)"})
    _, note, _ = bounded(result, "a 4 KiB text budget", text_budget=SMALL_TEXT_BUDGET)
    expect("first and the last 2 KiB" in note, f"the line says how much is shown: {note}", result)


BUDGETS = [the_service_sets_the_budgets]


async def session_keeps_state(session):
    first = await call(session, {"code": "x = 41", "session": True})
    expect(first.is_error is not True and "Session 'default' started" in text_of(first), "the first call opens the session", first)
    second = await call(session, {"code": "print(x + 1)", "session": True})
    expect(second.content[0].type == "text" and second.content[0].text == "42\n", "x is still there", second)
    value = await call(session, {"code": "x + 1", "session": True})
    expect(value.content[0].type == "text" and value.content[0].text == "42", "the last expression is displayed", value)
    fresh = await call(session, {"code": "print('x' in globals())"})
    expect(fresh.content[0].text == "False\n", "a call without session starts from scratch", fresh)


async def named_sessions_are_apart(session):
    await call(session, {"code": "y = 'a'", "session": "a"})
    await call(session, {"code": "y = 'b'", "session": "b"})
    a = await call(session, {"code": "print(y)", "session": "a"})
    b = await call(session, {"code": "print(y)", "session": "b"})
    expect(a.content[0].text == "a\n" and b.content[0].text == "b\n", f"sessions a and b: {describe(a)} / {describe(b)}")
    default = await call(session, {"code": "print('y' in globals())", "session": True})
    expect(default.content[0].text == "False\n", "the default session is apart from named ones", default)


async def ended_session_is_reported_then_replaced(session):
    await call(session, {"code": "z = 1", "session": "doomed"})
    crash = await call(session, {"code": "import os\nos._exit(3)", "session": "doomed"})
    expect(crash.is_error is not True, "a run that ends its interpreter still has a verdict", crash)
    told = await call(session, {"code": "print(z)", "session": "doomed"})
    expect(told.is_error is True and "has ended" in text_of(told) and "not run" in text_of(told),
           "the next call says the session ended and did not run", told)
    again = await call(session, {"code": "print('z' in globals())", "session": "doomed"})
    expect(again.content[0].text == "False\n" and "is new" in text_of(again) and "gone" in text_of(again),
           "the call after runs in a fresh session and says earlier state is gone", again)


async def session_outlives_the_connections_idle_timeout(session):
    # MCPTests' session servers close idle connections after 1 s; an open session keeps its connection.
    await call(session, {"code": "kept = 'yes'", "session": True})
    await anyio.sleep(3)
    result = await call(session, {"code": "print(kept)", "session": True})
    expect(result.is_error is not True and result.content[0].text == "yes\n", "the session is still there", result)


SESSIONS = [session_keeps_state, named_sessions_are_apart, ended_session_is_reported_then_replaced,
            session_outlives_the_connections_idle_timeout]


async def packages_are_installed_and_imported(session):
    """The service's packages come from the wheels the tests build: tinytop (on tinyleaf), sdistonly (no wheel)."""
    result = await call(session, {"code": "import tinytop\nprint(tinytop.DESCRIPTION)", "packages": ["tinytop"]})
    expect(result.is_error is not True and result.content[0].type == "text" and result.content[0].text == "top on leaf 2.0\n",
           "run_python with packages ['tinytop'] imports it", result)
    pinned = await call(session, {"code": "import tinytop\nprint(tinytop.DESCRIPTION)", "packages": ["tinytop", "tinyleaf<2"]})
    expect(pinned.content[0].text == "top on leaf 1.0\n", "a pinned dependency is the one imported", pinned)
    without = await call(session, {"code": "import tinytop"})
    expect(without.is_error is not True and "No module named 'tinytop'" in text_of(without), "a call without packages has none", without)


async def a_package_that_cannot_be_had_is_a_tool_error(session):
    for package, reason in [("nosuchpackage", "unknownPackage"), ("sdistonly", "noWheel")]:
        result = await call(session, {"code": "print('ran')", "packages": [package]})
        text = text_of(result)
        expect(result.is_error is True and "Packages unavailable" in text and f"reason: {reason}" in text
               and f"requirement: {package}" in text and "not run" in text and "ran\n" not in text,
               f"packages [{package!r}] is a tool error with the reason", result)
    bad = await call(session, {"code": "print('ran')", "packages": ["tinytop @ https://example.com/x.whl"]})
    expect(bad.is_error is True and "reason: badRequirement" in text_of(bad), "a malformed requirement is a tool error", bad)
    typed = await call(session, {"code": "print('ran')", "packages": "tinytop"})
    expect(typed.is_error is True and "packages: must be an array" in text_of(typed), "packages must be an array", typed)


async def a_sessions_packages_are_named_when_it_opens(session):
    first = await call(session, {"code": "import tinytop", "session": "pk", "packages": ["tinytop"]})
    expect(first.is_error is not True and "It imports tinytop" in text_of(first), "the session opens with its packages", first)
    later = await call(session, {"code": "print(tinytop.DESCRIPTION)", "session": "pk"})
    expect(later.content[0].text == "top on leaf 2.0\n", "a later call in the session leaves packages out", later)
    other = await call(session, {"code": "print('ran')", "session": "pk", "packages": ["tinyleaf"]})
    expect(other.is_error is True and "was opened with the packages tinytop" in text_of(other) and "not run" in text_of(other),
           "another set in an open session is a tool error", other)
    refused = await call(session, {"code": "print('ran')", "session": "nope", "packages": ["nosuchpackage"]})
    expect(refused.is_error is True and "open session 'nope'" in text_of(refused) and "reason: unknownPackage" in text_of(refused),
           "a session whose packages cannot be had is not opened", refused)


PACKAGES = [packages_are_installed_and_imported, a_package_that_cannot_be_had_is_a_tool_error,
            a_sessions_packages_are_named_when_it_opens]


# files, returnFiles and memoryMb.

def image_items(result):
    return [item for item in result.content if item.type == "image"]


def decoded_png(item, result):
    expect(item.mime_type == "image/png", "the image is a PNG", result)
    try:
        png = base64.b64decode(item.data, validate=True)
    except binascii.Error as error:
        raise AssertionError(f"the image is not base64: {error}")
    expect(png.startswith(PNG_SIGNATURE), "the image decodes as PNG", result)
    return png


BLOB = bytes(range(256)) * 3


async def files_go_into_the_working_directory(session):
    code = ("import hashlib, os\nprint(os.getcwd())\nprint(open('data/in.csv').read(), end='')\n"
            "print(open('notes.yaml').read())\nprint(hashlib.sha256(open('blob.bin', 'rb').read()).hexdigest())")
    result = await call(session, {"code": code, "files": {
        "data/in.csv": "a,b\n1,2\n", "notes.yaml": "data: [1, 2]", "blob.bin": {"base64": base64.b64encode(BLOB).decode()}}})
    expect(result.is_error is not True, "a run with files is not an error", result)
    text = text_of(result)
    expect(text.startswith("/tmp\na,b\n1,2\ndata: [1, 2]\n"), "text files arrive as sent, in /tmp, folders made", result)
    import hashlib
    expect(hashlib.sha256(BLOB).hexdigest() in text, "a base64 file arrives byte for byte", result)


async def bad_files_are_tool_errors_that_name_them(session):
    for arguments, words in [
        ({"files": {"a.txt": 5}}, "files: 'a.txt': must be a string"),
        ({"files": ["a.txt"]}, "files: must be an object"),
        ({"files": {"a.bin": {"base64": "%%%"}}}, "files: 'a.bin': base64 is not valid base64"),
        ({"files": {"../escape.txt": "x"}}, "files: '../escape.txt'"),
        ({"files": {"/etc/x": "x"}}, "files: '/etc/x'"),
        ({"returnFiles": "*.csv"}, "returnFiles: must be an array"),
        ({"returnFiles": ["../*"]}, "returnFiles: '../*'"),
        ({"memoryMb": "big"}, "memoryMb: must be a positive integer"),
        ({"memoryMb": 8}, "memoryMb: 8 is below the minimum 16"),
        ({"memoryMb": 10 ** 6}, "memoryMb: 1000000 is above the maximum"),
    ]:
        result = await call(session, {"code": "print('ran')", **arguments})
        text = text_of(result)
        expect(result.is_error is True and words in text and "not run" in text and "ran\n" not in text,
               f"{arguments}: a tool error that says {words!r}", result)


PLOT_AND_TABLE = """
import os
import matplotlib.pyplot as plt
os.makedirs("out", exist_ok=True)
with open("out/table.csv", "w") as f:
    f.write("x,y\\n" + "".join(f"{i},{i * i}\\n" for i in range(5)))
plt.plot([1, 3, 2])
plt.savefig("plot.png")
plt.close()
open("model.bin", "wb").write(bytes(range(256)))
print("wrote")
"""


async def returned_text_and_png_come_back(session):
    result = await call(session, {"code": PLOT_AND_TABLE, "timeoutMs": 30000,
                                  "returnFiles": ["out/*.csv", "plot.png", "model.bin", "*.json"]})
    expect(result.is_error is not True, "a run with returnFiles is not an error", result)
    texts = [item.text for item in result.content if item.type == "text"]
    expect(texts[0] == "wrote\n" and texts[-1].startswith("Status: ok"), "output first, the status last", result)
    listing = next((text for text in texts if text.startswith("Returned files (returnFiles): 3 files came back, 1 did not.")), None)
    expect(listing is not None, "a list says how many came back", result)
    for words in ["- out/table.csv (", "text): shown below, whole", "- plot.png (", "PNG image): shown below as an image",
                  "- model.bin (256 bytes, binary data): not shown", "- *.json: did not come back, no file matched"]:
        expect(words in listing, f"the list says {words!r}", result)
    table = "x,y\n0,0\n1,1\n2,4\n3,9\n4,16\n"
    expect(any(text.startswith("[returned file out/table.csv: ") and text.endswith("text]\n" + table) for text in texts),
           "the CSV comes back as its text", result)
    images = image_items(result)
    expect(len(images) == 1, "the PNG comes back as an image", result)
    png = decoded_png(images[0], result)
    expect(len(png) > 1000, f"the plot decodes as a PNG ({len(png)} bytes)", result)
    index = result.content.index(images[0])
    expect(result.content[index - 1].type == "text" and result.content[index - 1].text.startswith("[returned file plot.png: "),
           "a line names the image before it", result)


async def a_large_returned_file_is_bounded(session):
    """5 MB of text and a 1 MB image come back to the tool (within the service's 8 MiB); the result stays bounded."""
    code = ("import os\nwith open('big.txt', 'w') as f:\n    for i in range(100_000): f.write(f'row {i:06d} ' + 'z' * 40 + '\\n')\n"
            "open('huge.png', 'wb').write(b'\\x89PNG\\r\\n\\x1a\\n' + os.urandom(1 << 20))\nprint('ok')")
    result = await call(session, {"code": code, "returnFiles": ["big.txt", "huge.png"], "timeoutMs": 30000})
    expect(result.is_error is not True, "not a tool error", result)
    size = wire_size(result)
    expect(size <= RESULT_BUDGET, f"the result takes {size} bytes, over the budget of {RESULT_BUDGET}", result)
    texts = [item.text for item in result.content if item.type == "text"]
    listing = next((text for text in texts if text.startswith("Returned files (returnFiles): 2 files came back.")), "")
    expect("- big.txt (5,200,000 bytes, text): cut, its first " in listing, "the list says the text file was cut", result)
    expect("- huge.png (1,048,584 bytes, PNG image): not shown, it needs 1,398," in listing and "were left for it" in listing,
           "the image did not fit", result)
    expect("session: true" in listing and "print(open('big.txt').read()[" in listing, "the list says how to read the rest", result)
    big = next((text for text in texts if text.startswith("[returned file big.txt: 5,200,000 bytes, text]\nrow 000000 zzz")), None)
    expect(big is not None and "\n[… cut here: the first " in big and "of 100,000 lines)" in big, "the head of the file, then the cut", result)
    shown = len(json.dumps(big, ensure_ascii=False).encode())
    expect(shown <= TEXT_BUDGET, f"{shown} bytes of the file shown, over the text budget {TEXT_BUDGET}", result)
    expect(not image_items(result), "no image", result)


MEMORY_HOG = "blob = bytearray(100 << 20)\nfor i in range(0, len(blob), 4096): blob[i] = 1\nprint('allocated')"


async def memory_limit_is_honoured(session):
    small = await call(session, {"code": MEMORY_HOG, "memoryMb": 48})
    expect(small.is_error is not True and "Status: memoryLimit" in text_of(small) and "memoryMb" in text_of(small),
           "past memoryMb, the run ends memoryLimit", small)
    default = await call(session, {"code": MEMORY_HOG})
    expect("allocated" in text_of(default) and "Status: ok" in text_of(default), "within the default it runs", default)


async def a_sessions_memory_and_files_are_its_own(session):
    first = await call(session, {"code": "x = 1", "session": "mem", "memoryMb": 48, "files": {"keep.txt": "kept"}})
    expect(first.is_error is not True and "Its memory limit, 48 MiB, covers all its calls together." in text_of(first),
           "the call that opens the session sets its memory", first)
    other = await call(session, {"code": "print('ran')", "session": "mem", "memoryMb": 128})
    expect(other.is_error is True and "memoryMb: session 'mem' was opened with a memory limit of 48 MiB" in text_of(other)
           and "not run" in text_of(other), "another limit for an open session is a tool error", other)
    same = await call(session, {"code": "print(open('keep.txt').read())\nopen('made.txt', 'w').write('made')",
                                "session": "mem", "memoryMb": 48, "returnFiles": ["made.txt"]})
    expect(same.content[0].text == "kept\n", "files stay in the session's /tmp", same)
    expect(any(item.type == "text" and item.text == "[returned file made.txt: 4 bytes, text]\nmade" for item in same.content),
           "a session's run returns files", same)
    hog = await call(session, {"code": "x = 2\n" + MEMORY_HOG, "session": "mem"})
    expect("Status: memoryLimit" in text_of(hog) and "The session was rolled back" in text_of(hog),
           "past the session's memory, memoryLimit, and the session rolled back", hog)
    after = await call(session, {"code": "print(x)", "session": "mem"})
    expect(after.is_error is not True and after.content[0].text == "1\n",
           "the next call finds the session as it was before the call that went past its memory", after)


async def tests_run_the_code_against_each_input(session):
    result = await call(session, {"code": "print(int(input()) * 2)", "tests": [
        {"stdin": "2\n", "expectedStdout": "4", "name": "small"}, {"stdin": "5\n", "expectedStdout": "11"}, {"stdin": "x\n"}]})
    text = text_of(result)
    expect(result.is_error is not True and "test 1 (small): PASS" in text and "test 2: FAIL: stdout differs" in text
           and 'stdout: "10\\n"' in text and "test 3: error" in text and "ValueError" in text,
           "each test is listed, with what a failing one wrote", result)
    expect("Tests: 3, 1 passed, 1 failed (1 error, 2 ok)." in text, "then the summary", result)
    refused = await call(session, {"code": "print(1)", "tests": [{"stdin": "", "compare": "fuzzy"}]})
    expect(refused.is_error is True and "tests[0].compare: 'fuzzy' is not one of" in text_of(refused), "a bad test is named", refused)
    in_session = await call(session, {"code": "print(1)", "session": True, "tests": [{"stdin": ""}]})
    expect(in_session.is_error is True and "not in a session" in text_of(in_session), "tests are not for sessions", in_session)


FILES = [files_go_into_the_working_directory, bad_files_are_tool_errors_that_name_them, returned_text_and_png_come_back,
         a_large_returned_file_is_bounded, memory_limit_is_honoured, a_sessions_memory_and_files_are_its_own,
         tests_run_the_code_against_each_input]


# MCPTests' server for this takes messages of at most 256 KiB.
SMALL_MESSAGE_BYTES = 256 * 1024


async def files_over_the_message_limit_are_a_tool_error(session):
    """Over stdio, sandbox mcp does not send a run its service would close the connection for: its sessions live on."""
    kept = await call(session, {"code": "kept = 'yes'", "session": True})
    expect(kept.is_error is not True, "the session opens", kept)
    result = await call(session, {"code": "print('ran')", "files": {"big.txt": "x" * (300 * 1024)}})
    text = text_of(result)
    expect(result.is_error is True and f"over its limit of {SMALL_MESSAGE_BYTES:,} bytes" in text and "not run" in text,
           "a run over the service's message limit is a tool error that says so", result)
    after = await call(session, {"code": "print(kept)", "session": True})
    expect(after.is_error is not True and after.content[0].text == "yes\n", "the session lives on", after)


TOO_LARGE = [files_over_the_message_limit_are_a_tool_error]


async def run(session, checks):
    await session.initialize()
    for check in checks:
        await check(session)
        print(f"ok {check.__name__}", flush=True)


async def newest_client_finds_the_handshake(server, headers=None):
    """The SDK's high-level Client, as a new agent uses it: it asks for the 2026 protocol
    (server/discover) first and must fall back to the initialize handshake this server speaks.
    `server` is the /mcp URL or the StdioServerParameters of `sandbox mcp`."""
    from mcp.client.client import Client
    from mcp.client.streamable_http import create_mcp_http_client, streamable_http_client

    async with contextlib.AsyncExitStack() as stack:
        if isinstance(server, str):
            http = await stack.enter_async_context(create_mcp_http_client(headers=headers))
            server = streamable_http_client(server, http_client=http)
        client = await stack.enter_async_context(Client(server))
        result = await client.call_tool(TOOL, {"code": "print(6*7)"})
        expect(result.is_error is not True and result.content[0].text == "42\n", "the newest Client runs code", result)
    print("ok newest_client_finds_the_handshake", flush=True)

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
    expect([tool.name for tool in tools] == [TOOL], f"tools/list: {[tool.name for tool in tools]}")
    tool = tools[0]
    schema = tool.input_schema
    expect(schema.get("required") == ["code"], f"input schema: {schema}")
    expect(set(schema["properties"]) == {"code", "stdin", "timeoutMs", "memoryMb", "session", "packages", "files",
                                         "returnFiles", "resultTextBytes"},
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

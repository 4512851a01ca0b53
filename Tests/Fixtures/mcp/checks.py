"""What a real MCP client (the official `mcp` package) sees of run_python.

Each check takes an initialized mcp.ClientSession, calls the tool the way an
agent would, and raises AssertionError with what it got when the tool does
not behave. stdio_client.py and http_client.py run them over their transports.
"""

import base64
import binascii
import contextlib

import anyio

TOOL = "run_python"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


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
    expect(set(schema["properties"]) == {"code", "stdin", "timeoutMs", "session"}, f"input schema: {schema}")
    for words in ["no network", "/tmp", "numpy", "matplotlib", "plt.show()", "display(", "last expression"]:
        expect(words in tool.description, f"the description does not say {words!r}: {tool.description}")


async def prints(session):
    result = await call(session, {"code": "print(6*7)"})
    expect(result.is_error is not True, "print(6*7) is not an error", result)
    expect(result.content[0].type == "text" and result.content[0].text == "42\n", "stdout comes first", result)
    expect("Status: ok" in text_of(result), "the status says ok", result)


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


CORE = [lists_the_tool, prints, reads_stdin, plots_as_png, shows_other_displays_as_text,
        failing_program_is_a_normal_result, timeout_is_a_normal_result, data_url_like_code_runs_verbatim,
        bad_input_is_a_tool_error, server_refusal_is_a_tool_error]


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

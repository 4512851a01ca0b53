"""What a real MCP client sees of list_files, read_file, write_file and
reset_session: a session's files and state, by the names run_python gives
sessions. stdio_client.py and http_client.py run them (scenario
session-files) as they run checks.py's.
"""

import base64
import hashlib

from checks import RESULT_BUDGET, TEXT_BUDGET, TOOL, expect, image_items, text_of, wire_size

SESSION = "files"
# A valid 1x1 PNG (transparent).
DOT_PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")
BLOB = bytes(range(256)) * 3


async def tool(session, name, arguments):
    return await session.call_tool(name, arguments)


async def run(session, code, **arguments):
    return await session.call_tool(TOOL, {"code": code, "session": SESSION, **arguments})


def texts_of(result):
    return [item.text for item in result.content if item.type == "text"]


async def the_tools_are_listed(session):
    tools = {tool.name: tool for tool in (await session.list_tools()).tools}
    expect(list(tools) == [TOOL, "list_files", "read_file", "write_file", "reset_session"], f"tools/list: {list(tools)}")
    for name, required, properties in [
        ("list_files", None, {"path", "session"}),
        ("read_file", ["path"], {"path", "session"}),
        ("write_file", ["path", "content"], {"path", "content", "encoding", "session"}),
        ("reset_session", None, {"session"}),
    ]:
        schema = tools[name].input_schema
        expect(schema.get("required") == required and set(schema["properties"]) == properties,
               f"{name}'s input schema: {schema}")
        expect("session" in tools[name].description, f"{name}'s description: {tools[name].description}")
    expect(tools["write_file"].input_schema["properties"]["encoding"].get("enum") == ["text", "base64"],
           f"write_file's encoding: {tools['write_file'].input_schema}")


async def write_file_then_run_python_reads_it(session):
    written = await tool(session, "write_file", {"path": "data/in.csv", "content": "a,b\n1,2\n", "session": SESSION})
    text = text_of(written)
    expect(written.is_error is not True and "Wrote /tmp/data/in.csv in session 'files': 8 bytes, a new file." in text
           and f"Session '{SESSION}' started" in text, "write_file writes, opening the session", written)
    blob = await tool(session, "write_file", {"path": "/tmp/blob.bin", "content": base64.b64encode(BLOB).decode(),
                                             "encoding": "base64", "session": SESSION})
    expect(blob.is_error is not True and "768 bytes" in text_of(blob), "bytes in base64 are written", blob)
    result = await run(session, "import hashlib\nprint(open('data/in.csv').read(), end='')\n"
                                "print(hashlib.sha256(open('blob.bin', 'rb').read()).hexdigest())")
    expect(result.is_error is not True and text_of(result).startswith("a,b\n1,2\n" + hashlib.sha256(BLOB).hexdigest()),
           "run_python in the session reads both, byte for byte", result)
    expect("started" not in text_of(result), "run_python uses the session write_file opened", result)
    replaced = await tool(session, "write_file", {"path": "data/in.csv", "content": "data: [1, 2]", "session": SESSION})
    expect("replacing the file that was there" in text_of(replaced), "a second write replaces", replaced)
    # Compared in the sandbox: output that starts with "data:" reaches the client mangled (the SDK's Value).
    again = await run(session, "print(open('data/in.csv').read() == 'data: [1, 2]')")
    expect(again.content[0].text == "True\n", "text that looks like a data URL is written as sent", again)
    read = await tool(session, "read_file", {"path": "data/in.csv", "session": SESSION})
    expect(texts_of(read) == ["/tmp/data/in.csv (session 'files'): 12 bytes, 1 line of text, shown whole below.\ndata: [1, 2]"],
           "read_file gives it back as written, after its line", read)


async def run_python_writes_then_read_file_reads(session):
    code = ("import base64, os\nos.makedirs('out', exist_ok=True)\n"
            "open('out/result.txt', 'w').write('héllo\\nwörld\\n')\n"
            f"open('dot.png', 'wb').write(base64.b64decode({base64.b64encode(DOT_PNG).decode()!r}))\n"
            "open('small.bin', 'wb').write(bytes([0, 1, 2, 255]))\nprint('wrote')")
    wrote = await run(session, code)
    expect(wrote.content[0].text == "wrote\n", "the run writes the files", wrote)
    text = await tool(session, "read_file", {"path": "out/result.txt", "session": SESSION})
    texts = texts_of(text)
    expect(text.is_error is not True and len(texts) == 1
           and texts[0] == "/tmp/out/result.txt (session 'files'): 14 bytes, 2 lines of text, shown whole below.\nhéllo\nwörld\n",
           "read_file gives the text as written, after a line that names it", text)
    image = await tool(session, "read_file", {"path": "dot.png", "session": SESSION})
    images = image_items(image)
    expect(image.is_error is not True and len(images) == 1 and images[0].mime_type == "image/png"
           and base64.b64decode(images[0].data) == DOT_PNG and "PNG image" in text_of(image),
           "a PNG comes as an image, byte for byte", image)
    binary = await tool(session, "read_file", {"path": "small.bin", "session": SESSION})
    expect(binary.is_error is not True and "4 bytes, binary data" in text_of(binary) and texts_of(binary)[-1] == "AAEC/w==",
           "a small binary file comes as its size, its type and its base64", binary)


async def list_files_shows_the_folder(session):
    listed = await tool(session, "list_files", {"session": SESSION})
    text = text_of(listed)
    expect(listed.is_error is not True and text.startswith("/tmp in session 'files': "), "the folder is listed", listed)
    lines = text.split("\n")
    for kind, name in [("directory", "data/"), ("directory", "out/"), ("file", "dot.png"), ("file", "blob.bin")]:
        expect(any(line.startswith(kind) and line.endswith("  " + name) for line in lines), f"{kind} {name} is listed", listed)
    expect(any(line.startswith("file") and " 768  blob.bin" in line for line in lines), "sizes in bytes", listed)
    sub = await tool(session, "list_files", {"path": "out", "session": SESSION})
    expect(sub.is_error is not True and "1 entry" in text_of(sub) and text_of(sub).endswith("  result.txt"),
           "a subfolder is listed", sub)


async def hostile_paths_are_refused_clearly(session):
    for path, words in [("../../etc/passwd", "must not contain '..'"), ("/etc/passwd", "must be a relative path"),
                        ("/tmp/../etc/shadow", "must not contain '..'")]:
        for name, arguments in [("read_file", {}), ("write_file", {"content": "x"}), ("list_files", {})]:
            result = await tool(session, name, {"path": path, "session": SESSION, **arguments})
            text = text_of(result)
            expect(result.is_error is True and words in text and "/tmp" in text and "outside" in text,
                   f"{name} {path!r}: a tool error that says why", result)
    made = await run(session, "import os\nos.symlink('/etc/passwd', 'link')\nos.symlink('/etc', 'etc')\nprint('linked')")
    expect(made.content[0].text == "linked\n", "the run makes the links", made)
    for name, arguments in [("read_file", {"path": "link"}), ("read_file", {"path": "etc/passwd"}),
                            ("list_files", {"path": "etc"}), ("write_file", {"path": "link", "content": "x"})]:
        result = await tool(session, name, {**arguments, "session": SESSION})
        expect(result.is_error is True and "symbolic link" in text_of(result) and "root:" not in text_of(result),
               f"{name} {arguments}: a link is never followed", result)
    check = await run(session, "print(open('/etc/passwd').read() == open('link').read())")
    expect(check.content[0].text == "True\n", "the write through the link changed nothing", check)
    missing = await tool(session, "read_file", {"path": "nothing.txt", "session": SESSION})
    expect(missing.is_error is True and "Nothing is at /tmp/nothing.txt" in text_of(missing), "a missing file is said", missing)
    nope = await tool(session, "list_files", {"session": "nope"})
    expect(nope.is_error is True and "There is no open session 'nope'" in text_of(nope) and "'files'" in text_of(nope),
           "a session never opened is said, and not opened", nope)


async def a_file_over_the_budget_is_cut_at_a_line_end(session):
    wrote = await run(session, "with open('big.txt', 'w') as f:\n    for i in range(100_000): f.write(f'row {i:06d} ' + 'z' * 40 + '\\n')")
    expect(wrote.is_error is not True, "the run writes 5 MB", wrote)
    result = await tool(session, "read_file", {"path": "big.txt", "session": SESSION})
    size = wire_size(result)
    expect(result.is_error is not True and size <= RESULT_BUDGET, f"bounded: {size} bytes", result)
    texts = texts_of(result)
    expect(len(texts) == 2, "a line on the file with its head, then the note", result)
    line, _, head = texts[0].partition("\n")
    note = texts[1]
    expect(head.startswith("row 000000 zzz") and head.endswith("\n") and len(head.encode()) <= TEXT_BUDGET,
           "the head ends at a line end, within the text budget", result)
    shown = head.count("\n")
    expect(f"[… cut here: {5_200_000 - len(head.encode()):,} bytes ({100_000 - shown:,} lines)" in note
           and f"readlines()[{shown}:{shown * 2}]" in note, f"the note says what was left out and how to read on: {note}")
    expect("5,200,000 bytes, 100,000 lines of text, cut" in line, "the first line says the file was cut", result)


async def reset_session_starts_it_over(session):
    await run(session, "x = 1")
    reset = await tool(session, "reset_session", {"session": SESSION})
    expect(reset.is_error is not True and text_of(reset).startswith("Session 'files' was closed"), "the session is closed", reset)
    gone = await tool(session, "read_file", {"path": "data/in.csv", "session": SESSION})
    expect(gone.is_error is True and "There is no open session 'files'" in text_of(gone), "its files are gone with it", gone)
    fresh = await run(session, "import os\nprint('x' in globals(), os.path.exists('data/in.csv'))")
    expect(fresh.content[0].text == "False False\n" and "Session 'files' started" in text_of(fresh),
           "the next run_python starts a fresh session", fresh)
    nothing = await tool(session, "reset_session", {"session": "never"})
    expect(nothing.is_error is not True and "There was no open session 'never'" in text_of(nothing),
           "resetting a name with no session says so", nothing)
    default = await session.call_tool(TOOL, {"code": "y = 2", "session": True})
    expect(default.is_error is not True, "the default session opens", default)
    cleared = await tool(session, "reset_session", {})
    expect(text_of(cleared).startswith("Session 'default' was closed"), "reset_session without a name is the default one", cleared)


SESSION_FILES = [the_tools_are_listed, write_file_then_run_python_reads_it, run_python_writes_then_read_file_reads,
                 list_files_shows_the_folder, hostile_paths_are_refused_clearly, a_file_over_the_budget_is_cut_at_a_line_end,
                 reset_session_starts_it_over]


async def a_write_over_the_message_limit_is_a_tool_error(session):
    """Over stdio, sandbox mcp does not send a write its service would close the connection for (MCPTests' server
    for too-large takes messages of at most 256 KiB): the session lives on."""
    kept = await run(session, "kept = 'yes'")
    expect(kept.is_error is not True, "the session opens", kept)
    result = await tool(session, "write_file", {"path": "big.txt", "content": "x" * (300 * 1024), "session": SESSION})
    text = text_of(result)
    expect(result.is_error is True and "over its limit of 262,144 bytes" in text and "not written" in text,
           "a write over the service's message limit is a tool error that says so", result)
    after = await run(session, "print(kept)")
    expect(after.is_error is not True and after.content[0].text == "yes\n", "the session lives on", after)

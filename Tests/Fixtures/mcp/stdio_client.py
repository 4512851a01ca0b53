"""run_python over stdio: the official MCP client starts `sandbox mcp` as
an MCP desktop client would, and runs the checks of checks.py.

    stdio_client.py --sandbox PATH --url ws://127.0.0.1:PORT/v1/ws [--token T] \
        [--scenario core|sessions|large|budgets|packages|files|session-files|too-large|unreachable|unauthorized|reconnects]

Prints one "ok NAME" line per check, then "all checks passed"; exits 1 with
what went wrong otherwise.
"""

import argparse
import sys

import anyio
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

import checks
import session_file_checks


async def unreachable(session):
    result = await checks.call(session, {"code": "print(1)"})
    checks.expect(result.is_error is True, "a run with no service is a tool error", result)
    text = checks.text_of(result)
    checks.expect("cannot be reached" in text and "connection refused" in text, "the message says why", result)
    session_result = await checks.call(session, {"code": "print(1)", "session": True})
    checks.expect(session_result.is_error is True and "cannot be reached" in checks.text_of(session_result),
                  "opening a session with no service is a tool error too", session_result)


async def unauthorized(session):
    result = await checks.call(session, {"code": "print(1)"})
    checks.expect(result.is_error is True and "401" in checks.text_of(result) and "token" in checks.text_of(result),
                  "a service that wants a token it was not given is a tool error saying so", result)


async def reconnects(session):
    """The service closes an idle connection (a test server's idle timeout is short): the next call connects again."""
    first = await checks.call(session, {"code": "print(1)"})
    checks.expect(first.content[0].text == "1\n", "the first call runs", first)
    await anyio.sleep(3)
    second = await checks.call(session, {"code": "print(2)"})
    checks.expect(second.is_error is not True and second.content[0].text == "2\n", "a call after the close runs", second)


SCENARIOS = {"core": checks.CORE, "sessions": checks.SESSIONS, "large": checks.LARGE, "budgets": checks.BUDGETS,
             "packages": checks.PACKAGES, "files": checks.FILES, "session-files": session_file_checks.SESSION_FILES,
             "too-large": checks.TOO_LARGE + [session_file_checks.a_write_over_the_message_limit_is_a_tool_error],
             "unreachable": [unreachable],
             "unauthorized": [unauthorized], "reconnects": [reconnects]}


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sandbox", required=True, help="the sandbox executable")
    parser.add_argument("--url", required=True)
    parser.add_argument("--token")
    parser.add_argument("--scenario", choices=SCENARIOS, default="core")
    options = parser.parse_args()
    # The token the way an MCP client's configuration gives it: in the environment.
    environment = {"SANDBOX_TOKEN": options.token} if options.token else None
    arguments = ["mcp", "--url", options.url, "--log-level", "debug"]
    if options.scenario == "budgets":
        arguments += ["--result-text-bytes", str(checks.SMALL_TEXT_BUDGET), "--result-bytes", str(checks.SMALL_RESULT_BUDGET)]
    server = StdioServerParameters(command=options.sandbox, args=arguments, env=environment)
    async with stdio_client(server) as (read, write):
        async with ClientSession(read, write) as session:
            await checks.run(session, SCENARIOS[options.scenario])
    if options.scenario == "core":
        await checks.newest_client_finds_the_handshake(server)
    print("all checks passed", flush=True)


if __name__ == "__main__":
    try:
        anyio.run(main)
    except AssertionError as failure:
        print(f"FAILED: {failure}", flush=True)
        sys.exit(1)
